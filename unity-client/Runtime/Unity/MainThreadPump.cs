using System;
using System.Collections.Generic;
using UnityEngine;

namespace VrStream.Client.Unity
{
    /// <summary>Runs registered callbacks once a frame on the main thread (upload progress polling).</summary>
    [AddComponentMenu("")]
    public sealed class MainThreadPump : MonoBehaviour
    {
        private readonly List<Action> _callbacks = new List<Action>();

        public void Add(Action callback)
        {
            _callbacks.Add(callback);
        }

        public void Remove(Action callback)
        {
            _callbacks.Remove(callback);
        }

        private void Update()
        {
            for (var i = _callbacks.Count - 1; i >= 0; i--) _callbacks[i]();
        }
    }
}
