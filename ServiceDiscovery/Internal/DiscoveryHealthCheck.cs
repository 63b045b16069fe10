using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// Healthy while the discovery backend answers; the registration's failure status (Degraded unless set) while it does
/// not, when resolves are answered from the last known instances.
/// </summary>
internal sealed class DiscoveryHealthCheck(DiscoveryClient client) : IHealthCheck
{
    /// <summary>Carried by every registration of this check, so the health publisher leaves the check out of the instance's health.</summary>
    public const string Tag = "lilith-service-discovery";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        int cached = client.CachedServiceCount;
        var data = new Dictionary<string, object> { ["backend"] = client.BackendDescription, ["cachedServices"] = cached };
        return Task.FromResult(client.IsBackendReachable
            ? HealthCheckResult.Healthy($"Discovery backend {client.BackendDescription} is reachable.", data)
            : new HealthCheckResult(context.Registration.FailureStatus,
                $"Discovery backend {client.BackendDescription} is unreachable; resolves are answered from the last known instances of {cached} cached service(s).",
                null, data));
    }
}
