using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    [TestFixture]
    public class RetryPolicyTests
    {
        private static ApiException Status(int status, TimeSpan? retryAfter = null)
        {
            return new ApiException(status, "x", "x", null, null, retryAfter);
        }

        [Test]
        public void FullJitterStaysWithinTheDoublingCap()
        {
            var policy = new RetryPolicy { MaxAttempts = 10, BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };
            var top = new FixedRandom(0.999999);
            var bottom = new FixedRandom(0);
            var expectedCaps = new[] { 100, 200, 400, 800, 1000, 1000 };
            for (var retry = 1; retry <= expectedCaps.Length; retry++)
            {
                var high = policy.DelayBeforeRetry(retry, Status(503), top).Value.TotalMilliseconds;
                Assert.That(high, Is.LessThanOrEqualTo(expectedCaps[retry - 1]).And.GreaterThan(expectedCaps[retry - 1] * 0.99), "retry " + retry);
                Assert.AreEqual(TimeSpan.Zero, policy.DelayBeforeRetry(retry, Status(503), bottom).Value, "full jitter reaches zero");
            }
        }

        [Test]
        public void JitterSpreadsRetriesApart()
        {
            var policy = new RetryPolicy { MaxAttempts = 10 };
            var random = new SystemRandomSource(7);
            var seen = new HashSet<double>();
            for (var i = 0; i < 20; i++) seen.Add(policy.DelayBeforeRetry(3, Status(500), random).Value.TotalMilliseconds);
            Assert.That(seen.Count, Is.GreaterThan(15));
        }

        [Test]
        public void RetryAfterIsWaitedExactlyUpToItsLimit()
        {
            var policy = new RetryPolicy { MaxRetryAfter = TimeSpan.FromSeconds(30) };
            Assert.AreEqual(TimeSpan.FromSeconds(7), policy.DelayBeforeRetry(1, Status(429, TimeSpan.FromSeconds(7)), new FixedRandom(0.1)));
            Assert.IsNull(policy.DelayBeforeRetry(1, Status(429, TimeSpan.FromSeconds(31)), new FixedRandom(0.1)), "too long a wait goes to the caller");
        }

        [Test]
        public void OtherClientErrorsAreNeverRetried()
        {
            var policy = new RetryPolicy();
            foreach (var status in new[] { 400, 401, 403, 404, 405, 409, 413, 415 })
            {
                Assert.IsNull(policy.DelayBeforeRetry(1, Status(status), new FixedRandom(0.5)), status.ToString());
            }
            Assert.IsNotNull(policy.DelayBeforeRetry(1, new ApiException(0, ClientErrorCodes.NetworkError, "x"), new FixedRandom(0.5)));
            Assert.IsNull(policy.DelayBeforeRetry(1, new ApiException(0, ClientErrorCodes.SessionMissing, "x"), new FixedRandom(0.5)));
        }

        [Test]
        public void GivesUpAfterMaxAttempts()
        {
            var policy = new RetryPolicy { MaxAttempts = 3 };
            Assert.IsNotNull(policy.DelayBeforeRetry(2, Status(503), new FixedRandom(0.5)));
            Assert.IsNull(policy.DelayBeforeRetry(3, Status(503), new FixedRandom(0.5)));
        }

        [Test]
        public void ReadsRetryAfterSeconds()
        {
            Assert.AreEqual(TimeSpan.FromSeconds(12), ApiException.ParseRetryAfter("12"));
            Assert.IsNull(ApiException.ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"));
            Assert.IsNull(ApiException.ParseRetryAfter("-1"));
            Assert.IsNull(ApiException.ParseRetryAfter(null));
        }
    }
}
