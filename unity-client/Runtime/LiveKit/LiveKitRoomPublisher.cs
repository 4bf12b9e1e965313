using System;
using System.Collections;
using System.Threading;
using System.Threading.Tasks;
using LiveKit;
using LiveKit.Proto;
using UnityEngine;
using VrStream.Client.Unity;
using ClientQuality = VrStream.Client.ConnectionQuality;
using LiveKitQuality = LiveKit.Proto.ConnectionQuality;

namespace VrStream.Client.LiveKit
{
    /// <summary>
    /// The media side on a headset, over the LiveKit Unity SDK: joins the room with the grant,
    /// publishes a spectator camera's RenderTexture as H.264 at the device's
    /// <see cref="VideoProfile"/> (1080p30 where it holds, else 720p30) and the microphone
    /// (after asking for RECORD_AUDIO), and turns LiveKit's connection and quality events into
    /// the core's. Give it a camera of its own: never an XR eye camera, whose stereo output
    /// is not what viewers should see and whose target it must not take over.
    /// </summary>
    [DisallowMultipleComponent]
    public sealed class LiveKitRoomPublisher : RoomConnectionSource, IRoomConnection
    {
        [Tooltip("A mono camera placed for spectators (not the XR rig's eye camera).")]
        [SerializeField] private Camera spectatorCamera = null;

        [Tooltip("Publish the microphone as well (asks for RECORD_AUDIO first).")]
        [SerializeField] private bool publishMicrophone = true;

        private SynchronizationContext _mainThread;
        private Room _room;
        private RenderTexture _target;
        private TextureVideoSource _videoSource;
        private MicrophoneSource _microphoneSource;
        private GameObject _microphoneObject;

        public event Action<RoomConnectionState> StateChanged;
        public event Action<ClientQuality> QualityChanged;

        public override IRoomConnection Connection
        {
            get { return this; }
        }

        /// <summary>The profile chosen at the last join.</summary>
        public VideoProfile Profile { get; private set; }

        private void Awake()
        {
            _mainThread = SynchronizationContext.Current;
        }

        public Task ConnectAsync(LiveKitGrant grant, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _mainThread.Post(_ => StartCoroutine(Join(grant, done, cancellationToken)), null);
            return done.Task;
        }

        public Task DisconnectAsync(CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _mainThread.Post(_ =>
            {
                try
                {
                    Leave();
                    done.TrySetResult(true);
                }
                catch (Exception error)
                {
                    done.TrySetException(error);
                }
            }, null);
            return done.Task;
        }

        private IEnumerator Join(LiveKitGrant grant, TaskCompletionSource<bool> done, CancellationToken cancellationToken)
        {
            if (spectatorCamera == null || spectatorCamera.stereoTargetEye != StereoTargetEyeMask.None)
            {
                done.TrySetException(new InvalidOperationException("Cannot publish: the spectator camera is missing or renders to an XR eye."));
                yield break;
            }
            Leave();
            var microphoneAllowed = false;
            if (publishMicrophone)
            {
                var permission = new MicrophonePermission();
                yield return permission.Request();
                microphoneAllowed = permission.Granted;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled();
                yield break;
            }

            Profile = VideoProfile.ForDevice(new DeviceCapabilities
            {
                Model = SystemInfo.deviceModel,
                SystemMemoryMb = SystemInfo.systemMemorySize,
                MaxTextureSize = SystemInfo.maxTextureSize,
            });
            _target = new RenderTexture(Profile.Width, Profile.Height, 24, RenderTextureFormat.ARGB32);
            _target.Create();
            spectatorCamera.targetTexture = _target;

            _room = new Room();
            _room.ConnectionStateChanged += OnConnectionStateChanged;
            _room.ConnectionQualityChanged += OnConnectionQualityChanged;
            _room.Disconnected += OnDisconnected;
            var connect = _room.Connect(grant.Url, grant.Token, new RoomOptions { AutoSubscribe = false });
            yield return connect;
            if (connect.IsError)
            {
                Leave();
                done.TrySetException(new InvalidOperationException("Cannot join the LiveKit room " + grant.RoomName + "."));
                yield break;
            }

            _videoSource = new TextureVideoSource(_target);
            var videoTrack = LocalVideoTrack.CreateVideoTrack("spectator", _videoSource, _room);
            var videoOptions = new TrackPublishOptions
            {
                VideoCodec = VideoCodec.H264,
                VideoEncoding = new VideoEncoding { MaxBitrate = (ulong)Profile.MaxBitrate, MaxFramerate = Profile.FrameRate },
                Simulcast = false,
                Source = TrackSource.SourceCamera,
            };
            var publishVideo = _room.LocalParticipant.PublishTrack(videoTrack, videoOptions);
            yield return publishVideo;
            if (publishVideo.IsError)
            {
                Leave();
                done.TrySetException(new InvalidOperationException("Cannot publish the spectator camera."));
                yield break;
            }
            _videoSource.Start();
            StartCoroutine(_videoSource.Update());

            if (microphoneAllowed && Microphone.devices.Length > 0)
            {
                _microphoneObject = new GameObject("VR Stream microphone");
                _microphoneObject.transform.SetParent(transform, false);
                _microphoneSource = new MicrophoneSource(Microphone.devices[0], _microphoneObject);
                var audioTrack = LocalAudioTrack.CreateAudioTrack("microphone", _microphoneSource, _room);
                var publishAudio = _room.LocalParticipant.PublishTrack(audioTrack, new TrackPublishOptions { Source = TrackSource.SourceMicrophone });
                yield return publishAudio;
                // A stream without sound beats no stream: an audio failure is only logged.
                if (publishAudio.IsError) Debug.LogWarning("VR Stream: the microphone could not be published.");
                else _microphoneSource.Start();
            }
            done.TrySetResult(true);
        }

