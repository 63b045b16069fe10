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
    /// The fencing token of this grant: strictly larger than the token of every earlier grant of the same
    /// lock name. Pass it to the storage you protect so that it can refuse writes from a holder whose
    /// lease has already ended (a write carrying a smaller token than the last one seen is stale).
    /// A read grant of a reader-writer lock carries the token of the last write grant before it instead (0 when
    /// there was none), see <see cref="IDistributedReaderWriterLockProvider"/>.
    /// </summary>
    long FencingToken { get; }

    /// <summary>
    /// Fires when this holder no longer holds the lock: renewal found the lock gone or taken by another
    /// holder, or could not reach the backend before the lease ran out, or (without auto-renewal) the lease
    /// ran out. It does not fire on a normal release.
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
