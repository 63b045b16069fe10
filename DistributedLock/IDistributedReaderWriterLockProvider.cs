namespace Lilith.DistributedLock;

/// <summary>
/// Hands out reader-writer locks by name: many readers at once, or one writer. A writer that waits blocks new
/// readers (writer preference), so a steady stream of readers cannot starve it; readers that waited are let in
/// together once the writer is done. Grants are leased, renewed, lost and released exactly like locks
/// (<see cref="IDistributedLockProvider"/>).
/// </summary>
/// <remarks>
/// Fencing tokens: every write grant gets a token larger than every earlier one (the lock's rule), so write tokens are
/// strictly increasing. A read grant takes no new value: its <see cref="IDistributedLockHandle.FencingToken"/> is the
/// token of the last write grant before it (or, once that has expired with its lease, a value from the server clock
/// between the earlier and the later write tokens), shared by the readers of that interval. A storage that
/// keeps the largest write token it has seen can thus tell a reader that a write has happened since its grant.
/// </remarks>
/// <example>
/// <code>
/// await using (IDistributedLockHandle read = await rwLocks.AcquireReadLockAsync("catalog", TimeSpan.FromSeconds(5), cancellationToken: ct))
/// {
///     await ShowCatalogAsync(ct);
/// }
///
/// await using IDistributedLockHandle write = await rwLocks.AcquireWriteLockAsync("catalog", TimeSpan.FromSeconds(30), cancellationToken: ct);
/// await catalog.ReplaceAsync(items, fencingToken: write.FencingToken, ct);
/// </code>
/// </example>
public interface IDistributedReaderWriterLockProvider
{
    /// <summary>Acquires a read lock on <paramref name="name"/>, waiting up to <paramref name="timeout"/> while a writer holds or waits for it.</summary>
    /// <param name="name">The lock name: 1 to 256 characters, no braces, no control characters.</param>
    /// <param name="timeout">How long to wait; null or <see cref="Timeout.InfiniteTimeSpan"/> waits until <paramref name="cancellationToken"/> fires; <see cref="TimeSpan.Zero"/> tries once.</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held read lock; dispose it (or call <see cref="IDistributedLockHandle.ReleaseAsync"/>) to release it.</returns>
    /// <exception cref="TimeoutException">A writer held or waited for the lock for the whole <paramref name="timeout"/>.</exception>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle> AcquireReadLockAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Tries to acquire a read lock on <paramref name="name"/>, waiting up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The lock name.</param>
    /// <param name="timeout">How long to wait; <see cref="TimeSpan.Zero"/> (the default) tries once.</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held read lock, or null when a writer held or waited for the lock for the whole <paramref name="timeout"/>.</returns>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle?> TryAcquireReadLockAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acquires the write lock on <paramref name="name"/>, waiting up to <paramref name="timeout"/> for readers and another
    /// writer to finish. While it waits, no new reader is admitted; when it gives up, readers are admitted again at once.
    /// </summary>
    /// <param name="name">The lock name: 1 to 256 characters, no braces, no control characters.</param>
    /// <param name="timeout">How long to wait; null or <see cref="Timeout.InfiniteTimeSpan"/> waits until <paramref name="cancellationToken"/> fires; <see cref="TimeSpan.Zero"/> tries once (and blocks no reader).</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held write lock; its <see cref="IDistributedLockHandle.FencingToken"/> is larger than every earlier grant's.</returns>
    /// <exception cref="TimeoutException">Readers or another writer kept the lock for the whole <paramref name="timeout"/>.</exception>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle> AcquireWriteLockAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Tries to acquire the write lock on <paramref name="name"/>, waiting up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The lock name.</param>
    /// <param name="timeout">How long to wait; <see cref="TimeSpan.Zero"/> (the default) tries once.</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held write lock, or null when readers or another writer kept it for the whole <paramref name="timeout"/>.</returns>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle?> TryAcquireWriteLockAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);
}
