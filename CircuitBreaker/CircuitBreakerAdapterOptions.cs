using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.Retry;

namespace Lilith.CircuitBreaker;

/// <summary>How one adapter (named breaker) is protected: retry, then breaker, then a per-attempt timeout.</summary>
public sealed class CircuitBreakerAdapterOptions
{
    /// <summary>The breaker's options; its <c>Name</c> is set to the adapter's name.</summary>
    public LilithCircuitBreakerOptions Breaker { get; set; } = new();

    /// <summary>Retry around the breaker (for example <see cref="RetryPresets.Database"/>); null for none. Default null.</summary>
    public RetryStrategyOptions? Retry { get; set; }

    /// <summary>Timeout of each attempt, inside the breaker (a timeout counts as a failure); null for none. Default 10 s.</summary>
    public TimeSpan? Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Share the breaker's state through the configured backend. Default true.</summary>
    public bool SharedState { get; set; } = true;

    /// <summary>Register a health check <c>circuit-breaker:&lt;name&gt;</c> reporting the breaker's state. Default true.</summary>
    public bool HealthCheck { get; set; } = true;

    /// <summary>
    /// What the health check reports while the breaker is open or isolated (closed is Healthy, half-open Degraded).
    /// Default <see cref="HealthStatus.Degraded"/>: an open breaker means a dependency failed, not this instance, and
    /// Unhealthy would take the instance out of discovery (<c>AddServiceDiscoveryPublisher</c> turns Unhealthy into
    /// critical), which spreads the outage to callers that do not need the dependency.
    /// </summary>
    public HealthStatus OpenHealthStatus { get; set; } = HealthStatus.Degraded;
}
