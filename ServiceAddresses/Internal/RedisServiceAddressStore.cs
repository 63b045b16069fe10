using System.Diagnostics;
using Lilith.Common;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>The Redis store: registries and claims under the schema's keys (schema/service-addresses.md).</summary>
internal sealed partial class RedisServiceAddressStore(RedisConnectionSource connection, string prefix, ClaimPolicy claims, ILogger logger)
    : IServiceAddressStore, IAsyncDisposable
{
    /// <summary>KEYS[1] registry, KEYS[2] revision; ARGV[1] registry JSON, ARGV[2] changed channel. Returns the new revision.</summary>
    internal const string PublishScript = """
        redis.call('SET', KEYS[1], ARGV[1])
        local revision = redis.call('INCR', KEYS[2])
        redis.call('PUBLISH', ARGV[2], revision)
        return revision
        """;

    /// <summary>KEYS[1] registry, KEYS[2] revision. Returns {registry JSON or false, revision or false}.</summary>
    internal const string LoadScript = """
        return { redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) }
        """;

    /// <summary>KEYS[1] claim; ARGV[1] the claim JSON this claimer wrote, ARGV[2] TTL ms. Returns 1 renewed, 0 lost.</summary>
    internal const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """;

    /// <summary>KEYS[1] claim; ARGV[1] the claim JSON this claimer wrote. Returns 1 released, 0 not ours (any more).</summary>
    internal const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    private readonly RedisConnectionSource _connection = connection;
    private readonly ClaimPolicy _claims = claims;
    private readonly ILogger _logger = logger;
    private readonly AddressKeys _keys = new(KeySchema.ValidatePrefix(prefix));

    public async ValueTask<long> PublishAsync(IServiceAddresses registry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        string environment = KeySchema.ValidateName(registry.Environment, "environment").ToLowerInvariant();
        using Activity? activity = ServiceAddressesTelemetry.ActivitySource.StartActivity("addresses.publish");
        activity?.SetTag("lilith.environment", environment);
        IDatabase db = (await _connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();
        RedisResult result = await db.ScriptEvaluateAsync(PublishScript,
            [_keys.Registry(environment), _keys.Revision(environment)],
            [RegistryPayload.From(registry).ToJson(), _keys.ChangedChannel(environment)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result;
    }

    public async ValueTask<PublishedRegistry?> LoadAsync(string environment, CancellationToken cancellationToken = default)
    {
        environment = KeySchema.ValidateName(environment, "environment", nameof(environment)).ToLowerInvariant();
        using Activity? activity = ServiceAddressesTelemetry.ActivitySource.StartActivity("addresses.load");
        activity?.SetTag("lilith.environment", environment);
        IDatabase db = (await _connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();
        string registryKey = _keys.Registry(environment);
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(LoadScript, [registryKey, _keys.Revision(environment)])
            .WaitAsync(cancellationToken).ConfigureAwait(false))!;
        if (result.Length == 0 || result[0].IsNull)
        {
            return null;
        }

        try
        {
            RegistryPayload payload = RegistryPayload.Parse((string)result[0]!, registryKey);
            foreach (RegistryError skipped in payload.Skipped)
            {
                Log.UnreadableService(_logger, registryKey, skipped.ToString());
                ServiceAddressesTelemetry.UnreadableEntries.Add(1, new KeyValuePair<string, object?>("lilith.payload", "registry-service"));
            }

            long revision = result.Length > 1 && !result[1].IsNull ? (long)result[1] : 0;
            return new PublishedRegistry(revision, payload.ToRegistry());
        }
        catch (ServiceRegistryException e)
        {
            Log.UnreadableRegistry(_logger, registryKey, e.Message);
            throw;
        }
    }

    public async ValueTask<IPortClaim?> TryClaimPortAsync(string environment, string host, int port, string service, CancellationToken cancellationToken = default)
    {
        ClaimArguments.Check(environment, host, port, service);
        environment = environment.ToLowerInvariant();
        string key = _keys.Claim(environment, ClaimArguments.NormalizeHost(host), port);
        string value = new ClaimPayload { Service = service, Owner = ClaimArguments.NewToken() }.ToJson();
        IDatabase db = (await _connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();
        long sentAt = _claims.Time.GetTimestamp();
        bool claimed;
        try
        {
            claimed = await db.StringSetAsync(key, value, _claims.Ttl, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or RedisException or TimeoutException)
        {
            // The SET may have run in Redis with its answer lost: a claim nobody owns would block the port for its TTL.
            _ = RemoveUnansweredClaimAsync(key, value, sentAt);
            throw;
        }

        ServiceAddressesTelemetry.Claims.Add(1, new KeyValuePair<string, object?>("result", claimed ? "claimed" : "taken"));
        return claimed ? new Claim(this, environment, host, port, service, key, value).Start(_claims, sentAt) : null;
    }

    /// <summary>
    /// Removes a claim whose request ended without an answer, if it is there and still this request's (compare and
    /// delete), trying again until the claim's TTL would have ended it anyway. Never throws.
    /// </summary>
    private async Task RemoveUnansweredClaimAsync(string key, string value, long sentAt)
    {
        TimeSpan retry = _claims.Ttl / 30;
        while (_claims.Time.GetElapsedTime(sentAt) < _claims.Ttl)
        {
            try
            {
                IDatabase db = (await _connection.GetAsync(CancellationToken.None).ConfigureAwait(false)).GetDatabase();
                await db.ScriptEvaluateAsync(ReleaseScript, [key], [value]).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                Log.UnansweredClaimNotRemoved(_logger, e, key);
                await Task.Delay(retry, _claims.Time).ConfigureAwait(false);
            }
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private sealed class Claim(RedisServiceAddressStore store, string environment, string host, int port, string service, string key, string value)
        : PortClaim(environment, host, port, service, store._logger)
    {
        protected override string Describe => key;

        protected override async ValueTask<bool> RenewCoreAsync(CancellationToken cancellationToken)
        {
            IDatabase db = (await store._connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();
            return (long)await db.ScriptEvaluateAsync(RenewScript, [key], [value, (long)store._claims.Ttl.TotalMilliseconds])
                .WaitAsync(cancellationToken).ConfigureAwait(false) == 1;
        }

        protected override async ValueTask ReleaseCoreAsync()
        {
            try
            {
                IDatabase db = (await store._connection.GetAsync(CancellationToken.None).ConfigureAwait(false)).GetDatabase();
                await db.ScriptEvaluateAsync(ReleaseScript, [key], [value]).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Redis is unreachable: the claim then ends with its TTL; disposing must not throw.
                Log.ReleaseFailed(store._logger, e, key);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The service registry at {Key} cannot be read: {Reason}")]
        public static partial void UnreadableRegistry(ILogger logger, string key, string reason);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Releasing the port claim {Key} failed; it ends with its TTL")]
        public static partial void ReleaseFailed(ILogger logger, Exception exception, string key);

        [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "A service in the registry at {Key} cannot be read and is skipped; the others are used: {Reason}")]
        public static partial void UnreadableService(ILogger logger, string key, string reason);

        [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Removing the port claim {Key}, whose request ended without an answer, failed; trying again while its TTL lasts")]
        public static partial void UnansweredClaimNotRemoved(ILogger logger, Exception exception, string key);
    }
}
