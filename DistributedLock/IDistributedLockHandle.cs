namespace Lilith.DistributedLock;

/// <summary>
/// A held lock. Disposing it releases the lock (never throws); <see cref="ReleaseAsync"/> releases it and
/// says whether this holder still held it.
/// </summary>
public interface IDistributedLockHandle : IAsyncDisposable
{
    /// <summary>The lock name.</summary>
    string Name { get; }

    /// <summary>
    /// The fencing token of this grant: larger than the token of every earlier grant of the same lock name,
    /// <c>max(last + 1, the Redis server clock in microseconds)</c>, so also after a restart without persistence and
    /// on a promoted replica (given server clocks closer than the time between two grants; schema/distributed-lock.md).
    /// Pass it to the storage you protect so that it can refuse writes from a holder whose lease has already ended (a
    /// write carrying a smaller token than the last one seen is stale). A read grant of a reader-writer lock carries the
    /// token of the last write grant before it instead, see <see cref="IDistributedReaderWriterLockProvider"/>.
    /// </summary>
    long FencingToken { get; }

    /// <summary>
    /// Fires when this holder no longer holds the lock: renewal found the lock gone or taken by another
    /// holder, or the server answered that it no longer takes writes (<c>READONLY</c>, <c>MASTERDOWN</c>), or the
    /// backend could not be reached before the lease ran out, or (without auto-renewal) the lease ran out. The lease is
    /// counted from when the last successful renewal was sent, minus a twentieth of it for clock drift, so this fires
    /// before the backend can grant the lock to anyone else, even while a renewal is in flight. It does not fire on a
    /// normal release.
    /// </summary>
    CancellationToken LostToken { get; }

    /// <summary>Renews the lease now to its full TTL, if this holder still holds the lock.</summary>
    /// <param name="cancellationToken">Stops the wait for the answer.</param>
    /// <returns>True when renewed; false when the lock was already gone or taken (then <see cref="LostToken"/> fires).</returns>
    ValueTask<bool> ExtendAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Releases the lock by compare-and-delete: only the lock this grant holds is deleted, never a later
    /// holder's. Calling it again returns the first result.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait for the answer (the release itself still completes).</param>
    /// <returns><see cref="LockReleaseResult.Released"/>, or <see cref="LockReleaseResult.NotHeld"/> when the lease had already ended.</returns>
    ValueTask<LockReleaseResult> ReleaseAsync(CancellationToken cancellationToken = default);
}
