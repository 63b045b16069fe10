using Lilith.Common;

namespace Lilith.CircuitBreaker;

/// <summary>Where the breakers registered with <c>AddCircuitBreaker</c> keep their shared state.</summary>
public enum CircuitBreakerBackend
{
    /// <summary>Shared by the breakers of this process only (development, tests, single instance).</summary>
    InMemory = 0,

    /// <summary>Shared by the fleet through Redis (schema/circuit-breaker.md).</summary>
    Redis = 1,
}

/// <summary>Options shared by every breaker registered with <c>AddCircuitBreaker</c>.</summary>
public sealed class CircuitBreakerOptions
{
    /// <summary>The state backend. Default <see cref="CircuitBreakerBackend.InMemory"/>.</summary>
    public CircuitBreakerBackend Backend { get; set; } = CircuitBreakerBackend.InMemory;

    /// <summary>For Redis: a StackExchange.Redis configuration string or a <c>redis://</c> URL; null to use the <c>IConnectionMultiplexer</c> registered in DI.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The key prefix (default <c>lilith</c>).</summary>
    public string KeyPrefix { get; set; } = KeySchema.DefaultPrefix;

    /// <summary>This instance's id in the shared state; null for <c>machine-random</c>.</summary>
    public string? InstanceId { get; set; }

    /// <summary>How often stored states are re-read to catch states written without an announcement. Default 1 s.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a stored state outlives its break. Default 1 hour.</summary>
    public TimeSpan StateTtl { get; set; } = TimeSpan.FromHours(1);
}
