using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    /// <summary>
    /// The session state machine against the real stack, with the media side replaced by a
    /// loopback room that records the grants it was given and raises LiveKit's events on demand.
    /// </summary>
    [TestFixture]
    public class StreamSessionControllerTests
    {
        private TestStack _stack;
        private AuthSession _session;

        private sealed class LoopbackRoom : IRoomConnection
        {
            public readonly List<LiveKitGrant> Joins = new List<LiveKitGrant>();
            public int Disconnects;

            public event Action<RoomConnectionState> StateChanged;
            public event Action<ConnectionQuality> QualityChanged;

            public Task ConnectAsync(LiveKitGrant grant, CancellationToken cancellationToken)
            {
                lock (Joins) Joins.Add(grant);
                Raise(RoomConnectionState.Connected);
                return Task.FromResult(true);
            }

            public Task DisconnectAsync(CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref Disconnects);
                Raise(RoomConnectionState.Disconnected);
                return Task.FromResult(true);
            }

            public int JoinCount
            {
                get { lock (Joins) return Joins.Count; }
            }

            public void Raise(RoomConnectionState state)
            {
                var handler = StateChanged;
                if (handler != null) handler(state);
            }

            public void RaiseQuality(ConnectionQuality quality)
            {
                var handler = QualityChanged;
                if (handler != null) handler(quality);
            }
        }

        [SetUp]
        public void SetUp()
        {
            _stack = TestStack.FromEnvironment();
            _session = _stack.SignIn(_stack.OtherStreamerId);
            _stack.EndLeftovers(_session, _stack.OtherStreamerId);
            _stack.ResetProxy();
        }

        [TearDown]
        public void TearDown()
        {
            if (_stack == null) return;
            _stack.EndLeftovers(_session, _stack.OtherStreamerId);
            _stack.Dispose();
        }

        private StreamSessionController Controller(TestClient client, LoopbackRoom room, List<StreamState> states, PauseBehavior pause = PauseBehavior.Disconnect)
        {
            var controller = new StreamSessionController(new StreamControllerOptions { Api = client.Api, Room = room, PauseBehavior = pause });
            controller.StateChanged += change =>
            {
                lock (states) states.Add(change.Current);
            };
            return controller;
        }

        [Test]
        public void AStreamGoesLiveSurvivesDropsAndPausesAndEnds()
        {
            var client = _stack.ClientFor(_session);
            var room = new LoopbackRoom();
            var states = new List<StreamState>();
            var qualities = new List<ConnectionQuality>();
            var controller = Controller(client, room, states);
            controller.QualityChanged += q =>
            {
                lock (qualities) qualities.Add(q);
            };

            Sync.Run(() => controller.StartAsync(new StartSessionOptions { Title = "State machine" }, CancellationToken.None));
            Assert.AreEqual(StreamState.Live, controller.State);
            CollectionAssert.AreEqual(new[] { StreamState.Starting, StreamState.Connecting, StreamState.Live }, states);
            var first = room.Joins[0];
            Assert.IsTrue(first.CanPublish);
            Assert.AreEqual(controller.Session.RoomName, first.RoomName);

            room.RaiseQuality(ConnectionQuality.Poor);
            room.RaiseQuality(ConnectionQuality.Poor);
            room.RaiseQuality(ConnectionQuality.Excellent);
            CollectionAssert.AreEqual(new[] { ConnectionQuality.Poor, ConnectionQuality.Excellent }, qualities, "changes only");
            Assert.AreEqual(ConnectionQuality.Excellent, controller.Quality);

            room.Raise(RoomConnectionState.Reconnecting);
            Assert.AreEqual(StreamState.Reconnecting, controller.State);
            room.Raise(RoomConnectionState.Connected);
            Assert.AreEqual(StreamState.Live, controller.State);
            Assert.AreEqual(1, room.JoinCount, "LiveKit's own reconnect needs no new grant");

            Sync.Run(() => controller.PauseAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Reconnecting, controller.State);
            Assert.AreEqual(1, room.Disconnects);
            Assert.AreEqual(1, room.JoinCount, "no rejoin while paused");

            _stack.ResetProxy();
            Sync.Run(() => controller.ResumeAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Live, controller.State);
            Assert.AreEqual(2, room.JoinCount);
            Assert.AreEqual(1, _stack.Calls("livekit-token").Count, "a fresh grant for the rejoin");
            Assert.AreEqual(first.RoomName, room.Joins[1].RoomName);

            // LiveKit gave up on its own: the controller rejoins with another fresh grant.
            room.Raise(RoomConnectionState.Disconnected);
            Sync.Until(() => room.JoinCount == 3 && controller.State == StreamState.Live, "the stream rejoined after a drop");
            Assert.AreEqual(2, _stack.Calls("livekit-token").Count);

            Sync.Run(() => controller.EndAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Ended, controller.State);
            Assert.AreEqual("streamer_ended", controller.Session.EndReason);
            Assert.AreEqual(2, room.Disconnects, "left the room on pause and on end");
            var detail = Sync.Run(() => client.Api.GetSessionAsync(controller.Session.Id, CancellationToken.None));
            Assert.AreEqual("ended", detail.Session.Status);
        }

        [Test]
        public void ResumingASessionTheServerEndedEndsTheStream()
        {
            var client = _stack.ClientFor(_session);
            var room = new LoopbackRoom();
            var controller = Controller(client, room, new List<StreamState>());
            Sync.Run(() => controller.StartAsync(null, CancellationToken.None));
            Sync.Run(() => controller.PauseAsync(CancellationToken.None));
            Sync.Run(() => client.Api.EndSessionAsync(controller.Session.Id, CancellationToken.None));

            Sync.Run(() => controller.ResumeAsync(CancellationToken.None));

            Assert.AreEqual(StreamState.Ended, controller.State);
            Assert.AreEqual(1, room.JoinCount, "no join of an ended session");
            Assert.AreEqual("session_ended", ((ApiException)controller.LastError).Code);
        }

        [Test]
        public void PausingWithTheEndBehaviourEndsTheSession()
        {
            var client = _stack.ClientFor(_session);
            var room = new LoopbackRoom();
            var controller = Controller(client, room, new List<StreamState>(), PauseBehavior.End);
            Sync.Run(() => controller.StartAsync(null, CancellationToken.None));
            Sync.Run(() => controller.PauseAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Ended, controller.State);
            Assert.AreEqual("streamer_ended", controller.Session.EndReason);
            Sync.Run(() => controller.ResumeAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Ended, controller.State, "a resume does not bring it back");
        }

        [Test]
        public void AStartAfterACrashRejoinsTheSessionStillOpen()
        {
            var client = _stack.ClientFor(_session);
            // The previous run of the app started a session and died without ending it.
            var orphan = Sync.Run(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            var room = new LoopbackRoom();
            var controller = Controller(client, room, new List<StreamState>());
            Sync.Run(() => controller.StartAsync(null, CancellationToken.None));
            Assert.AreEqual(StreamState.Live, controller.State);
            Assert.AreEqual(orphan.Session.Id, controller.Session.Id);
            Assert.AreEqual(orphan.Session.RoomName, room.Joins[0].RoomName);
            Sync.Run(() => controller.EndAsync(CancellationToken.None));
            Assert.AreEqual(StreamState.Ended, controller.State);
        }

        [Test]
        public void AFailedStartLeavesTheControllerFailedWithTheTypedError()
        {
            var client = _stack.ClientFor(_session);
            var room = new LoopbackRoom();
            var states = new List<StreamState>();
            var controller = Controller(client, room, states);
            var error = Sync.Throws(() => controller.StartAsync(new StartSessionOptions { Title = "" }, CancellationToken.None));
            Assert.AreEqual("invalid_request", error.Code);
            Assert.AreEqual(StreamState.Failed, controller.State);
            Assert.AreSame(error, controller.LastError);
            CollectionAssert.AreEqual(new[] { StreamState.Starting, StreamState.Failed }, states);
            Assert.AreEqual(0, room.JoinCount);
        }
    }
}
