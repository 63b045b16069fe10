using System.Collections.Concurrent;
using System.Globalization;
using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>The schema on Redis: every write one script on the service's hash-tagged keys.</summary>
internal sealed class RedisDiscoveryBackend(RedisConnectionSource connection, string prefix) : IDiscoveryBackend
{
    private readonly DiscoveryKeys _keys = new(prefix);
    private IConnectionMultiplexer? _subscribed;
    private EventHandler<ConnectionFailedEventArgs>? _restored;
    private Action<RedisChannel, RedisValue>? _handler;
    private Action<RedisChannel, RedisValue>? _patternHandler;
    private readonly ConcurrentDictionary<string, Task> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _confirmed = new(StringComparer.Ordinal);
    private Task? _pattern;

    public string Description => connection.Description;

    public bool IsReachable => _subscribed?.IsConnected ?? true;

    private async ValueTask<IDatabase> DbAsync(CancellationToken cancellationToken) =>
        (await connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    public async Task<(int Status, string? Current)> RegisterAsync(string service, string id, string expectedJson, string newJson,
        IReadOnlyList<(string Dimension, string Value)> oldIndex, IReadOnlyList<(string Dimension, string Value)> newIndex, long ttlMs, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[3 + oldIndex.Count + newIndex.Count];
        keys[0] = _keys.Instances(service);
        keys[1] = _keys.Expiry(service);
        keys[2] = _keys.Revision(service);
        int k = 3;
        foreach ((string d, string v) in oldIndex)
        {
            keys[k++] = _keys.Index(service, d, v);
        }

        foreach ((string d, string v) in newIndex)
        {
            keys[k++] = _keys.Index(service, d, v);
        }

        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.Register, keys,
        [
            id, expectedJson, newJson, ttlMs, oldIndex.Count, _keys.EventsChannel(service),
            EventCodec.JsonString(service), EventCodec.JsonString(id),
        ]).WaitAsync(cancellationToken).ConfigureAwait(false);
        RedisResult[] reply = (RedisResult[])result!;
        int status = (int)reply[0];
        return (status, status == -1 ? (string?)reply[1] : null);
    }

