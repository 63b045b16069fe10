namespace Lilith.ServiceDiscovery;

/// <summary>Health of an instance, as Consul's checks name it. Written as <c>passing</c>, <c>warning</c>, <c>critical</c>.</summary>
public enum InstanceHealth
{
    /// <summary>Healthy: resolved and selected.</summary>
    Passing,

    /// <summary>Degraded: resolved unless <see cref="DiscoveryOptions.IncludeWarning"/> (or the filter) says otherwise.</summary>
    Warning,

    /// <summary>Unhealthy: never resolved.</summary>
    Critical,
}