        private void Leave()
        {
            if (_videoSource != null)
            {
                _videoSource.Stop();
                _videoSource.Dispose();
                _videoSource = null;
            }
            if (_microphoneSource != null)
            {
                _microphoneSource.Stop();
                _microphoneSource.Dispose();
                _microphoneSource = null;
            }
            if (_microphoneObject != null)
            {
                Destroy(_microphoneObject);
                _microphoneObject = null;
            }
            if (_room != null)
            {
                var room = _room;
                _room = null;
                room.ConnectionStateChanged -= OnConnectionStateChanged;
                room.ConnectionQualityChanged -= OnConnectionQualityChanged;
                room.Disconnected -= OnDisconnected;
                room.Disconnect();
                room.Dispose();
                Raise(RoomConnectionState.Disconnected);
            }
            if (_target != null)
            {
                if (spectatorCamera != null && spectatorCamera.targetTexture == _target) spectatorCamera.targetTexture = null;
                _target.Release();
                Destroy(_target);
                _target = null;
            }
        }

        private void OnConnectionStateChanged(ConnectionState state)
        {
            switch (state)
            {
                case ConnectionState.ConnConnected:
                    Raise(RoomConnectionState.Connected);
                    break;
                case ConnectionState.ConnReconnecting:
                    Raise(RoomConnectionState.Reconnecting);
                    break;
                case ConnectionState.ConnDisconnected:
                    Raise(RoomConnectionState.Disconnected);
                    break;
            }
        }

        private void OnDisconnected(Room room)
        {
            Raise(RoomConnectionState.Disconnected);
        }

        private void OnConnectionQualityChanged(LiveKitQuality quality, Participant participant)
        {
            if (_room == null || participant == null || participant.Identity != _room.LocalParticipant.Identity) return;
            var handler = QualityChanged;
            if (handler != null) handler(Map(quality));
        }

        private static ClientQuality Map(LiveKitQuality quality)
        {
            switch (quality)
            {
                case LiveKitQuality.QualityExcellent: return ClientQuality.Excellent;
                case LiveKitQuality.QualityGood: return ClientQuality.Good;
                case LiveKitQuality.QualityPoor: return ClientQuality.Poor;
                case LiveKitQuality.QualityLost: return ClientQuality.Lost;
                default: return ClientQuality.Unknown;
            }
        }

        private void Raise(RoomConnectionState state)
        {
            var handler = StateChanged;
            if (handler != null) handler(state);
        }

        private void OnDestroy()
        {
            Leave();
        }
    }
}
