using Lilith.CircuitBreaker.Internal;
using Lilith.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Lilith.CircuitBreaker;

/// <summary>Creates the state stores breakers share their state through.</summary>
public static class BreakerStateStore
{
    /// <summary>A store shared by every breaker of this process that uses an in-memory store.</summary>
    /// <param name="instanceId">This instance's id; null for a new random one.</param>
    public static IBreakerStateStore CreateInMemory(string? instanceId = null) =>
        new InMemoryBreakerStateStore(InMemoryBreakerStateBackend.Shared, instanceId ?? NewInstanceId());

    /// <summary>
    /// A store on Redis (schema/circuit-breaker.md). The connection is not disposed by the store.
    /// </summary>
    /// <param name="connection">The Redis connection.</param>
    /// <param name="keyPrefix">The key prefix (default <c>lilith</c>).</param>
    /// <param name="instanceId">This instance's id; null for <c>machine-random</c>.</param>
    /// <param name="syncInterval">How often stored states are re-read, to catch states written without an announcement (default 1 s).</param>
    /// <param name="stateTtl">How long a state outlives its break (default 1 hour).</param>
    /// <param name="loggerFactory">Where the store logs Redis errors and unreadable payloads; breakers on this store without a <see cref="LilithCircuitBreakerOptions.LoggerFactory"/> log there too.</param>
    public static IBreakerStateStore CreateRedis(
        IConnectionMultiplexer connection,
        string keyPrefix = KeySchema.DefaultPrefix,
        string? instanceId = null,
        TimeSpan? syncInterval = null,
        TimeSpan? stateTtl = null,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new RedisBreakerStateStore(
            connection,
            keyPrefix,
            instanceId ?? NewInstanceId(),
            syncInterval ?? TimeSpan.FromSeconds(1),
            stateTtl ?? TimeSpan.FromHours(1),
            TimeProvider.System,
            loggerFactory ?? NullLoggerFactory.Instance);
    }

    internal static string NewInstanceId() => $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";
}
