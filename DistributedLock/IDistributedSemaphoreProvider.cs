namespace Lilith.DistributedLock;

/// <summary>
/// Hands out leased slots of named semaphores: at most <c>maxCount</c> holders at once. Slots are leased,
/// renewed, lost, fenced and released exactly like locks (<see cref="IDistributedLockProvider"/>).
/// </summary>
public interface IDistributedSemaphoreProvider
{
    /// <summary>Acquires a slot of the semaphore <paramref name="name"/>, waiting for one up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The semaphore name: 1 to 256 characters, no braces, no control characters.</param>
    /// <param name="maxCount">How many holders the semaphore admits at once (every caller of one name must pass the same value).</param>
    /// <param name="timeout">How long to wait; null waits until <paramref name="cancellationToken"/> fires; <see cref="TimeSpan.Zero"/> tries once.</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held slot; its <see cref="IDistributedLockHandle.FencingToken"/> increases with every grant of the name.</returns>
    /// <exception cref="TimeoutException">No slot was free for the whole <paramref name="timeout"/>.</exception>
    /// <exception cref="DistributedLockException">The backend could not be reached until the timeout passed.</exception>
    ValueTask<IDistributedLockHandle> AcquireSemaphoreAsync(string name, int maxCount, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Tries to acquire a slot of the semaphore <paramref name="name"/>, waiting up to <paramref name="timeout"/>.</summary>
    /// <param name="name">The semaphore name.</param>
    /// <param name="maxCount">How many holders the semaphore admits at once.</param>
    /// <param name="timeout">How long to wait; <see cref="TimeSpan.Zero"/> (the default) tries once.</param>
    /// <param name="options">Lease and renewal; null takes the provider's defaults.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The held slot, or null when none was free for the whole <paramref name="timeout"/>.</returns>
    ValueTask<IDistributedLockHandle?> TryAcquireSemaphoreAsync(string name, int maxCount, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default);
}
