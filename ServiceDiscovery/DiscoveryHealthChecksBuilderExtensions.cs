using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceDiscovery;

/// <summary>Health checks of Lilith service discovery: the client's own check, and the publisher that feeds this app's health to its instance.</summary>
public static class DiscoveryHealthChecksBuilderExtensions
{
    /// <summary>Name of the discovery check unless another is given.</summary>
    public const string DefaultCheckName = "service-discovery";

    /// <summary>
    /// Adds a check that is Healthy while the discovery backend (Redis) answers and <paramref name="failureStatus"/> while it does
    /// not; resolves then keep answering from the last known instances, which the description says.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">The status reported while the backend is unreachable; Degraded unless set.</param>
    /// <param name="tags">Tags of the check (for filtering health endpoints).</param>
    /// <example><code>services.AddHealthChecks().AddServiceDiscoveryCheck();</code></example>
    public static IHealthChecksBuilder AddServiceDiscoveryCheck(this IHealthChecksBuilder builder, string name = DefaultCheckName,
        HealthStatus failureStatus = HealthStatus.Degraded, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(name, sp => new DiscoveryHealthCheck(RequireClient(sp, nameof(AddServiceDiscoveryCheck))),
            failureStatus, [DiscoveryHealthCheck.Tag, .. tags ?? []]));
    }

    /// <summary>
    /// Publishes this app's health report to its own registered instance (<see cref="DiscoveryOptions.ServiceName"/> and
    /// <see cref="DiscoveryOptions.Instance"/>, which must be set): Healthy becomes <see cref="InstanceHealth.Passing"/>, Degraded
    /// <see cref="InstanceHealth.Warning"/>, Unhealthy <see cref="InstanceHealth.Critical"/>. Critical instances are never
    /// resolved; warning ones only while <see cref="DiscoveryOptions.IncludeWarning"/> (or the filter) allows. The discovery
    /// check itself is left out of the mapping. Reports come at <c>HealthCheckPublisherOptions.Period</c> (30 s unless set).
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <example><code>services.AddHealthChecks()
    ///     .AddCheck&lt;DatabaseCheck&gt;("db")
    ///     .AddServiceDiscoveryPublisher();</code></example>
    public static IHealthChecksBuilder AddServiceDiscoveryPublisher(this IHealthChecksBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DiscoveryOptions>, DiscoveryHealthPublisherValidator>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthCheckPublisher, DiscoveryHealthPublisher>());
        return builder;
    }

    private static DiscoveryClient RequireClient(IServiceProvider services, string method) =>
        services.GetService<DiscoveryClient>() ?? throw new InvalidOperationException(
            $"{method}() needs Lilith service discovery: call services.AddServiceDiscovery(o => ...) or services.AddInMemoryServiceDiscovery() as well.");
}
