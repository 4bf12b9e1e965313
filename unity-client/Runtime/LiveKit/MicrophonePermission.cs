using System.Collections;
using UnityEngine;
#if UNITY_ANDROID && !UNITY_EDITOR
using UnityEngine.Android;
#endif

namespace VrStream.Client.LiveKit
{
    /// <summary>Asks for the microphone (RECORD_AUDIO on Android) before anything captures it.</summary>
    internal sealed class MicrophonePermission
    {
        public bool Granted { get; private set; }

        public IEnumerator Request()
        {
#if UNITY_ANDROID && !UNITY_EDITOR
            if (Permission.HasUserAuthorizedPermission(Permission.Microphone))
            {
                Granted = true;
                yield break;
            }
            var answered = false;
            var callbacks = new PermissionCallbacks();
            callbacks.PermissionGranted += _ => { Granted = true; answered = true; };
            callbacks.PermissionDenied += _ => answered = true;
            callbacks.PermissionDeniedAndDontAskAgain += _ => answered = true;
            Permission.RequestUserPermission(Permission.Microphone, callbacks);
            while (!answered) yield return null;
#else
            yield return Application.RequestUserAuthorization(UserAuthorization.Microphone);
            Granted = Application.HasUserAuthorization(UserAuthorization.Microphone);
#endif
        }
    }
}
