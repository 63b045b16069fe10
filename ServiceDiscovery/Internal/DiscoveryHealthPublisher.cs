using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// Feeds this app's health report to its own registered instance (<see cref="DiscoveryOptions.ServiceName"/>,
/// <see cref="DiscoveryOptions.Instance"/>): Healthy -> passing, Degraded -> warning, Unhealthy -> critical.
/// The discovery check itself is left out: an unreachable registry says nothing about this app's health.
/// Each report is written (an unchanged health costs one read and no event), so a health changed by another writer is corrected.
/// </summary>
internal sealed class DiscoveryHealthPublisher(IServiceRegistry registry, IOptions<DiscoveryOptions> options) : IHealthCheckPublisher
{
    public async Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        if (options.Value is not { ServiceName: { } service, Instance: { } instance })
        {
            return;
        }

        // Not registered yet (start) or deregistered (stop): nothing to update; the next report tries again.
        await registry.SetHealthAsync(service, instance.Id, ToInstanceHealth(report), cancellationToken).ConfigureAwait(false);
    }

    internal static InstanceHealth ToInstanceHealth(HealthReport report)
    {
        HealthStatus worst = HealthStatus.Healthy;
        foreach (HealthReportEntry entry in report.Entries.Values)
        {
            if (entry.Status < worst && !entry.Tags.Contains(DiscoveryHealthCheck.Tag))
            {
                worst = entry.Status;
            }
        }

        return worst switch
        {
            HealthStatus.Healthy => InstanceHealth.Passing,
            HealthStatus.Degraded => InstanceHealth.Warning,
            _ => InstanceHealth.Critical,
        };
    }
}

/// <summary>The publisher needs this process's own instance; says so at start when it is not set.</summary>
internal sealed class DiscoveryHealthPublisherValidator : IValidateOptions<DiscoveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DiscoveryOptions options) =>
        options is { ServiceName: not null, Instance: not null }
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"DiscoveryOptions.ServiceName: '{options.ServiceName ?? "null"}', DiscoveryOptions.Instance: {(options.Instance is null ? "null" : $"'{options.Instance.Id}'")}; " +
                "AddServiceDiscoveryPublisher() publishes this app's health to its own instance, so both must be set.");
}