    public async Task<bool> HeartbeatAsync(string service, string id, long ttlMs, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.Heartbeat,
            [_keys.Instances(service), _keys.Expiry(service)], [id, ttlMs]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)result == 1;
    }

    public async Task<int> RemoveAsync(string service, string id, string expectedJson, IReadOnlyList<(string Dimension, string Value)> index, bool expired, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[3 + index.Count];
        keys[0] = _keys.Instances(service);
        keys[1] = _keys.Expiry(service);
        keys[2] = _keys.Revision(service);
        for (int i = 0; i < index.Count; i++)
        {
            keys[3 + i] = _keys.Index(service, index[i].Dimension, index[i].Value);
        }

        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.Remove, keys,
        [
            id, expectedJson, expired ? "expired" : "deregistered", _keys.EventsChannel(service),
            EventCodec.JsonString(service), EventCodec.JsonString(id),
        ]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)result;
    }

    public async Task<(int Status, string? Json)> SetHealthAsync(string service, string id, InstanceHealth health, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.SetHealth,
            [_keys.Instances(service), _keys.Revision(service)],
            [id, InstanceCodec.HealthText(health), _keys.EventsChannel(service), EventCodec.JsonString(service), EventCodec.JsonString(id)])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        RedisResult[] reply = (RedisResult[])result!;
        return ((int)reply[0], (string?)reply[1]);
    }

    public async Task<string?> GetAsync(string service, string id, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return await db.HashGetAsync(_keys.Instances(service), id).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<LoadReply> LoadAsync(string service, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.Load,
            [_keys.Instances(service), _keys.Expiry(service), _keys.Revision(service)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        RedisResult[] reply = (RedisResult[])result!;
        long revision = long.TryParse((string?)reply[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long r) ? r : 0;
        return new LoadReply(revision, Pairs((RedisResult[])reply[1]!));
    }

    public async Task<IReadOnlyList<KeyValuePair<string, string>>> ExpiredAsync(string service, int limit, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult result = await db.ScriptEvaluateAsync(DiscoveryScripts.Expired,
            [_keys.Instances(service), _keys.Expiry(service)], [limit]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return Pairs((RedisResult[])result!);
    }

    public async Task<IReadOnlyList<(string Name, double Score)>> ServicesAsync(long start, int count, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        SortedSetEntry[] page = await db.SortedSetRangeByRankWithScoresAsync(_keys.Services(), start, start + count - 1).WaitAsync(cancellationToken).ConfigureAwait(false);
        return page.Select(e => ((string)e.Element!, e.Score)).ToList();
    }

    public async Task<bool> TrySweepLeaseAsync(string token, long leaseMs, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return (int)await db.ScriptEvaluateAsync(DiscoveryScripts.SweepLease, [_keys.Sweeper()], [token, leaseMs]).WaitAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<long> CountAsync(string service, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return await db.HashLengthAsync(_keys.Instances(service)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> PruneServiceAsync(string service, double score, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return (int)await db.ScriptEvaluateAsync(DiscoveryScripts.PruneService, [_keys.Services()],
            [service, score.ToString("R", CultureInfo.InvariantCulture)]).WaitAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task TouchServiceAsync(string service, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        await db.ScriptEvaluateAsync(DiscoveryScripts.TouchService, [_keys.Services()], [service]).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task SubscribeAsync(Action<string, string> onEvent, Action onReconnected, CancellationToken cancellationToken)
    {
        IConnectionMultiplexer mux = await connection.GetAsync(cancellationToken).ConfigureAwait(false);
        (string head, string tail) = _keys.EventsChannelAroundName();
        _restored = (_, _) => onReconnected();
        mux.ConnectionRestored += _restored;
        _subscribed = mux;
        _handler = (channel, message) =>
        {
            string name = channel.ToString();
            if (name.Length > head.Length + tail.Length && !message.IsNull)
            {
                onEvent(name[head.Length..^tail.Length], message!);
            }
        };
        _patternHandler = (channel, message) =>
        {
            string name = channel.ToString();
            // A service with a channel subscription of its own gets the message from it (Redis sends both).
            if (name.Length > head.Length + tail.Length && !message.IsNull && !_confirmed.ContainsKey(name[head.Length..^tail.Length]))
            {
                onEvent(name[head.Length..^tail.Length], message!);
            }
        };
    }

    public Task SubscribeServiceAsync(string? service, CancellationToken cancellationToken)
    {
        ISubscriber subscriber = (_subscribed ?? throw new InvalidOperationException("SubscribeAsync first.")).GetSubscriber();
        Task subscription;
        lock (_channels)
        {
            if (service is null)
            {
                if (_pattern is null || _pattern.IsFaulted || _pattern.IsCanceled)
                {
                    (string head, string tail) = _keys.EventsChannelAroundName();
                    _pattern = subscriber.SubscribeAsync(EventsPattern(head, tail), _patternHandler!);
                }

                subscription = _pattern;
            }
            else
            {
                if (!_channels.TryGetValue(service, out Task? existing) || existing.IsFaulted || existing.IsCanceled)
                {
                    _channels[service] = existing = SubscribeChannelAsync(subscriber, service);
                }

                subscription = existing;
            }
        }

        return subscription.WaitAsync(cancellationToken);
    }

    private async Task SubscribeChannelAsync(ISubscriber subscriber, string service)
    {
        await subscriber.SubscribeAsync(RedisChannel.Literal(_keys.EventsChannel(service)), _handler!).ConfigureAwait(false);
        _confirmed[service] = 0;
    }

    /// <summary>Every service's events channel under this prefix.</summary>
    private static RedisChannel EventsPattern(string head, string tail) => RedisChannel.Pattern(head + "*" + tail);

    private static List<KeyValuePair<string, string>> Pairs(RedisResult[] flat)
    {
        var list = new List<KeyValuePair<string, string>>(flat.Length / 2);
        for (int i = 0; i + 1 < flat.Length; i += 2)
        {
            list.Add(new((string)flat[i]!, (string?)flat[i + 1] ?? string.Empty));
        }

        return list;
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscribed is { } mux)
        {
            if (_restored is not null)
            {
                mux.ConnectionRestored -= _restored;
            }

            try
            {
                // Only this client's handlers: the multiplexer may be shared with other users of the same channels.
                ISubscriber subscriber = mux.GetSubscriber();
                var unsubscribing = _channels.Keys.Select(s => subscriber.UnsubscribeAsync(RedisChannel.Literal(_keys.EventsChannel(s)), _handler)).ToList();
                if (_pattern is not null)
                {
                    (string head, string tail) = _keys.EventsChannelAroundName();
                    unsubscribing.Add(subscriber.UnsubscribeAsync(EventsPattern(head, tail), _patternHandler));
                }

                await Task.WhenAll(unsubscribing).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Shutting down while Redis is away: nothing to unsubscribe from.
            }
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
