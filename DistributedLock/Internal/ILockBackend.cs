namespace Lilith.DistributedLock.Internal;

/// <summary>The answer of one acquisition try.</summary>
/// <param name="FencingToken">The grant's fencing token (&gt; 0) when granted, else 0.</param>
/// <param name="HolderLeaseLeft">When not granted: how long the current holder's lease still runs, if known.</param>
internal readonly record struct AcquireAttempt(long FencingToken, TimeSpan? HolderLeaseLeft)
{
    public bool Granted => FencingToken > 0;
}

/// <summary>
/// Where locks are stored: the Redis backend runs the scripts of schema/distributed-lock.md, the in-memory
/// backend does the same under a process-wide lock. The wait loop, renewal and handles are shared.
/// </summary>
internal interface ILockBackend : IAsyncDisposable
{
    /// <summary>Where the backend stores locks, safe to log.</summary>
    string Description { get; }

    /// <summary>One atomic try: take the lock if it is free and issue the next fencing token.</summary>
    ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Resets the lease to <paramref name="ttl"/> if <paramref name="holder"/> still holds the lock; never re-creates it.</summary>
    ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Deletes the lock if <paramref name="holder"/> still holds it and announces the release.</summary>
    ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken);

    /// <summary>Has <paramref name="waiter"/> notified of every release of <paramref name="name"/> until the result is disposed.</summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken);

    /// <summary>The same store, for slots of a semaphore admitting <paramref name="maxCount"/> holders (own keys and fencing counter).</summary>
    ILockBackend ForSemaphore(int maxCount);

    /// <summary>Whether <paramref name="error"/> means "backend not reachable now" (worth trying again), not a bug.</summary>
    bool IsUnavailable(Exception error);
}
