using System;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>Time as the core sees it: tests pass their own instead of sleeping.</summary>
    public interface IClock
    {
        DateTimeOffset UtcNow { get; }

        /// <summary>Waits this long (backoff, <c>Retry-After</c>).</summary>
        Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken);
    }

    /// <summary>The machine's clock and <see cref="Task.Delay(TimeSpan, CancellationToken)"/>.</summary>
    public sealed class SystemClock : IClock
    {
        public static readonly SystemClock Instance = new SystemClock();

        public DateTimeOffset UtcNow
        {
            get { return DateTimeOffset.UtcNow; }
        }

        public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            return delay <= TimeSpan.Zero ? Task.FromResult(true) : Task.Delay(delay, cancellationToken);
        }
    }

    /// <summary>Randomness for jitter and keys, injectable so tests can pin it.</summary>
    public interface IRandomSource
    {
        /// <summary>A number in [0, 1).</summary>
        double NextDouble();
    }

    /// <summary><see cref="Random"/> behind a lock (it is not thread-safe by itself).</summary>
    public sealed class SystemRandomSource : IRandomSource
    {
        private readonly Random _random;
        private readonly object _gate = new object();

        public SystemRandomSource(int? seed = null)
        {
            _random = seed.HasValue ? new Random(seed.Value) : new Random();
        }

        public double NextDouble()
        {
            lock (_gate)
            {
                return _random.NextDouble();
            }
        }
    }
}
