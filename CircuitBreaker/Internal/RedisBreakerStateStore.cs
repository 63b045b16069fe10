using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>
/// Shares breaker state through Redis (schema/circuit-breaker.md): the <c>state</c> key with a TTL, the
/// <c>probe</c> lease, announcements on the <c>changed</c> channel, and a periodic resync that also picks up
/// states written without an announcement. Every Redis error is caught here or by the breaker.
/// </summary>
internal sealed partial class RedisBreakerStateStore : IBreakerStateStore
{
    /// <summary>KEYS[1] state, KEYS[2] probe; ARGV[1] payload head, ARGV[2] payload tail, ARGV[3] TTL ms, ARGV[4] channel, ARGV[5] instance, ARGV[6] '1' to free the probe lease. Returns changedAt.</summary>
    internal const string WriteStateScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local previous = tonumber(string.match(redis.call('GET', KEYS[1]) or '', '"changedAt":(%d+)'))
        if previous and previous >= now then
          now = previous + 1
        end
        local payload = ARGV[1] .. string.format('%d', now) .. ARGV[2]
        redis.call('SET', KEYS[1], payload, 'PX', ARGV[3])
        if ARGV[6] == '1' and redis.call('GET', KEYS[2]) == ARGV[5] then
          redis.call('DEL', KEYS[2])
        end
        redis.call('PUBLISH', ARGV[4], payload)
        return now
        """;

    /// <summary>KEYS[1] probe; ARGV[1] instance, ARGV[2] lease ms. Returns 1 when the lease was extended, 0 when another instance (or none) holds it.</summary>
    internal const string RenewProbeScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """;

