namespace Lilith.ServiceDiscovery;

/// <summary>What happened to an instance. Written as <c>registered</c>, <c>deregistered</c>, <c>expired</c>, <c>health-changed</c>.</summary>
public enum DiscoveryEventKind
{
    /// <summary>An instance was registered or its description changed.</summary>
    Registered,

    /// <summary>An instance was deregistered on purpose.</summary>
    Deregistered,

    /// <summary>An instance stopped heartbeating and was swept.</summary>
    Expired,

    /// <summary>An instance's health changed.</summary>
    HealthChanged,
}

/// <summary>A change of one service's instances, as published on the service's events channel.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Service">The service name.</param>
/// <param name="InstanceId">The instance id.</param>
/// <param name="Revision">The service's revision after the change (0 for a change found by a resync).</param>
/// <param name="Timestamp">When the change happened, by the Redis server's clock.</param>
/// <param name="Instance">The instance as it is now, for <see cref="DiscoveryEventKind.Registered"/> and <see cref="DiscoveryEventKind.HealthChanged"/>; else null.</param>
public sealed record DiscoveryEvent(
    DiscoveryEventKind Kind,
    string Service,
    string InstanceId,
    long Revision,
    DateTimeOffset Timestamp,
    ServiceInstance? Instance)
{
    /// <summary>True when the event was not received from the channel but found by comparing a full reload with the cache (after a reconnect or a missed event).</summary>
    public bool IsResync { get; init; }
}
