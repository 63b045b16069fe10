using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Locks, semaphore slots, or read or write grants of reader-writer locks in Redis, one script per operation
/// (schema/distributed-lock.md). One instance is one <see cref="LockKind"/>; the views share the connection.
/// </summary>
internal sealed class RedisLockBackend : ILockBackend
{
    private readonly RedisConnectionSource _connection;
    private readonly LockKeys _keys;
    private readonly bool _ownsConnection;
    private readonly long _semaphoreMaxCount;
    private readonly long _intentLeaseMs;
    private readonly ReplicaAcknowledgement _replicas;

    public RedisLockBackend(RedisConnectionSource connection, LockKeys keys, ReplicaAcknowledgement replicas = default)
        : this(connection, keys, replicas, LockKind.Lock, ownsConnection: true, semaphoreMaxCount: 0, intentLeaseMs: 0)
    {
    }

    private RedisLockBackend(RedisConnectionSource connection, LockKeys keys, ReplicaAcknowledgement replicas, LockKind kind, bool ownsConnection, long semaphoreMaxCount, long intentLeaseMs)
    {
        _connection = connection;
        _keys = keys;
        _replicas = replicas;
        Kind = kind;
        _ownsConnection = ownsConnection;
        _semaphoreMaxCount = semaphoreMaxCount;
        _intentLeaseMs = intentLeaseMs;
        Description = "Redis (" + connection.Description + ")";
    }

    public string Description { get; }

    public LockKind Kind { get; }

    /// <summary>A backend on a connection owned by the caller (tests, benchmarks).</summary>
    public static RedisLockBackend On(IConnectionMultiplexer shared, LockKeys keys, ReplicaAcknowledgement replicas = default) => new(new RedisConnectionSource(shared), keys, replicas);

    public ILockBackend ForSemaphore(int maxCount) => new RedisLockBackend(_connection, _keys, _replicas, LockKind.Semaphore, ownsConnection: false, maxCount, 0);

    public ILockBackend ForReaderWriter(bool write, TimeSpan intentLease) =>
        new RedisLockBackend(_connection, _keys, _replicas, write ? LockKind.Write : LockKind.Read, ownsConnection: false, 0, Milliseconds(intentLease));

