namespace Lilith.DistributedLock;

/// <summary>
/// Hands out exclusive, leased locks by name. Every lock has a lease (TTL); a holder that dies frees the
/// lock when its lease runs out. Each grant carries a fencing token that is strictly larger than every
/// earlier grant's token for the same name.
/// </summary>
/// <example>
/// <code>
/// await using IDistributedLockHandle handle = await locks.AcquireAsync("orders", TimeSpan.FromSeconds(10), cancellationToken: ct);
/// using var work = CancellationTokenSource.CreateLinkedTokenSource(ct, handle.LostToken);
/// await storage.WriteAsync(order, fencingToken: handle.FencingToken, work.Token);
/// </code>
/// </example>
public interface IDistributedLockProvider
{
    /// <summary>Acquires the lock <paramref name="name"/>, waiting for it up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The lock name: 1 to 256 characters, no braces, no control characters.</param>
    /// <param name="timeout">How long to wait; null or <see cref="Timeout.InfiniteTimeSpan"/> waits until <paramref name="cancellationToken"/> fires; <see cref="TimeSpan.Zero"/> tries once.</param>
    /// <param name="options">Lease and renewal for this lock; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held lock; dispose it (or call <see cref="IDistributedLockHandle.ReleaseAsync"/>) to release it.</returns>
    /// <exception cref="TimeoutException">Another holder kept the lock for the whole <paramref name="timeout"/>.</exception>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle> AcquireAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Tries to acquire the lock <paramref name="name"/>, waiting for it up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The lock name: 1 to 256 characters, no braces, no control characters.</param>
    /// <param name="timeout">How long to wait; <see cref="TimeSpan.Zero"/> (the default) tries once.</param>
    /// <param name="options">Lease and renewal for this lock; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held lock, or null when another holder kept it for the whole <paramref name="timeout"/>.</returns>
    /// <exception cref="DistributedLockException">The backend (Redis) could not be reached until the timeout passed.</exception>
    /// <exception cref="ArgumentException">The name, timeout or options are not valid; the message names the value.</exception>
    ValueTask<IDistributedLockHandle?> TryAcquireAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);
}
