namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Locks in this process with the Redis backend's semantics: leases on the injected clock, compare-and-delete
/// release, fencing counters that never go backwards, release notifications to waiters.
/// </summary>
internal sealed class InMemoryLockBackend(TimeProvider time) : ILockBackend
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Lease> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _fences = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ReleaseWaiter>> _waiters = new(StringComparer.Ordinal);

    public string Description => "the in-memory lock store";

    public ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (Current(name) is { } lease)
            {
                return new(new AcquireAttempt(0, time.GetElapsedTime(time.GetTimestamp(), lease.ExpiresAt)));
            }

            long token = _fences.GetValueOrDefault(name) + 1;
            _fences[name] = token;
            _locks[name] = new Lease(holder, ExpiryAfter(ttl));
            return new(new AcquireAttempt(token, null));
        }
    }

    public ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (Current(name) is { } lease && lease.Holder == holder)
            {
                _locks[name] = lease with { ExpiresAt = ExpiryAfter(ttl) };
                return new(true);
            }

            return new(false);
        }
    }

    public ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        ReleaseWaiter[] wake;
        lock (_gate)
        {
            if (Current(name) is not { } lease || lease.Holder != holder)
            {
                return new(false);
            }

            _locks.Remove(name);
            wake = _waiters.TryGetValue(name, out List<ReleaseWaiter>? waiters) ? [.. waiters] : [];
        }

        foreach (ReleaseWaiter waiter in wake)
        {
            waiter.Notify();
        }

        return new(true);
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_waiters.TryGetValue(name, out List<ReleaseWaiter>? waiters))
            {
                _waiters[name] = waiters = [];
            }

            waiters.Add(waiter);
        }

        return new(new Subscription(this, name, waiter));
    }

    public bool IsUnavailable(Exception error) => false;

    public ValueTask DisposeAsync() => default;

    /// <summary>Deletes a lock as an operator (or a crash of the store) would: no notification. Tests use it.</summary>
    internal bool DeleteExternally(string name)
    {
        lock (_gate)
        {
            return _locks.Remove(name);
        }
    }

    /// <summary>The live lease of <paramref name="name"/>, dropping it when it has run out.</summary>
    private Lease? Current(string name)
    {
        if (!_locks.TryGetValue(name, out Lease? lease))
        {
            return null;
        }

        if (time.GetTimestamp() >= lease.ExpiresAt)
        {
            _locks.Remove(name);
            return null;
        }

        return lease;
    }

    private long ExpiryAfter(TimeSpan ttl) => time.GetTimestamp() + (long)(ttl.Ticks * (time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    private void Unsubscribe(string name, ReleaseWaiter waiter)
    {
        lock (_gate)
        {
            if (_waiters.TryGetValue(name, out List<ReleaseWaiter>? waiters) && waiters.Remove(waiter) && waiters.Count == 0)
            {
                _waiters.Remove(name);
            }
        }
    }

    private sealed record Lease(string Holder, long ExpiresAt);

    private sealed class Subscription(InMemoryLockBackend owner, string name, ReleaseWaiter waiter) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            owner.Unsubscribe(name, waiter);
            return default;
        }
    }
}