    /// <summary>
    /// KEYS[1] trips, KEYS[2] members, KEYS[3] state; ARGV[1] instance, ARGV[2] alive|trip|recover, ARGV[3] window ms,
    /// ARGV[4] instances, ARGV[5] fraction (0 for none), ARGV[6] open payload head, ARGV[7] open payload tail,
    /// ARGV[8] state TTL ms, ARGV[9] channel. Returns { opened 0|1, trips, required, now }.
    /// </summary>
    internal const string ReportScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[3])
        local since = now - window
        redis.call('ZADD', KEYS[2], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', since)
        redis.call('PEXPIRE', KEYS[2], window)
        if ARGV[2] == 'trip' then
          redis.call('ZADD', KEYS[1], now, ARGV[1])
        elseif ARGV[2] == 'recover' then
          redis.call('ZREM', KEYS[1], ARGV[1])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('PEXPIRE', KEYS[1], window)
        end
        local state = nil
        local current = redis.call('GET', KEYS[3])
        if current then
          local ok, decoded = pcall(cjson.decode, current)
          if ok and type(decoded) == 'table' then
            state = decoded
          end
        end
        if state and state.state == 'closed' and type(state.changedAt) == 'number' and state.changedAt > since then
          since = state.changedAt
        end
        local trips = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', since), '+inf')
        local live = redis.call('ZCARD', KEYS[2])
        local required = math.max(tonumber(ARGV[4]), math.ceil(tonumber(ARGV[5]) * live))
        local fleetOpen = state ~= nil and state.state ~= 'closed'
        if ARGV[2] ~= 'trip' or fleetOpen or trips < required then
          return { 0, trips, required, now }
        end
        local changedAt = now
        if state and type(state.changedAt) == 'number' and state.changedAt >= changedAt then
          changedAt = state.changedAt + 1
        end
        local payload = ARGV[6] .. string.format('%d', changedAt) .. ARGV[7]
        redis.call('SET', KEYS[3], payload, 'PX', ARGV[8])
        redis.call('PUBLISH', ARGV[9], payload)
        return { 1, trips, required, changedAt }
        """;

    /// <summary>KEYS[1] state. Returns { payload or nil, server now in ms }.</summary>
    internal const string ReadStateScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        return { redis.call('GET', KEYS[1]), now }
        """;

    private readonly Task<IConnectionMultiplexer> _connecting;
    private volatile IConnectionMultiplexer? _connection;
    private readonly BreakerKeys _keys;
    private readonly RedisChannel _channel;
    private readonly TimeSpan _stateTtl;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _syncLoop;
    private readonly Task _subscribed;
    private int _disposed;

    public RedisBreakerStateStore(IConnectionMultiplexer connection, string keyPrefix, string instanceId, TimeSpan syncInterval, TimeSpan stateTtl, TimeProvider timeProvider, ILoggerFactory loggerFactory)
        : this(Task.FromResult(connection), keyPrefix, instanceId, syncInterval, stateTtl, timeProvider, loggerFactory)
    {
    }

    /// <summary>
    /// A store whose connection is still being made: until <paramref name="connecting"/> completes, breakers go on with
    /// their local state (the probe is decided locally, writes and reads wait in the background).
    /// </summary>
    public RedisBreakerStateStore(Task<IConnectionMultiplexer> connecting, string keyPrefix, string instanceId, TimeSpan syncInterval, TimeSpan stateTtl, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _connecting = connecting;
        _keys = new BreakerKeys(Lilith.Common.KeySchema.ValidatePrefix(keyPrefix));
        _channel = RedisChannel.Literal(_keys.ChangedChannel());
        _stateTtl = stateTtl;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Lilith.CircuitBreaker.RedisBreakerStateStore");
        InstanceId = instanceId;
        _subscribed = SubscribeChannelAsync();
        _syncLoop = SyncLoopAsync(syncInterval, timeProvider);
    }

    /// <summary>Where the store logs; breakers built without a logger factory of their own log there too.</summary>
    internal ILoggerFactory LoggerFactory => _loggerFactory;

    public string InstanceId { get; }

    public event Action? Reconnected;

    /// <summary>Completes when the channel subscription is in place (tests wait on it).</summary>
    internal Task Subscribed => _subscribed;

    public async ValueTask<BreakerStateSnapshot> WriteAsync(BreakerStateSnapshot snapshot, bool releaseProbe, CancellationToken cancellationToken)
    {
        BreakerStateSnapshot mine = snapshot with { Instance = InstanceId };
        (string head, string tail) = BreakerStatePayload.SplitForScript(mine);
        long ttl = StateTtlMs(mine);
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(
            WriteStateScript,
            [_keys.State(mine.Breaker), _keys.Probe(mine.Breaker)],
            [head, tail, ttl, _channel.ToString(), InstanceId, releaseProbe ? "1" : "0"]).WaitAsync(cancellationToken).ConfigureAwait(false);
        BreakerStateSnapshot written = mine with { ChangedAt = (long)result };
        NoteOwnWrite(written);
        return written;
    }

    public async ValueTask<bool> RenewProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(RenewProbeScript, [_keys.Probe(breaker)], [InstanceId, (long)lease.TotalMilliseconds])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<BreakerQuorumResult> ReportAsync(string breaker, BreakerReportKind kind, BreakerQuorum quorum, BreakerStateSnapshot? opening, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(quorum);
        BreakerStateSnapshot? mine = opening is null ? null : opening with { Breaker = breaker, Instance = InstanceId };
        (string head, string tail) = mine is null ? (string.Empty, string.Empty) : BreakerStatePayload.SplitForScript(mine);
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(
            ReportScript,
            [_keys.Trips(breaker), _keys.Members(breaker), _keys.State(breaker)],
            [
                InstanceId, BreakerQuorumRule.KindName(kind), (long)quorum.Window.TotalMilliseconds, quorum.Instances,
                BreakerQuorumRule.FractionArgument(quorum), head, tail, mine is null ? 0 : StateTtlMs(mine), _channel.ToString(),
            ]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var answer = new BreakerQuorumResult((long)result[0] == 1, (int)result[1], (int)result[2], (long)result[3]);
        if (answer.Opened && mine is not null)
        {
            NoteOwnWrite(mine with { ChangedAt = answer.ReportedAt });
        }

        return answer;
    }

    private long StateTtlMs(BreakerStateSnapshot s) => (long)(_stateTtl + s.BreakDuration).TotalMilliseconds;

    private void NoteOwnWrite(BreakerStateSnapshot written)
    {
        if (_subscriptions.TryGetValue(written.Breaker, out Subscription? sub))
        {
            lock (sub)
            {
                sub.LastSeen = written.ChangedAt;
                sub.LastInstance = written.Instance;
                sub.LastState = written.State;
            }
        }
    }

    /// <summary>The database, once connected (waits in the background while the first connection is made).</summary>
    private ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken) =>
        _connection is { } connection ? new(connection.GetDatabase()) : WaitForDatabaseAsync(cancellationToken);

    private async ValueTask<IDatabase> WaitForDatabaseAsync(CancellationToken cancellationToken) =>
        (await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    public async ValueTask<BreakerStateSnapshot?> ReadAsync(string breaker, CancellationToken cancellationToken)
    {
        IDatabase db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(ReadStateScript, [_keys.State(breaker)])
            .WaitAsync(cancellationToken).ConfigureAwait(false))!;
        if (result[0].IsNull)
        {
            return null;
        }

        string key = _keys.State(breaker);
        BreakerStateSnapshot s;
        try
        {
            s = BreakerStatePayload.Read((string)result[0]!);
        }
        catch (FormatException e)
        {
            LogUnreadable(key, e.Message);
            BreakerTelemetry.Unreadable.Add(1, new KeyValuePair<string, object?>("key", key));
            return null;
        }

        long now = (long)result[1];
        long left = s.ChangedAt + (long)s.BreakDuration.TotalMilliseconds - now;
        return s with { RetryAfter = s.State == CircuitState.Open ? TimeSpan.FromMilliseconds(Math.Max(0, left)) : TimeSpan.Zero };
    }

    public async ValueTask<bool> TryAcquireProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (_connection is not { IsConnected: true } connection)
        {
            // Redis is away (or not connected yet): this instance decides alone, on its local state.
            return true;
        }

        return await connection.GetDatabase().StringSetAsync(_keys.Probe(breaker), InstanceId, lease, When.NotExists)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public IDisposable Subscribe(string breaker, Action<BreakerStateSnapshot> onChanged)
    {
        Subscription sub = _subscriptions.GetOrAdd(breaker, static b => new Subscription(b));
        lock (sub)
        {
            sub.Handlers.Add(onChanged);
        }

        return new Unsubscribe(sub, onChanged);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _syncLoop.ConfigureAwait(false);
            await _subscribed.ConfigureAwait(false);
            if (_connection is { } connection)
            {
                connection.ConnectionRestored -= OnConnectionRestored;
                await connection.GetSubscriber().UnsubscribeAsync(_channel).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Shutting down; the connection may be gone already.
            LogRedisError("unsubscribe", e);
        }

    }

    private async Task SubscribeChannelAsync()
    {
        IConnectionMultiplexer connection;
        try
        {
            connection = await _connecting.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Disposed before the connection was made, or it could not be made: breakers go on with local state.
            LogRedisError("connect", e);
            return;
        }

        connection.ConnectionRestored += OnConnectionRestored;
        _connection = connection;
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await connection.GetSubscriber().SubscribeAsync(_channel, (_, message) => OnMessage(message)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // StackExchange.Redis re-subscribes on reconnect only for subscriptions it knows; the sync loop retries.
            LogRedisError("subscribe", e);
        }
    }

    private void OnMessage(RedisValue message)
    {
        BreakerStateSnapshot s;
        try
        {
            s = BreakerStatePayload.Read((string)message!);
        }
        catch (FormatException e)
        {
            LogUnreadable(_channel.ToString(), e.Message);
            BreakerTelemetry.Unreadable.Add(1, new KeyValuePair<string, object?>("key", _channel.ToString()));
            return;
        }

        Dispatch(s with { RetryAfter = s.BreakDuration });
    }

    private void Dispatch(BreakerStateSnapshot s)
    {
        if (!_subscriptions.TryGetValue(s.Breaker, out Subscription? sub) || s.Instance == InstanceId)
        {
            return;
        }

        Action<BreakerStateSnapshot>[] handlers;
        lock (sub)
        {
            if (sub.LastSeen == s.ChangedAt && sub.LastInstance == s.Instance && sub.LastState == s.State)
            {
                return;
            }

            sub.LastSeen = s.ChangedAt;
            sub.LastInstance = s.Instance;
            sub.LastState = s.State;
            handlers = [.. sub.Handlers];
        }

        foreach (Action<BreakerStateSnapshot> handler in handlers)
        {
            try
            {
                handler(s);
            }
            catch (Exception e)
            {
                LogHandlerFailed(s.Breaker, e);
            }
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await ResyncAsync().ConfigureAwait(false);
            RaiseReconnected();
        });
    }

    private void RaiseReconnected()
    {
        try
        {
            Reconnected?.Invoke();
        }
        catch (Exception ex)
        {
            LogHandlerFailed("*", ex);
        }
    }

    private async Task SyncLoopAsync(TimeSpan interval, TimeProvider timeProvider)
    {
        using var timer = new PeriodicTimer(interval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (await ResyncAsync().ConfigureAwait(false))
                {
                    // Breakers whose last write failed publish their state again.
                    RaiseReconnected();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <summary>Re-reads every subscribed breaker; false when Redis did not answer.</summary>
    private async Task<bool> ResyncAsync()
    {
        if (_connection is not { IsConnected: true })
        {
            return false;
        }

        foreach (Subscription sub in _subscriptions.Values)
        {
            try
            {
                if (await ReadAsync(sub.Breaker, _stop.Token).ConfigureAwait(false) is { } s)
                {
                    Dispatch(s);
                }
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (Exception e)
            {
                // Any failure (connection reset, timeout, unexpected reply) is logged; the loop goes on.
                LogRedisError("resync", e);
                return false;
            }
        }

        return true;
    }

    private sealed class Subscription(string breaker)
    {
        public string Breaker { get; } = breaker;

        public List<Action<BreakerStateSnapshot>> Handlers { get; } = [];

        public long LastSeen { get; set; }

        public string? LastInstance { get; set; }

        public CircuitState LastState { get; set; }
    }

    private sealed class Unsubscribe(Subscription sub, Action<BreakerStateSnapshot> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (sub)
            {
                sub.Handlers.Remove(handler);
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Breaker state under '{Key}' cannot be read and is skipped: {Reason}")]
    private partial void LogUnreadable(string key, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Redis {Operation} for breaker state failed; breakers go on with local state")]
    private partial void LogRedisError(string operation, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "A state-change handler of breaker '{Breaker}' failed")]
    private partial void LogHandlerFailed(string breaker, Exception exception);
}
