using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>Closed: healthy; half-open: degraded; open or isolated: the registration's failure status (the adapter's <c>OpenHealthStatus</c>, Degraded by default).</summary>
internal sealed class BreakerHealthCheck(ICircuitBreakerRegistry registry, string name) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        CircuitState state = registry.GetBreaker(name).State;
        var data = new Dictionary<string, object> { ["state"] = BreakerStatePayload.StateName(state) };
        string text = $"Circuit breaker '{name}' is {BreakerStatePayload.StateName(state)}.";
        return Task.FromResult(state switch
        {
            CircuitState.Closed => HealthCheckResult.Healthy(text, data),
            CircuitState.HalfOpen => HealthCheckResult.Degraded(text, null, data),
            _ => new HealthCheckResult(context.Registration.FailureStatus, text, null, data),
        });
    }
}
