namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Locks, semaphore slots and reader-writer locks in this process with the Redis backend's semantics: leases on
/// the injected clock, compare-and-delete release, fencing tokens that never go backwards (the scripts' rule), writer intents,
/// release notifications to waiters. Keys mirror the Redis keys of schema/distributed-lock.md.
/// </summary>
internal sealed class InMemoryLockBackend : ILockBackend
{
    private readonly Store _store;
    private readonly int _capacity;
    private readonly TimeSpan _intentLease;

    public InMemoryLockBackend(TimeProvider time)
        : this(new Store(time), LockKind.Lock, 1, TimeSpan.Zero)
    {
    }

    private InMemoryLockBackend(Store store, LockKind kind, int capacity, TimeSpan intentLease)
    {
        _store = store;
        Kind = kind;
        _capacity = capacity;
        _intentLease = intentLease;
    }

    public string Description => "the in-memory lock store";

    public LockKind Kind { get; }

    public ILockBackend ForSemaphore(int maxCount) => new InMemoryLockBackend(_store, LockKind.Semaphore, maxCount, TimeSpan.Zero);

    public ILockBackend ForReaderWriter(bool write, TimeSpan intentLease) =>
        new InMemoryLockBackend(_store, write ? LockKind.Write : LockKind.Read, write ? 1 : int.MaxValue, intentLease);

