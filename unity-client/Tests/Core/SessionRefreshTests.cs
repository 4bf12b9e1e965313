using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    /// <summary>Supabase session handling against the stack and its Supabase Auth stand-in.</summary>
    [TestFixture]
    public class SessionRefreshTests
    {
        private TestStack _stack;

        [SetUp]
        public void SetUp()
        {
            _stack = TestStack.FromEnvironment();
            _stack.ResetProxy();
        }

        [TearDown]
        public void TearDown()
        {
            if (_stack != null) _stack.Dispose();
        }

        /// <summary>A session whose access token the server refuses, though its stated expiry is an hour away.</summary>
        private AuthSession ExpiredButBelievedValid()
        {
            var expired = _stack.SignIn(_stack.StreamerId, -60);
            return new AuthSession(expired.AccessToken, expired.RefreshToken, DateTimeOffset.UtcNow.AddHours(1));
        }

        [Test]
        public void AnExpiredAccessTokenIsRefreshedOnceAndTheCallSucceeds()
        {
            var stale = ExpiredButBelievedValid();
            var client = _stack.ClientFor(stale);
            var before = _stack.AuthStats();

            var streams = Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None));

            Assert.IsNotNull(streams);
            Assert.AreEqual(new int?[] { 401, 200 }, _stack.Calls("streams").Select(c => c.Status).ToArray());
            var after = _stack.AuthStats();
            Assert.AreEqual(before[0] + 1, after[0], "one refresh");
            Assert.AreEqual(before[1], after[1], "none refused");
            var saved = Sync.Run(() => client.Store.LoadAsync(CancellationToken.None));
            Assert.AreNotEqual(stale.RefreshToken, saved.RefreshToken, "the new pair was saved");
            Assert.AreNotEqual(stale.AccessToken, saved.AccessToken);
            Assert.AreEqual(1, client.Store.SaveCount);
            Assert.AreEqual(1, client.Auth.RefreshCount);
        }

        [Test]
        public void ATokenPastItsExpiryIsRefreshedBeforeTheCall()
        {
            var expired = _stack.SignIn(_stack.StreamerId, -60);
            Assert.That(expired.ExpiresAt, Is.LessThan(DateTimeOffset.UtcNow));
            var client = _stack.ClientFor(expired);
            Sync.Run(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(new int?[] { 200 }, _stack.Calls("streams").Select(c => c.Status).ToArray(), "no 401 first");
            Assert.AreEqual(1, client.Auth.RefreshCount);
        }

        [Test]
        public void ConcurrentCallersShareOneRefresh()
        {
            var client = _stack.ClientFor(ExpiredButBelievedValid());
            var before = _stack.AuthStats();
            Sync.Run(() => Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.Api.ListStreamsAsync(CancellationToken.None))));
            var after = _stack.AuthStats();
            Assert.AreEqual(before[0] + 1, after[0], "one refresh for six callers");
            Assert.AreEqual(before[1], after[1], "no refresh token was spent twice");
            Assert.AreEqual(1, client.Auth.RefreshCount);
        }

        [Test]
        public void ARefusedRefreshTokenEndsTheSessionOnThisDevice()
        {
            var stale = ExpiredButBelievedValid();
            var forged = new AuthSession(stale.AccessToken, "not-a-refresh-token", stale.ExpiresAt);
            var client = _stack.ClientFor(forged);
            var error = Sync.Throws(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(ClientErrorCodes.SessionExpired, error.Code);
            Assert.AreEqual(400, error.StatusCode);
            Assert.IsNull(Sync.Run(() => client.Store.LoadAsync(CancellationToken.None)), "the dead session is cleared");
            Assert.AreEqual(1, _stack.Calls("streams").Count, "no retry of the call");

            var next = Sync.Throws(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(ClientErrorCodes.SessionMissing, next.Code);
        }

        [Test]
        public void ASpentRefreshTokenIsNotAcceptedTwice()
        {
            var stale = ExpiredButBelievedValid();
            var first = _stack.ClientFor(stale);
            Sync.Run(() => first.Api.ListStreamsAsync(CancellationToken.None));
            // A second device (or a restored backup) holding the same, now spent, pair.
            var second = _stack.ClientFor(stale);
            var error = Sync.Throws(() => second.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(ClientErrorCodes.SessionExpired, error.Code);
        }

        [Test]
        public void RefreshCarriesTheProjectApiKey()
        {
            var client = _stack.ClientFor(ExpiredButBelievedValid(), new TestClientOptions { ApiKey = "sb_publishable_wrong" });
            var before = _stack.AuthStats();
            var error = Sync.Throws(() => client.Api.ListStreamsAsync(CancellationToken.None));
            Assert.AreEqual(ClientErrorCodes.AuthRejected, error.Code);
            Assert.AreEqual(401, error.StatusCode);
            Assert.AreEqual(before[1] + 1, _stack.AuthStats()[1], "the stand-in refused the key");
            Assert.IsNotNull(Sync.Run(() => client.Store.LoadAsync(CancellationToken.None)), "a configuration error does not sign the user out");
        }

        [Test]
        public void ASecond401AfterARefreshGoesToTheCaller()
        {
            // A user the server does not know: the token is valid, its subject is not a user.
            var ghost = _stack.SignIn(Guid.NewGuid().ToString());
            var client = _stack.ClientFor(ghost);
            var error = Sync.Throws(() => client.Api.StartSessionAsync(null, CancellationToken.None));
            Assert.AreEqual(401, error.StatusCode);
            Assert.AreEqual("unauthorized", error.Code);
            Assert.AreEqual(new int?[] { 401, 401 }, _stack.Calls("start-session").Select(c => c.Status).ToArray(), "one refresh, one retry, no more");
            Assert.AreEqual(1, client.Auth.RefreshCount);
        }
    }
}
