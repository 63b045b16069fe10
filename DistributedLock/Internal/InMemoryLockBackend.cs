namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Locks (and semaphore slots) in this process with the Redis backend's semantics: leases on the injected clock,
/// compare-and-delete release, fencing counters that never go backwards, release notifications to waiters.
/// </summary>
internal sealed class InMemoryLockBackend : ILockBackend
{
    private readonly Store _store;
    private readonly string _space;
    private readonly int _capacity;

    public InMemoryLockBackend(TimeProvider time)
        : this(new Store(time), "lock", 1)
    {
    }

    private InMemoryLockBackend(Store store, string space, int capacity)
    {
        _store = store;
        _space = space;
        _capacity = capacity;
    }

    public string Description => "the in-memory lock store";

    /// <summary>The same store, for slots of a semaphore admitting <paramref name="maxCount"/> holders.</summary>
    public ILockBackend ForSemaphore(int maxCount) => new InMemoryLockBackend(_store, "semaphore", maxCount);

    public ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string key = Key(name);
        lock (_store)
        {
            Dictionary<string, long> holders = _store.LiveHolders(key);
            if (holders.Count >= _capacity)
            {
                long firstEnd = holders.Values.Min();
                return new(new AcquireAttempt(0, _store.Time.GetElapsedTime(_store.Time.GetTimestamp(), firstEnd)));
            }

            long token = _store.Fences.GetValueOrDefault(key) + 1;
            _store.Fences[key] = token;
            holders[holder] = _store.ExpiryAfter(ttl);
            return new(new AcquireAttempt(token, null));
        }
    }

    public ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_store)
        {
            Dictionary<string, long> holders = _store.LiveHolders(Key(name));
            if (!holders.ContainsKey(holder))
            {
                _store.DropIfEmpty(Key(name), holders);
                return new(false);
            }

            holders[holder] = _store.ExpiryAfter(ttl);
            return new(true);
        }
    }

    public ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        ReleaseWaiter[] wake;
        string key = Key(name);
        lock (_store)
        {
            Dictionary<string, long> holders = _store.LiveHolders(key);
            bool held = holders.Remove(holder);
            _store.DropIfEmpty(key, holders);
            if (!held)
            {
                return new(false);
            }

            wake = _store.Waiters.TryGetValue(key, out List<ReleaseWaiter>? waiters) ? [.. waiters] : [];
        }

        foreach (ReleaseWaiter waiter in wake)
        {
            waiter.Notify();
        }

        return new(true);
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken)
    {
        string key = Key(name);
        lock (_store)
        {
            if (!_store.Waiters.TryGetValue(key, out List<ReleaseWaiter>? waiters))
            {
                _store.Waiters[key] = waiters = [];
            }

            waiters.Add(waiter);
        }

        return new(new Subscription(_store, key, waiter));
    }

    public bool IsUnavailable(Exception error) => false;

    public ValueTask DisposeAsync() => default;

    /// <summary>Deletes a lock as an operator (or a crash of the store) would: no notification. Tests use it.</summary>
    internal bool DeleteExternally(string name)
    {
        lock (_store)
        {
            return _store.Leases.Remove(Key(name));
        }
    }

    private string Key(string name) => string.Concat(_space, ":", name);

    /// <summary>Everything one provider's locks and semaphores share; guarded by locking on itself.</summary>
    private sealed class Store(TimeProvider time)
    {
        public TimeProvider Time { get; } = time;

        public Dictionary<string, Dictionary<string, long>> Leases { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Fences { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, List<ReleaseWaiter>> Waiters { get; } = new(StringComparer.Ordinal);

        /// <summary>Holder -> lease end of <paramref name="key"/>, with ended leases dropped.</summary>
        public Dictionary<string, long> LiveHolders(string key)
        {
            if (!Leases.TryGetValue(key, out Dictionary<string, long>? holders))
            {
                Leases[key] = holders = new(StringComparer.Ordinal);
            }

            long now = Time.GetTimestamp();
            foreach (KeyValuePair<string, long> holder in holders)
            {
                if (holder.Value <= now)
                {
                    holders.Remove(holder.Key);
                }
            }

            return holders;
        }

        public void DropIfEmpty(string key, Dictionary<string, long> holders)
        {
            if (holders.Count == 0)
            {
                Leases.Remove(key);
            }
        }

        public long ExpiryAfter(TimeSpan ttl) => Time.GetTimestamp() + (long)(ttl.Ticks * (Time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));
    }

    private sealed class Subscription(Store store, string key, ReleaseWaiter waiter) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            lock (store)
            {
                if (store.Waiters.TryGetValue(key, out List<ReleaseWaiter>? waiters) && waiters.Remove(waiter) && waiters.Count == 0)
                {
                    store.Waiters.Remove(key);
                }
            }

            return default;
        }
    }
}
