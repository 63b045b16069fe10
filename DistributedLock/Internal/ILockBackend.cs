namespace Lilith.DistributedLock.Internal;

/// <summary>The answer of one acquisition try.</summary>
/// <param name="Granted">Whether the lock (slot, read or write grant) is now held by the caller.</param>
/// <param name="FencingToken">The grant's fencing token when granted (a read grant's may be 0), else 0.</param>
/// <param name="HolderLeaseLeft">When not granted: how long the current blocker's lease still runs, if known.</param>
internal readonly record struct AcquireAttempt(bool Granted, long FencingToken, TimeSpan? HolderLeaseLeft)
{
    public static AcquireAttempt Grant(long fencingToken) => new(true, fencingToken, null);

    public static AcquireAttempt Busy(TimeSpan? holderLeaseLeft) => new(false, 0, holderLeaseLeft);
}

/// <summary>What a backend view hands out.</summary>
internal enum LockKind
{
    /// <summary>Exclusive locks (<c>lock</c>, <c>fence</c>).</summary>
    Lock,

    /// <summary>Slots of a semaphore (<c>semaphore-*</c>).</summary>
    Semaphore,

    /// <summary>Read grants of a reader-writer lock (<c>rw-readers</c>).</summary>
    Read,

    /// <summary>Write grants of a reader-writer lock (<c>rw-writer</c>, <c>rw-writer-intent</c>).</summary>
    Write,
}

/// <summary>
/// Where locks are stored: the Redis backend runs the scripts of schema/distributed-lock.md, the in-memory
/// backend does the same under a process-wide lock. The wait loop, renewal and handles are shared.
/// </summary>
internal interface ILockBackend : IAsyncDisposable
{
    /// <summary>Where the backend stores locks, safe to log.</summary>
    string Description { get; }

    /// <summary>What this view hands out.</summary>
    LockKind Kind { get; }

    /// <summary>
    /// One atomic try: take the lock if it is free and issue the fencing token. <paramref name="waiting"/> says the
    /// caller will try again when this try fails; a writer then registers its intent, which blocks new readers.
    /// </summary>
    ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, bool waiting, CancellationToken cancellationToken);

    /// <summary>Resets the lease to <paramref name="ttl"/> if <paramref name="holder"/> still holds the lock; never re-creates it.</summary>
    ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Deletes the lock if <paramref name="holder"/> still holds it and announces the release.</summary>
    ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken);

    /// <summary>
    /// Called when a waiting acquirer gives up: removes what its waiting tries left behind (a writer's intent) and
    /// announces it. Nothing to do for the other kinds.
    /// </summary>
    ValueTask WithdrawAsync(string name, string holder, CancellationToken cancellationToken);

    /// <summary>Has <paramref name="waiter"/> notified of every release of <paramref name="name"/> until the result is disposed.</summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken);

    /// <summary>The same store, for slots of a semaphore admitting <paramref name="maxCount"/> holders (own keys and fencing counter).</summary>
    ILockBackend ForSemaphore(int maxCount);

    /// <summary>
    /// The same store, for read (<paramref name="write"/> false) or write grants of reader-writer locks (own keys and
    /// fencing counter). A waiting writer's intent lasts <paramref name="intentLease"/> unless refreshed by its next try.
    /// </summary>
    ILockBackend ForReaderWriter(bool write, TimeSpan intentLease);

    /// <summary>Whether <paramref name="error"/> means "backend not reachable now" (worth trying again), not a bug.</summary>
    bool IsUnavailable(Exception error);

    /// <summary>
    /// Whether <paramref name="error"/>, the answer to a renewal, means the lease is lost: the server no longer takes
    /// writes for this data (Redis <c>READONLY</c>, <c>MASTERDOWN</c>), so another server may grant it. Never retried.
    /// </summary>
    bool MeansLeaseLost(Exception error);
}