    public ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, bool waiting, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_store)
        {
            return new(Kind switch
            {
                LockKind.Read => TryRead(name, holder, ttl),
                LockKind.Write => TryWrite(name, holder, ttl, waiting),
                _ => TryTake(LeaseKey(name), FenceKey(name), holder, ttl),
            });
        }
    }

    public ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string key = LeaseKey(name);
        lock (_store)
        {
            Dictionary<string, long> holders = _store.LiveHolders(key);
            if (!holders.ContainsKey(holder))
            {
                _store.DropIfEmpty(key, holders);
                return new(false);
            }

            holders[holder] = _store.ExpiryAfter(ttl);
            return new(true);
        }
    }

    public ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken) =>
        new(RemoveAndAnnounce(LeaseKey(name), ChannelKey(name), holder));

    public ValueTask WithdrawAsync(string name, string holder, CancellationToken cancellationToken)
    {
        if (Kind == LockKind.Write)
        {
            RemoveAndAnnounce(IntentKey(name), ChannelKey(name), holder);
        }

        return default;
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken)
    {
        string key = ChannelKey(name);
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

    public bool MeansLeaseLost(Exception error) => false;

    public ValueTask DisposeAsync() => default;

    /// <summary>
    /// Deletes the lock (the semaphore's holders, a reader-writer lock's readers or writer) as an operator or a crash of
    /// the store would: no notification. Tests use it.
    /// </summary>
    internal bool DeleteExternally(string name)
    {
        lock (_store)
        {
            return _store.Leases.Remove(LeaseKey(name));
        }
    }

    private static string ReaderWriterKey(string name, string suffix) => string.Concat("rwlock:", name, ":", suffix);

    private string LeaseKey(string name) => Kind switch
    {
        LockKind.Lock => string.Concat("lock:", name),
        LockKind.Semaphore => string.Concat("semaphore:", name),
        LockKind.Read => ReaderWriterKey(name, "readers"),
        _ => ReaderWriterKey(name, "writer"),
    };

    private string FenceKey(string name) => Kind switch
    {
        LockKind.Lock => string.Concat("lock:", name, ":fence"),
        LockKind.Semaphore => string.Concat("semaphore:", name, ":fence"),
        _ => ReaderWriterKey(name, "fence"),
    };

    private string ChannelKey(string name) => Kind switch
    {
        LockKind.Lock => string.Concat("lock:", name, ":released"),
        LockKind.Semaphore => string.Concat("semaphore:", name, ":released"),
        _ => ReaderWriterKey(name, "released"),
    };

    private static string IntentKey(string name) => ReaderWriterKey(name, "writer-intent");

    /// <summary>A lock or semaphore slot: granted while fewer than the capacity hold it.</summary>
    private AcquireAttempt TryTake(string key, string fenceKey, string holder, TimeSpan ttl)
    {
        Dictionary<string, long> holders = _store.LiveHolders(key);
        if (holders.Count >= _capacity)
        {
            return AcquireAttempt.Busy(_store.Left(holders.Values.Min()));
        }

        long token = _store.NextToken(fenceKey);
        holders[holder] = _store.ExpiryAfter(ttl);
        return AcquireAttempt.Grant(token);
    }

    /// <summary>The rw read acquire script: refused while a writer holds or waits; carries the last write grant's token.</summary>
    private AcquireAttempt TryRead(string name, string holder, TimeSpan ttl)
    {
        Dictionary<string, long> writer = _store.LiveHolders(ReaderWriterKey(name, "writer"));
        Dictionary<string, long> intent = _store.LiveHolders(IntentKey(name));
        if (writer.Count > 0 || intent.Count > 0)
        {
            return AcquireAttempt.Busy(_store.Left((writer.Count > 0 ? writer : intent).Values.Single()));
        }

        _store.DropIfEmpty(ReaderWriterKey(name, "writer"), writer);
        _store.DropIfEmpty(IntentKey(name), intent);
        _store.LiveHolders(LeaseKey(name))[holder] = _store.ExpiryAfter(ttl);
        return AcquireAttempt.Grant(_store.ReadToken(FenceKey(name)));
    }

    /// <summary>The rw write acquire script: granted when no writer holds, no reader holds, and no other writer's intent waits.</summary>
    private AcquireAttempt TryWrite(string name, string holder, TimeSpan ttl, bool waiting)
    {
        Dictionary<string, long> writer = _store.LiveHolders(LeaseKey(name));
        Dictionary<string, long> intent = _store.LiveHolders(IntentKey(name));
        string? intentHolder = intent.Keys.SingleOrDefault();
        TimeSpan? blocker;
        if (writer.Count > 0)
        {
            blocker = _store.Left(writer.Values.Single());
        }
        else if (intentHolder is not null && intentHolder != holder)
        {
            blocker = _store.Left(intent.Values.Single());
        }
        else
        {
            Dictionary<string, long> readers = _store.LiveHolders(ReaderWriterKey(name, "readers"));
            if (readers.Count == 0)
            {
                _store.DropIfEmpty(ReaderWriterKey(name, "readers"), readers);
                _store.Leases.Remove(IntentKey(name));
                long token = _store.NextToken(FenceKey(name));
                writer[holder] = _store.ExpiryAfter(ttl);
                return AcquireAttempt.Grant(token);
            }

            blocker = _store.Left(readers.Values.Max());
        }

        if (waiting && (intentHolder is null || intentHolder == holder))
        {
            intent[holder] = _store.ExpiryAfter(_intentLease);
        }

        _store.DropIfEmpty(LeaseKey(name), writer);
        _store.DropIfEmpty(IntentKey(name), intent);
        return AcquireAttempt.Busy(blocker);
    }

    private bool RemoveAndAnnounce(string key, string channel, string holder)
    {
        ReleaseWaiter[] wake;
        lock (_store)
        {
            Dictionary<string, long> holders = _store.LiveHolders(key);
            bool held = holders.Remove(holder);
            _store.DropIfEmpty(key, holders);
            if (!held)
            {
                return false;
            }

            wake = _store.Waiters.TryGetValue(channel, out List<ReleaseWaiter>? waiters) ? [.. waiters] : [];
        }

        foreach (ReleaseWaiter waiter in wake)
        {
            waiter.Notify();
        }

        return true;
    }

    /// <summary>Everything one provider's locks, semaphores and reader-writer locks share; guarded by locking on itself.</summary>
    private sealed class Store(TimeProvider time)
    {
        public TimeProvider Time { get; } = time;

        /// <summary>Key -> holder -> lease end (timestamp): a lock, a semaphore, readers, a writer, a writer's intent.</summary>
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

        /// <summary>The fencing token of a grant, as the scripts compute it: max(last + 1, clock in microseconds).</summary>
        public long NextToken(string fenceKey)
        {
            long token = Math.Max(Fences.GetValueOrDefault(fenceKey) + 1, UnixMicroseconds());
            Fences[fenceKey] = token;
            return token;
        }

        /// <summary>A read grant's token, as the rw read acquire script computes it: the fence, set from the clock when absent.</summary>
        public long ReadToken(string fenceKey) =>
            Fences.TryGetValue(fenceKey, out long token) ? token : Fences[fenceKey] = UnixMicroseconds();

        private long UnixMicroseconds() => (Time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;

        public long ExpiryAfter(TimeSpan ttl) => Time.GetTimestamp() + (long)(ttl.Ticks * (Time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

        public TimeSpan Left(long leaseEnd) => Time.GetElapsedTime(Time.GetTimestamp(), leaseEnd);
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
