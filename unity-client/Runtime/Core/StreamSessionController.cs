using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>Where a stream is in its life.</summary>
    public enum StreamState
    {
        /// <summary>Nothing started yet.</summary>
        Idle,
        /// <summary>start-session in flight.</summary>
        Starting,
        /// <summary>Joining the LiveKit room with a grant.</summary>
        Connecting,
        /// <summary>In the room and publishing.</summary>
        Live,
        /// <summary>The media connection dropped or the app is paused; it will rejoin.</summary>
        Reconnecting,
        /// <summary>Leaving the room and calling end-session.</summary>
        Ending,
        /// <summary>The session ended (here or on the server).</summary>
        Ended,
        /// <summary>Something could not be done; <see cref="StreamSessionController.LastError"/> says what.</summary>
        Failed,
    }

    /// <summary>What a pause (the headset taken off, the system menu) does to a live stream.</summary>
    public enum PauseBehavior
    {
        /// <summary>Leave the room; on resume, rejoin the same session with a fresh grant.</summary>
        Disconnect,
        /// <summary>End the session; a resume does not bring it back.</summary>
        End,
    }

    /// <summary>Settings and collaborators of <see cref="StreamSessionController"/>.</summary>
    public sealed class StreamControllerOptions
    {
        /// <summary>Required.</summary>
        public StreamApiClient Api { get; set; }

        /// <summary>The media side (the LiveKit adapter on a device). Required.</summary>
        public IRoomConnection Room { get; set; }

        /// <summary>Default: <see cref="PauseBehavior.Disconnect"/>.</summary>
        public PauseBehavior PauseBehavior { get; set; } = PauseBehavior.Disconnect;

        /// <summary>
        /// When start-session answers <c>409 session_already_live</c> (the app died mid-stream
        /// and was started again), rejoin that session instead of failing. Default: true.
        /// </summary>
        public bool RejoinExistingSession { get; set; } = true;
    }

    /// <summary>One state change.</summary>
    public sealed class StreamStateChange
    {
        public StreamStateChange(StreamState previous, StreamState current)
        {
            Previous = previous;
            Current = current;
        }

        public StreamState Previous { get; private set; }
        public StreamState Current { get; private set; }
    }

    /// <summary>
    /// The stream's state machine: idle → starting → connecting → live ⇄ reconnecting →
    /// ending → ended, or failed. Driven by the API's answers and the room's connection
    /// events; a pause leaves the room (or ends the session), a resume rejoins with a fresh
    /// grant. What the headset never reports (a crash, a dead battery) is healed on the server
    /// by LiveKit's webhooks and <c>reconcile</c>. Commands run one at a time; events come on
    /// any thread.
    /// </summary>
    public sealed class StreamSessionController
    {
        private readonly StreamControllerOptions _options;
        private readonly SemaphoreSlim _commands = new SemaphoreSlim(1, 1);
        private readonly object _gate = new object();
        private StreamState _state = StreamState.Idle;
        private StreamSession _session;
        private LiveKitGrant _grant;
        private ConnectionQuality _quality = ConnectionQuality.Unknown;
        private Exception _lastError;
        private bool _paused;
        private int _ownDisconnects;

        public StreamSessionController(StreamControllerOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (options.Api == null) throw new ArgumentException("Cannot stream: Api is not set.", nameof(options));
            if (options.Room == null) throw new ArgumentException("Cannot stream: Room is not set.", nameof(options));
            _options = options;
            _options.Room.StateChanged += OnRoomStateChanged;
            _options.Room.QualityChanged += OnRoomQualityChanged;
        }

        /// <summary>Raised after every state change, outside any lock, on any thread.</summary>
        public event Action<StreamStateChange> StateChanged;

        /// <summary>Raised when the connection quality changes, on any thread.</summary>
        public event Action<ConnectionQuality> QualityChanged;

        public StreamState State
        {
            get { lock (_gate) return _state; }
        }

        /// <summary>The session as last returned by the API, or null before a start.</summary>
        public StreamSession Session
        {
            get { lock (_gate) return _session; }
        }

        /// <summary>The grant last used to join (never log its token).</summary>
        public LiveKitGrant Grant
        {
            get { lock (_gate) return _grant; }
        }

        public ConnectionQuality Quality
        {
            get { lock (_gate) return _quality; }
        }

        /// <summary>Why the last command or rejoin failed, or null.</summary>
        public Exception LastError
        {
            get { lock (_gate) return _lastError; }
        }

        /// <summary>Starts a session and joins its room; completes when live. Throws what made it fail.</summary>
        public async Task StartAsync(StartSessionOptions options, CancellationToken cancellationToken)
        {
            await _commands.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var state = State;
                if (state != StreamState.Idle && state != StreamState.Ended && state != StreamState.Failed)
                {
                    throw new InvalidOperationException("Cannot start a stream: one is already " + state + ".");
                }
                lock (_gate)
                {
                    _session = null;
                    _grant = null;
                    _lastError = null;
                    _paused = false;
                }
                MoveTo(StreamState.Starting);
                SessionGrant started;
                try
                {
                    started = await _options.Api.StartSessionAsync(options, cancellationToken).ConfigureAwait(false);
                }
                catch (ApiException error) when (_options.RejoinExistingSession && ExistingSessionId(error) != null)
                {
                    started = await _options.Api.GetLiveKitTokenAsync(ExistingSessionId(error), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception error)
                {
                    Fail(error);
                    throw;
                }
                await JoinAsync(started, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                if (State != StreamState.Failed) Fail(error);
                throw;
            }
            finally
            {
                _commands.Release();
            }
        }

        /// <summary>Leaves the room and ends the session; completes when the server has ended it.</summary>
        public async Task EndAsync(CancellationToken cancellationToken)
        {
            await _commands.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await EndLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _commands.Release();
            }
        }

        /// <summary>
        /// The app lost focus or was paused: leave the room (to rejoin on resume) or end the
        /// session, per <see cref="StreamControllerOptions.PauseBehavior"/>. Best effort: a
        /// failure is kept in <see cref="LastError"/>, not thrown, as the app may be killed
        /// any moment now.
        /// </summary>
        public async Task PauseAsync(CancellationToken cancellationToken)
        {
            await _commands.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var state = State;
                if (state != StreamState.Live && state != StreamState.Connecting && state != StreamState.Reconnecting) return;
                if (_options.PauseBehavior == PauseBehavior.End)
                {
                    await EndLockedAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }
                lock (_gate) _paused = true;
                MoveTo(StreamState.Reconnecting);
                await DisconnectRoomAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                lock (_gate) _lastError = error;
            }
            finally
            {
                _commands.Release();
            }
        }

        /// <summary>The app is back: rejoin a paused stream with a fresh grant. Throws what made it fail.</summary>
        public async Task ResumeAsync(CancellationToken cancellationToken)
        {
            await _commands.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                bool paused;
                lock (_gate) paused = _paused;
                if (!paused) return;
                lock (_gate) _paused = false;
                await RejoinLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _commands.Release();
            }
        }

        private async Task EndLockedAsync(CancellationToken cancellationToken)
        {
            var session = Session;
            var state = State;
            if (session == null || state == StreamState.Ended || state == StreamState.Idle) return;
            MoveTo(StreamState.Ending);
            lock (_gate) _paused = false;
            try
            {
                // Leaving first stops the media at once; a failure to leave must not keep the
                // session open, so it is only remembered.
                await DisconnectRoomAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                lock (_gate) _lastError = error;
            }
            try
            {
                var ended = await _options.Api.EndSessionAsync(session.Id, cancellationToken).ConfigureAwait(false);
                lock (_gate) _session = ended;
                MoveTo(StreamState.Ended);
            }
            catch (Exception error)
            {
                Fail(error);
                throw;
            }
        }

        private async Task JoinAsync(SessionGrant grant, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _session = grant.Session;
                _grant = grant.LiveKit;
            }
            if (grant.Session.IsEnded)
            {
                MoveTo(StreamState.Ended);
                return;
            }
            MoveTo(StreamState.Connecting);
            try
            {
                await _options.Room.ConnectAsync(grant.LiveKit, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                Fail(error);
                throw;
            }
            // The room may have reported Connected already; either way it is live now.
            MoveTo(StreamState.Live);
        }

        private async Task RejoinLockedAsync(CancellationToken cancellationToken)
        {
            var session = Session;
            if (session == null) return;
            MoveTo(StreamState.Reconnecting);
            SessionGrant fresh;
            try
            {
                fresh = await _options.Api.GetLiveKitTokenAsync(session.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiException error) when (error.Code == ContractErrorCodes.SessionEnded)
            {
                // Ended meanwhile on the server (by the streamer elsewhere, the room closing, or reconcile).
                lock (_gate) _lastError = error;
                MoveTo(StreamState.Ended);
                return;
            }
            catch (Exception error)
            {
                Fail(error);
                throw;
            }
            await JoinAsync(fresh, cancellationToken).ConfigureAwait(false);
        }

        private async Task DisconnectRoomAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _ownDisconnects);
            try
            {
                await _options.Room.DisconnectAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _ownDisconnects);
            }
        }

        private void OnRoomStateChanged(RoomConnectionState roomState)
        {
            StreamState state;
            bool paused;
            lock (_gate)
            {
                state = _state;
                paused = _paused;
            }
            switch (roomState)
            {
                case RoomConnectionState.Connected:
                    if (state == StreamState.Reconnecting && !paused) MoveTo(StreamState.Live);
                    break;
                case RoomConnectionState.Reconnecting:
                    if (state == StreamState.Live) MoveTo(StreamState.Reconnecting);
                    break;
                case RoomConnectionState.Disconnected:
                    // A disconnect this controller asked for is expected; any other one while
                    // streaming is a drop: rejoin with a fresh grant, as LiveKit gave up.
                    if (Volatile.Read(ref _ownDisconnects) > 0 || paused) break;
                    if (state == StreamState.Live || state == StreamState.Reconnecting)
                    {
                        MoveTo(StreamState.Reconnecting);
                        Task.Run(RejoinAfterDropAsync);
                    }
                    break;
            }
        }

        private async Task RejoinAfterDropAsync()
        {
            await _commands.WaitAsync().ConfigureAwait(false);
            try
            {
                bool paused;
                lock (_gate) paused = _paused;
                if (State != StreamState.Reconnecting || paused) return;
                await RejoinLockedAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                // Already in LastError and Failed; nobody awaits this task.
                lock (_gate) _lastError = error;
            }
            finally
            {
                _commands.Release();
            }
        }

        private void OnRoomQualityChanged(ConnectionQuality quality)
        {
            lock (_gate)
            {
                if (_quality == quality) return;
                _quality = quality;
            }
            var handler = QualityChanged;
            if (handler != null) handler(quality);
        }

        private void Fail(Exception error)
        {
            lock (_gate) _lastError = error;
            MoveTo(StreamState.Failed);
        }

        private void MoveTo(StreamState next)
        {
            StreamState previous;
            lock (_gate)
            {
                previous = _state;
                if (previous == next) return;
                _state = next;
            }
            var handler = StateChanged;
            if (handler != null) handler(new StreamStateChange(previous, next));
        }

        private static string ExistingSessionId(ApiException error)
        {
            if (error.Code != ContractErrorCodes.SessionAlreadyLive) return null;
            var details = error.Details as IDictionary<string, object>;
            object id;
            if (details == null || !details.TryGetValue("sessionId", out id)) return null;
            return id as string;
        }
    }
}
