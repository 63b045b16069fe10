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
        local payload = ARGV[1] .. string.format('%d', now) .. ARGV[2]
        redis.call('SET', KEYS[1], payload, 'PX', ARGV[3])
        if ARGV[6] == '1' and redis.call('GET', KEYS[2]) == ARGV[5] then
          redis.call('DEL', KEYS[2])
        end
        redis.call('PUBLISH', ARGV[4], payload)
        return now
        """;

    /// <summary>KEYS[1] state. Returns { payload or nil, server now in ms }.</summary>
    internal const string ReadStateScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        return { redis.call('GET', KEYS[1]), now }
        """;

    private readonly IConnectionMultiplexer _connection;
    private readonly BreakerKeys _keys;
    private readonly RedisChannel _channel;
    private readonly TimeSpan _stateTtl;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _syncLoop;
    private readonly Task _subscribed;
    private int _disposed;

    public RedisBreakerStateStore(IConnectionMultiplexer connection, string keyPrefix, string instanceId, TimeSpan syncInterval, TimeSpan stateTtl, TimeProvider timeProvider, ILogger logger)
    {
        _connection = connection;
        _keys = new BreakerKeys(Lilith.Common.KeySchema.ValidatePrefix(keyPrefix));
        _channel = RedisChannel.Literal(_keys.ChangedChannel());
        _stateTtl = stateTtl;
        _logger = logger;
        InstanceId = instanceId;
        _connection.ConnectionRestored += OnConnectionRestored;
        _subscribed = SubscribeChannelAsync();
        _syncLoop = SyncLoopAsync(syncInterval, timeProvider);
    }

    public string InstanceId { get; }

    public event Action? Reconnected;

    /// <summary>Completes when the channel subscription is in place (tests wait on it).</summary>
    internal Task Subscribed => _subscribed;

    public async ValueTask<BreakerStateSnapshot> WriteAsync(BreakerStateSnapshot snapshot, bool releaseProbe, CancellationToken cancellationToken)
    {
        BreakerStateSnapshot mine = snapshot with { Instance = InstanceId };
        (string head, string tail) = BreakerStatePayload.SplitForScript(mine);
        long ttl = (long)(_stateTtl + mine.BreakDuration).TotalMilliseconds;
        RedisResult result = await _connection.GetDatabase().ScriptEvaluateAsync(
            WriteStateScript,
            [_keys.State(mine.Breaker), _keys.Probe(mine.Breaker)],
            [head, tail, ttl, _channel.ToString(), InstanceId, releaseProbe ? "1" : "0"]).WaitAsync(cancellationToken).ConfigureAwait(false);
        BreakerStateSnapshot written = mine with { ChangedAt = (long)result };
        if (_subscriptions.TryGetValue(mine.Breaker, out Subscription? sub))
        {
            sub.LastSeen = written.ChangedAt;
        }

        return written;
    }

    public async ValueTask<BreakerStateSnapshot?> ReadAsync(string breaker, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _connection.GetDatabase().ScriptEvaluateAsync(ReadStateScript, [_keys.State(breaker)])
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
        if (!_connection.IsConnected)
        {
            // Redis is away: this instance decides alone, on its local state.
            return true;
        }

        return await _connection.GetDatabase().StringSetAsync(_keys.Probe(breaker), InstanceId, lease, When.NotExists)
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

        _connection.ConnectionRestored -= OnConnectionRestored;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _syncLoop.ConfigureAwait(false);
            await _connection.GetSubscriber().UnsubscribeAsync(_channel).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Shutting down; the connection may be gone already.
            LogRedisError("unsubscribe", e.Message);
        }

    }

    private async Task SubscribeChannelAsync()
    {
        try
        {
            await _connection.GetSubscriber().SubscribeAsync(_channel, (_, message) => OnMessage(message)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // StackExchange.Redis re-subscribes on reconnect only for subscriptions it knows; the sync loop retries.
            LogRedisError("subscribe", e.Message);
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
        if (!_connection.IsConnected)
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
                LogRedisError("resync", e.Message);
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

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Redis {Operation} for breaker state failed; breakers go on with local state: {Reason}")]
    private partial void LogRedisError(string operation, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "A state-change handler of breaker '{Breaker}' failed")]
    private partial void LogHandlerFailed(string breaker, Exception exception);
}
