using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;

namespace VrStream.Client.Unity
{
    /// <summary>
    /// Wires the core into a scene: builds the API client (UnityWebRequest), the session store
    /// (Android Keystore on a device, memory in the editor) and the stream controller over the
    /// <see cref="RoomConnectionSource"/> it is given; forwards pause, resume and quit; raises
    /// the controller's events on the main thread. All logic lives in the core.
    /// </summary>
    [DisallowMultipleComponent]
    public sealed class StreamLifecycle : MonoBehaviour
    {
        [Tooltip("The Supabase project URL, such as https://abcd.supabase.co")]
        [SerializeField] private string supabaseUrl = "";

        [Tooltip("The project's publishable (anon) key. Not a secret; never put a service key here.")]
        [SerializeField] private string supabaseApiKey = "";

        [Tooltip("The media side: a LiveKitRoomPublisher on a device.")]
        [SerializeField] private RoomConnectionSource room = null;

        [Tooltip("What taking the headset off or opening the system menu does to a live stream.")]
        [SerializeField] private PauseBehavior pauseBehavior = PauseBehavior.Disconnect;

        private readonly ConcurrentQueue<Action> _mainThreadQueue = new ConcurrentQueue<Action>();
        private readonly CancellationTokenSource _lifetime = new CancellationTokenSource();

        /// <summary>Raised on the main thread after every state change.</summary>
        public event Action<StreamStateChange> StateChanged;

        /// <summary>Raised on the main thread when the connection quality changes.</summary>
        public event Action<ConnectionQuality> QualityChanged;

        public SupabaseSessionManager Auth { get; private set; }
        public StreamApiClient Api { get; private set; }
        public StreamSessionController Controller { get; private set; }

        private void Awake()
        {
            var mainThread = SynchronizationContext.Current;
            if (mainThread == null) throw new InvalidOperationException("StreamLifecycle must wake on Unity's main thread.");
            if (string.IsNullOrEmpty(supabaseUrl) || string.IsNullOrEmpty(supabaseApiKey))
            {
                throw new InvalidOperationException("StreamLifecycle needs the Supabase URL and publishable key.");
            }
            if (room == null) throw new InvalidOperationException("StreamLifecycle needs a RoomConnectionSource (LiveKitRoomPublisher).");
            var pump = gameObject.AddComponent<MainThreadPump>();
            var transport = new UnityWebRequestTransport(mainThread, pump);
            var baseUrl = new Uri(supabaseUrl.TrimEnd('/') + "/");
            Auth = new SupabaseSessionManager(new SupabaseAuthOptions
            {
                SupabaseUrl = baseUrl,
                ApiKey = supabaseApiKey,
                Store = CreateStore(mainThread),
                Transport = transport,
            });
            Api = new StreamApiClient(new StreamApiOptions
            {
                FunctionsUrl = new Uri(baseUrl, "functions/v1/"),
                Auth = Auth,
                Transport = transport,
            });
            Controller = new StreamSessionController(new StreamControllerOptions
            {
                Api = Api,
                Room = room.Connection,
                PauseBehavior = pauseBehavior,
            });
            Controller.StateChanged += change => _mainThreadQueue.Enqueue(() => Raise(StateChanged, change));
            Controller.QualityChanged += quality => _mainThreadQueue.Enqueue(() => Raise(QualityChanged, quality));
        }

        /// <summary>Starts a stream; observe <see cref="StateChanged"/> for its progress.</summary>
        public Task StartStreamAsync(StartSessionOptions options)
        {
            return Controller.StartAsync(options, _lifetime.Token);
        }

        /// <summary>Ends the stream.</summary>
        public Task EndStreamAsync()
        {
            return Controller.EndAsync(_lifetime.Token);
        }

        private static ISessionStore CreateStore(SynchronizationContext mainThread)
        {
#if UNITY_ANDROID && !UNITY_EDITOR
            return new AndroidKeystoreSessionStore("vrstream.session", Application.persistentDataPath + "/vrstream-session.bin", mainThread);
#else
            // The editor and desktop builds keep the session in memory only: no plaintext on disk.
            return new MemorySessionStore();
#endif
        }

        private void Update()
        {
            Action action;
            while (_mainThreadQueue.TryDequeue(out action)) action();
        }

        private void OnApplicationPause(bool paused)
        {
            if (Controller == null) return;
            Observe(paused ? Controller.PauseAsync(_lifetime.Token) : Controller.ResumeAsync(_lifetime.Token), paused ? "pause" : "resume");
        }

        private void OnApplicationQuit()
        {
            // Best effort: the process may die before the request leaves. LiveKit's webhooks
            // and the reconcile job end a session the headset never ended.
            if (Controller != null) Observe(Controller.EndAsync(CancellationToken.None), "quit");
        }

        private void OnDestroy()
        {
            _lifetime.Cancel();
        }

        private static void Observe(Task task, string what)
        {
            task.ContinueWith(t => Debug.LogWarning("VR Stream: " + what + " failed: " + t.Exception.GetBaseException().Message), TaskContinuationOptions.OnlyOnFaulted);
        }

        private static void Raise<T>(Action<T> handler, T value)
        {
            if (handler != null) handler(value);
        }
    }
}
