using System;
using System.Linq;
using System.Text;
using System.Threading;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    /// <summary>The API client against the real local stack, through the fault proxy.</summary>
    [TestFixture]
    public class StreamApiClientTests
    {
        private TestStack _stack;
        private AuthSession _session;

        [SetUp]
        public void SetUp()
        {
            _stack = TestStack.FromEnvironment();
            _session = _stack.SignIn(_stack.StreamerId);
            _stack.ResetProxy();
            _stack.EndLeftovers(_session, _stack.StreamerId);
            _stack.ResetProxy();
        }

        [TearDown]
        public void TearDown()
        {
            if (_stack == null) return;
            _stack.ResetProxy();
            _stack.EndLeftovers(_session, _stack.StreamerId);
            _stack.Dispose();
        }

        [Test]
        public void StartsGetsAGrantAndEnds()
        {
            var client = _stack.ClientFor(_session);
            var started = Sync.Run(() => client.Api.StartSessionAsync(new StartSessionOptions
            {
                Title = "Beat Saber",
                Client = new ClientInfo { Platform = "quest", AppVersion = "1.2.3", Device = "Quest 3" },
            }, CancellationToken.None));
            Assert.AreEqual(_stack.StreamerId, started.Session.StreamerId);
            Assert.AreEqual("starting", started.Session.Status);
            Assert.AreEqual("Beat Saber", started.Session.Title);
            Assert.IsTrue(started.Session.RecordingEnabled);
            Assert.AreEqual(started.Session.RoomName, started.LiveKit.RoomName);
            Assert.IsTrue(started.LiveKit.CanPublish);
            Assert.AreEqual("streamer:" + _stack.StreamerId, started.LiveKit.Identity);
            Assert.That(started.LiveKit.ExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow));
            var claims = JwtClaims(started.LiveKit.Token);
            StringAssert.Contains("\"room\":\"" + started.Session.RoomName + "\"", claims);
            StringAssert.Contains("\"canPublish\":true", claims);
            Assert.IsFalse(started.LiveKit.ToString().Contains(started.LiveKit.Token), "ToString leaves the token out");

            var fresh = Sync.Run(() => client.Api.GetLiveKitTokenAsync(started.Session.Id, CancellationToken.None));
            Assert.AreEqual(started.Session.Id, fresh.Session.Id);
            Assert.IsTrue(fresh.LiveKit.CanPublish);
            Assert.AreEqual(started.LiveKit.RoomName, fresh.LiveKit.RoomName);

            var listed = Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(1, listed.Count(s => s.Id == started.Session.Id));

            var ended = Sync.Run(() => client.Api.EndSessionAsync(started.Session.Id, CancellationToken.None));
            Assert.AreEqual("ended", ended.Status);
            Assert.AreEqual("streamer_ended", ended.EndReason);
            var again = Sync.Run(() => client.Api.EndSessionAsync(started.Session.Id, CancellationToken.None));
            Assert.AreEqual("ended", again.Status, "end-session is idempotent");

            var error = Sync.Throws(() => client.Api.GetLiveKitTokenAsync(started.Session.Id, CancellationToken.None));
            Assert.AreEqual(409, error.StatusCode);
            Assert.AreEqual("session_ended", error.Code);
        }

        [Test]
        public void ALostStartResponseIsRetriedWithTheSameKeyAndYieldsOneSession()
        {
            var client = _stack.ClientFor(_session);
            _stack.DropNextResponse("start-session");
            var started = Sync.Run(() => client.Api.StartSessionAsync(new StartSessionOptions { Title = "Retried" }, CancellationToken.None));

            var calls = _stack.Calls("start-session");
            Assert.AreEqual(2, calls.Count, "one lost answer, one retry");
            Assert.AreEqual("drop", calls[0].Fault);
            Assert.IsNull(calls[0].Status);
            Assert.AreEqual(200, calls[1].Status, "the retry is a replay of the first attempt's session");
            Assert.IsNotNull(calls[0].IdempotencyKey);
            Assert.AreEqual(calls[0].IdempotencyKey, calls[1].IdempotencyKey);
            Assert.AreEqual(1, client.Clock.Delays.Count, "it backed off once");

            var mine = Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None)).Where(s => s.StreamerId == _stack.StreamerId).ToList();
            Assert.AreEqual(1, mine.Count, "only one session exists");
            Assert.AreEqual(started.Session.Id, mine[0].Id);
        }

        [Test]
        public void EachStartHasItsOwnKey()
        {
            var client = _stack.ClientFor(_session);
            var first = Sync.Run(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            Sync.Run(() => client.Api.EndSessionAsync(first.Session.Id, CancellationToken.None));
            var second = Sync.Run(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            Assert.AreNotEqual(first.Session.Id, second.Session.Id);
            var keys = _stack.Calls("start-session").Select(c => c.IdempotencyKey).ToList();
            Assert.AreEqual(2, keys.Count);
            Assert.AreNotEqual(keys[0], keys[1]);
        }

        [Test]
        public void RateLimitedCallsWaitForRetryAfter()
        {
            var client = _stack.ClientFor(_session);
            _stack.AnswerNext("streams", 429, 1, 3);
            var streams = Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.IsNotNull(streams);
            var calls = _stack.Calls("streams");
            Assert.AreEqual(new int?[] { 429, 200 }, calls.Select(c => c.Status).ToArray());
            Assert.AreEqual(new[] { TimeSpan.FromSeconds(3) }, client.Clock.Delays.ToArray(), "it waited what Retry-After said");
        }

        [Test]
        public void UnavailableServiceIsRetriedWithGrowingBackoff()
        {
            var client = _stack.ClientFor(_session);
            _stack.AnswerNext("streams", 503, 3);
            Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None));
            var calls = _stack.Calls("streams");
            Assert.AreEqual(new int?[] { 503, 503, 503, 200 }, calls.Select(c => c.Status).ToArray());
            // FixedRandom(0.5): half of 0.5 s, 1 s, 2 s.
            Assert.AreEqual(new[] { 250.0, 500.0, 1000.0 }, client.Clock.Delays.Select(d => d.TotalMilliseconds).ToArray());
        }

        [Test]
        public void PersistentOutageEndsInTheTypedErrorAfterMaxAttempts()
        {
            var client = _stack.ClientFor(_session);
            _stack.AnswerNext("streams", 503, 5);
            var error = Sync.Throws(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(503, error.StatusCode);
            Assert.AreEqual("database_unavailable", error.Code);
            Assert.IsTrue(error.IsRetryable);
            Assert.AreEqual(5, _stack.Calls("streams").Count);
        }

        [Test]
        public void InvalidInputGetsTheTypedExceptionWithoutRetries()
        {
            var client = _stack.ClientFor(_session);
            var error = Sync.Throws(() => client.Api.StartSessionAsync(new StartSessionOptions { Title = new string('x', 121) }, CancellationToken.None));
            Assert.AreEqual(400, error.StatusCode);
            Assert.AreEqual("invalid_request", error.Code);
            Assert.IsFalse(string.IsNullOrEmpty(error.Message));
            Assert.IsFalse(string.IsNullOrEmpty(error.RequestId));
            Assert.IsTrue(error.FieldErrors.Any(f => f.Path == "title"), "details name the field");
            Assert.IsFalse(error.IsRetryable);
            Assert.AreEqual(1, _stack.Calls("start-session").Count, "4xx is never retried");
            Assert.AreEqual(0, client.Clock.Delays.Count);

            var control = Sync.Throws(() => client.Api.StartSessionAsync(new StartSessionOptions { Title = "line\nbreak" }, CancellationToken.None));
            Assert.AreEqual("invalid_request", control.Code);
        }

        [Test]
        public void SomeoneElsesSessionIsNotFound()
        {
            var client = _stack.ClientFor(_session);
            var error = Sync.Throws(() => client.Api.EndSessionAsync(Guid.NewGuid().ToString(), CancellationToken.None));
            Assert.AreEqual(404, error.StatusCode);
            Assert.AreEqual("not_found", error.Code);
            Assert.AreEqual(1, _stack.Calls("end-session").Count);
        }

        [Test]
        public void ASecondStartWhileLiveIsAConflictNamingTheSession()
        {
            var client = _stack.ClientFor(_session);
            var started = Sync.Run(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            var error = Sync.Throws(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            Assert.AreEqual(409, error.StatusCode);
            Assert.AreEqual("session_already_live", error.Code);
            var details = (System.Collections.Generic.IDictionary<string, object>)error.Details;
            Assert.AreEqual(started.Session.Id, details["sessionId"]);
        }

        private static string JwtClaims(string token)
        {
            var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            return Encoding.UTF8.GetString(Convert.FromBase64String(payload));
        }
    }
}
