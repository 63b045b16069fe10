namespace Lilith.CircuitBreaker.Internal;

/// <summary>Successes and failures over a rolling window of ten buckets (callers hold the breaker's lock).</summary>
internal sealed class HealthWindow(TimeSpan window)
{
    private const int Buckets = 10;
    private readonly long _bucketTicks = Math.Max(1, window.Ticks / Buckets);
    private readonly long[] _index = new long[Buckets];
    private readonly int[] _successes = new int[Buckets];
    private readonly int[] _failures = new int[Buckets];

    public void Record(bool failure, DateTimeOffset now)
    {
        long idx = now.UtcTicks / _bucketTicks;
        int slot = (int)(idx % Buckets);
        if (_index[slot] != idx)
        {
            _index[slot] = idx;
            _successes[slot] = 0;
            _failures[slot] = 0;
        }

        if (failure)
        {
            _failures[slot]++;
        }
        else
        {
            _successes[slot]++;
        }
    }

    public (int Total, int Failures) Totals(DateTimeOffset now)
    {
        long current = now.UtcTicks / _bucketTicks;
        int total = 0, failures = 0;
        for (int i = 0; i < Buckets; i++)
        {
            if (_index[i] > current - Buckets)
            {
                total += _successes[i] + _failures[i];
                failures += _failures[i];
            }
        }

        return (total, failures);
    }

    public void Clear() => Array.Clear(_index);
}
