using System;

namespace VrStream.Client
{
    /// <summary>
    /// Exponential backoff with full jitter: before retry <c>n</c> (1-based) it waits a uniform
    /// random time in [0, min(<see cref="MaxDelay"/>, <see cref="BaseDelay"/> × 2^(n-1))], or
    /// exactly what <c>Retry-After</c> asked. Retried: network errors, 5xx and 429; never other
    /// 4xx (<see cref="ApiException.IsRetryable"/>).
    /// </summary>
    public sealed class RetryPolicy
    {
        /// <summary>Attempts in all, the first included. Default: 5.</summary>
        public int MaxAttempts { get; set; } = 5;

        /// <summary>Cap of the first retry's random wait. Default: 0.5 s.</summary>
        public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

        /// <summary>Cap of any random wait. Default: 20 s.</summary>
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(20);

        /// <summary>
        /// A longer <c>Retry-After</c> is not waited for: the error goes to the caller, whose
        /// user should not stare at a spinner that long. Default: 60 s.
        /// </summary>
        public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>
        /// How long to wait before retry number <paramref name="retry"/> (1 for the first), or
        /// null when the error should go to the caller instead.
        /// </summary>
        public TimeSpan? DelayBeforeRetry(int retry, ApiException error, IRandomSource random)
        {
            if (retry < 1) throw new ArgumentOutOfRangeException(nameof(retry), "Retries count from 1.");
            if (!error.IsRetryable || retry >= MaxAttempts) return null;
            if (error.RetryAfter.HasValue)
            {
                return error.RetryAfter.Value <= MaxRetryAfter ? error.RetryAfter : null;
            }
            var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, retry - 1));
            return TimeSpan.FromMilliseconds(random.NextDouble() * ceiling);
        }
    }
}
