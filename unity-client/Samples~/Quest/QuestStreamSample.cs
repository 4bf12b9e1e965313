using System;
using System.Threading.Tasks;
using UnityEngine;
using UnityEngine.XR;
using VrStream.Client;
using VrStream.Client.Unity;

namespace VrStream.Client.Samples
{
    /// <summary>
    /// Starts and ends a stream with the right controller's primary button (A on Quest) and
    /// shows its state and connection quality on a TextMesh in front of the player. The host
    /// app signs the user in with Supabase and hands the session over in <see cref="SignIn"/>.
    /// </summary>
    public sealed class QuestStreamSample : MonoBehaviour
    {
        [SerializeField] private StreamLifecycle lifecycle = null;
        [SerializeField] private TextMesh status = null;
        [SerializeField] private string title = "Playing in VR";

        private bool _wasPressed;
        private StreamState _state = StreamState.Idle;
        private ConnectionQuality _quality = ConnectionQuality.Unknown;
        private string _error = "";

        /// <summary>Call from the app's sign-in code with the Supabase session it got.</summary>
        public Task SignIn(string accessToken, string refreshToken, DateTimeOffset expiresAt)
        {
            return lifecycle.Auth.SignInAsync(new AuthSession(accessToken, refreshToken, expiresAt), default(System.Threading.CancellationToken));
        }

        private void OnEnable()
        {
            lifecycle.StateChanged += OnStateChanged;
            lifecycle.QualityChanged += OnQualityChanged;
            Show();
        }

        private void OnDisable()
        {
            lifecycle.StateChanged -= OnStateChanged;
            lifecycle.QualityChanged -= OnQualityChanged;
        }

        private void Update()
        {
            bool pressed;
            var hand = InputDevices.GetDeviceAtXRNode(XRNode.RightHand);
            if (!hand.TryGetFeatureValue(CommonUsages.primaryButton, out pressed)) pressed = Input.GetKey(KeyCode.Space);
            if (pressed && !_wasPressed) Toggle();
            _wasPressed = pressed;
        }

        private void Toggle()
        {
            _error = "";
            Task work;
            if (_state == StreamState.Idle || _state == StreamState.Ended || _state == StreamState.Failed)
            {
                work = lifecycle.StartStreamAsync(new StartSessionOptions
                {
                    Title = title,
                    Client = new ClientInfo { Platform = "quest", AppVersion = Application.version, Device = SystemInfo.deviceModel },
                });
            }
            else
            {
                work = lifecycle.EndStreamAsync();
            }
            work.ContinueWith(t =>
            {
                var api = t.Exception.GetBaseException() as ApiException;
                _error = api != null ? api.Code + " (" + api.RequestId + ")" : t.Exception.GetBaseException().GetType().Name;
            }, TaskContinuationOptions.OnlyOnFaulted);
        }

        private void OnStateChanged(StreamStateChange change)
        {
            _state = change.Current;
            Show();
        }

        private void OnQualityChanged(ConnectionQuality quality)
        {
            _quality = quality;
            Show();
        }

        private void Show()
        {
            if (status == null) return;
            var hint = _state == StreamState.Live || _state == StreamState.Reconnecting ? "Press A to end" : "Press A to stream";
            status.text = "Stream: " + _state + "\nConnection: " + _quality + (_error.Length > 0 ? "\nError: " + _error : "") + "\n" + hint;
        }
    }
}