    public async ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, bool waiting, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        Task<RedisResult> evaluation = Kind switch
        {
            LockKind.Lock => db.ScriptEvaluateAsync(LockScripts.Acquire, [_keys.Lock(name), _keys.Fence(name)], [holder, Milliseconds(ttl)]),
            LockKind.Semaphore => db.ScriptEvaluateAsync(SemaphoreScripts.Acquire, [_keys.SemaphoreHolders(name), _keys.SemaphoreFence(name)], [holder, Milliseconds(ttl), _semaphoreMaxCount]),
            LockKind.Read => db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireRead, ReaderWriterKeys(name), [holder, Milliseconds(ttl)]),
            _ => db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireWrite, ReaderWriterKeys(name), [holder, Milliseconds(ttl), waiting ? _intentLeaseMs : 0]),
        };
        var parts = (RedisResult[])(await Answer(evaluation, cancellationToken).ConfigureAwait(false))!;
        long value = (long)parts[1];
        if ((long)parts[0] != 1)
        {
            return AcquireAttempt.Busy(value >= 0 ? TimeSpan.FromMilliseconds(value) : null);
        }

        // Not confirmed: the provider's next try with the same holder token finds this grant, or its cleanup releases it.
        await ConfirmAsync(db, _keys.Lock(name), name, cancellationToken).ConfigureAwait(false);
        return AcquireAttempt.Grant(value);
    }

    public async ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        Task<RedisResult> evaluation = Kind switch
        {
            LockKind.Lock => db.ScriptEvaluateAsync(LockScripts.Renew, [_keys.Lock(name)], [holder, Milliseconds(ttl)]),
            LockKind.Semaphore => db.ScriptEvaluateAsync(SemaphoreScripts.Renew, [_keys.SemaphoreHolders(name)], [holder, Milliseconds(ttl)]),
            LockKind.Read => db.ScriptEvaluateAsync(SemaphoreScripts.Renew, [_keys.Readers(name)], [holder, Milliseconds(ttl)]),
            _ => db.ScriptEvaluateAsync(LockScripts.Renew, [_keys.Writer(name)], [holder, Milliseconds(ttl)]),
        };
        if ((long)await Answer(evaluation, cancellationToken).ConfigureAwait(false) != 1)
        {
            return false;
        }

        await ConfirmAsync(db, _keys.Lock(name), name, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        Task<RedisResult> evaluation = Kind switch
        {
            LockKind.Lock => db.ScriptEvaluateAsync(LockScripts.Release, [_keys.Lock(name), _keys.ReleasedChannel(name)], [holder]),
            LockKind.Semaphore => db.ScriptEvaluateAsync(SemaphoreScripts.Release, [_keys.SemaphoreHolders(name), _keys.SemaphoreReleasedChannel(name)], [holder]),
            LockKind.Read => db.ScriptEvaluateAsync(SemaphoreScripts.Release, [_keys.Readers(name), _keys.ReaderWriterReleasedChannel(name)], [holder]),
            _ => db.ScriptEvaluateAsync(LockScripts.Release, [_keys.Writer(name), _keys.ReaderWriterReleasedChannel(name)], [holder]),
        };
        return (long)await Answer(evaluation, cancellationToken).ConfigureAwait(false) == 1;
    }

    public async ValueTask WithdrawAsync(string name, string holder, CancellationToken cancellationToken)
    {
        if (Kind != LockKind.Write)
        {
            return;
        }

        // The lock's release script on the intent key: compare-and-delete, and announce it to the readers it blocked.
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        await TaskObservation.WaitAsync(
            db.ScriptEvaluateAsync(LockScripts.Release, [_keys.WriterIntent(name), _keys.ReaderWriterReleasedChannel(name)], [holder]),
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken)
    {
        IConnectionMultiplexer multiplexer = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        ISubscriber subscriber = multiplexer.GetSubscriber();
        RedisChannel channel = RedisChannel.Literal(Kind switch
        {
            LockKind.Lock => _keys.ReleasedChannel(name),
            LockKind.Semaphore => _keys.SemaphoreReleasedChannel(name),
            _ => _keys.ReaderWriterReleasedChannel(name),
        });
        Action<RedisChannel, RedisValue> handler = (_, _) => waiter.Notify();
        await TaskObservation.WaitAsync(subscriber.SubscribeAsync(channel, handler), cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel, handler);
    }

    // StackExchange.Redis usually wraps a broken socket in RedisConnectionException, but a command in flight when the
    // connection resets can be handed the pipe's own exception (an IOException or SocketException) instead.
    public bool IsUnavailable(Exception error) =>
        error is RedisConnectionException or RedisTimeoutException or ReplicasDidNotConfirmException or IOException or System.Net.Sockets.SocketException ||
        (error is RedisServerException server && (server.Message.StartsWith("LOADING", StringComparison.Ordinal) || server.Message.StartsWith("BUSY", StringComparison.Ordinal)));

    // Redis 7 passes a script's error code through (READONLY ...); Redis 6.2 wraps it (ERR Error running script ... -READONLY ...).
    public bool MeansLeaseLost(Exception error) =>
        error is RedisServerException server && (HasCode(server.Message, "READONLY") || HasCode(server.Message, "MASTERDOWN"));

    // The views share the lock backend's connection; only the lock backend owns it.
    public ValueTask DisposeAsync() => _ownsConnection ? _connection.DisposeAsync() : default;

    /// <summary>The script's answer; wrapped in a cancellable wait only when the token can fire (the common call has none).</summary>
    private static ValueTask<RedisResult> Answer(Task<RedisResult> evaluation, CancellationToken cancellationToken) =>
        evaluation.IsCompleted || !cancellationToken.CanBeCanceled
            ? new ValueTask<RedisResult>(evaluation)
            : new ValueTask<RedisResult>(TaskObservation.WaitAsync(evaluation, cancellationToken));

    /// <summary>
    /// With replica acknowledgements configured: <c>WAIT</c> on the master that owns the lock's hash slot (every key of a
    /// lock, semaphore or reader-writer lock of one name shares the tag {name}; <paramref name="slotKey"/> is any of them), on
    /// the connection that sent the script.
    /// </summary>
    private async ValueTask ConfirmAsync(IDatabase db, RedisKey slotKey, string name, CancellationToken cancellationToken)
    {
        if (_replicas.Count == 0)
        {
            return;
        }

        IServer master = db.Multiplexer.GetServer(slotKey);
        long confirmed = (long)await TaskObservation.WaitAsync(
            master.ExecuteAsync("WAIT", _replicas.Count, (long)_replicas.Timeout.TotalMilliseconds), cancellationToken).ConfigureAwait(false);
        if (confirmed < _replicas.Count)
        {
            throw new ReplicasDidNotConfirmException(
                $"{confirmed} of {_replicas.Count} replicas of {master.EndPoint} confirmed '{name}' within {_replicas.Timeout.TotalMilliseconds} ms (DistributedLockOptions.ReplicaAcknowledgements)");
        }
    }

    private static bool HasCode(string message, string code) =>
        message.StartsWith(code, StringComparison.Ordinal) || message.Contains(" -" + code + " ", StringComparison.Ordinal);

    private static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);

    private RedisKey[] ReaderWriterKeys(string name) => [_keys.Readers(name), _keys.Writer(name), _keys.WriterIntent(name), _keys.ReaderWriterFence(name)];

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken) =>
        (await _connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

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

/// <summary>How many replicas must confirm a grant or renewal (<c>WAIT</c>), and how long to wait; the default asks none.</summary>
internal readonly record struct ReplicaAcknowledgement(int Count, TimeSpan Timeout);

/// <summary>Fewer replicas than configured confirmed a grant or renewal in time: counted as "Redis not reachable" (tried again).</summary>
internal sealed class ReplicasDidNotConfirmException(string message) : RedisException(message);
