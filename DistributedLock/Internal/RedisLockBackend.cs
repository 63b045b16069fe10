using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Locks (or, with <paramref name="semaphoreMaxCount"/> &gt; 0, slots of a semaphore) in Redis, one script per
/// operation (schema/distributed-lock.md).
/// </summary>
internal sealed class RedisLockBackend(RedisConnectionSource connection, LockKeys keys, int semaphoreMaxCount = 0) : ILockBackend
{
    private readonly bool _semaphore = semaphoreMaxCount > 0;

    /// <summary>A backend on a connection owned by the caller (tests, benchmarks).</summary>
    public static RedisLockBackend On(IConnectionMultiplexer shared, LockKeys keys) => new(new RedisConnectionSource(shared), keys);

    /// <summary>The same store, for slots of a semaphore admitting <paramref name="maxCount"/> holders.</summary>
    public ILockBackend ForSemaphore(int maxCount) => new RedisLockBackend(connection, keys, maxCount);

    public string Description { get; } = "Redis (" + connection.Description + ")";

    public async ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await TaskObservation.WaitAsync(
            _semaphore
                ? db.ScriptEvaluateAsync(SemaphoreScripts.Acquire, [keys.SemaphoreHolders(name), keys.SemaphoreFence(name)], [holder, Milliseconds(ttl), semaphoreMaxCount])
                : db.ScriptEvaluateAsync(LockScripts.Acquire, [keys.Lock(name), keys.Fence(name)], [holder, Milliseconds(ttl)]),
            cancellationToken).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        long value = (long)parts[1];
        return (long)parts[0] == 1
            ? new AcquireAttempt(value, null)
            : new AcquireAttempt(0, value >= 0 ? TimeSpan.FromMilliseconds(value) : null);
    }

    public async ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await TaskObservation.WaitAsync(
            _semaphore
                ? db.ScriptEvaluateAsync(SemaphoreScripts.Renew, [keys.SemaphoreHolders(name)], [holder, Milliseconds(ttl)])
                : db.ScriptEvaluateAsync(LockScripts.Renew, [keys.Lock(name)], [holder, Milliseconds(ttl)]),
            cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await TaskObservation.WaitAsync(
            _semaphore
                ? db.ScriptEvaluateAsync(SemaphoreScripts.Release, [keys.SemaphoreHolders(name), keys.SemaphoreReleasedChannel(name)], [holder])
                : db.ScriptEvaluateAsync(LockScripts.Release, [keys.Lock(name), keys.ReleasedChannel(name)], [holder]),
            cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken)
    {
        IConnectionMultiplexer multiplexer = await connection.GetAsync(cancellationToken).ConfigureAwait(false);
        ISubscriber subscriber = multiplexer.GetSubscriber();
        RedisChannel channel = RedisChannel.Literal(_semaphore ? keys.SemaphoreReleasedChannel(name) : keys.ReleasedChannel(name));
        Action<RedisChannel, RedisValue> handler = (_, _) => waiter.Notify();
        await TaskObservation.WaitAsync(subscriber.SubscribeAsync(channel, handler), cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel, handler);
    }

    public bool IsUnavailable(Exception error) =>
        error is RedisConnectionException or RedisTimeoutException ||
        (error is RedisServerException server && (server.Message.StartsWith("LOADING", StringComparison.Ordinal) || server.Message.StartsWith("BUSY", StringComparison.Ordinal)));

    // A semaphore view shares the lock backend's connection; only the lock backend owns it.
    public ValueTask DisposeAsync() => _semaphore ? default : connection.DisposeAsync();

    private static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken) =>
        (await connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    private sealed class Subscription(ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            // Removes only this waiter's handler; StackExchange.Redis unsubscribes when the channel's last handler goes.
            TaskObservation.Observe(subscriber.UnsubscribeAsync(channel, handler, CommandFlags.FireAndForget));
            return default;
        }
    }
}
