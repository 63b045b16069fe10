namespace Lilith.ServiceDiscovery;

/// <summary>Options of Lilith service discovery (named <c>DiscoveryOptions</c> so it never clashes with Microsoft.Extensions.ServiceDiscovery's options).</summary>
public sealed class DiscoveryOptions
{
    /// <summary>Redis connection string (<c>redis://host:6379</c> or a StackExchange.Redis string); null uses the registered IConnectionMultiplexer.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of every key and channel, <c>lilith</c> unless set.</summary>
    public string KeyPrefix { get; set; } = "lilith";

    /// <summary>How long a registration lives without a heartbeat; 15 s unless set.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Interval between heartbeats of the instances this client registered; null for a third of <see cref="Ttl"/>.</summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary>
    /// Interval between sweeps of expired instances; 5 s unless set. One client per key prefix sweeps at a time (the holder of
    /// a lease of three intervals); the others only try to take the lease, so a dead sweeper is replaced within three intervals.
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest time a cached service goes without a full reload (safety net for lost events); 30 s unless set.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether resolve returns instances in <see cref="InstanceHealth.Warning"/>; true unless set.</summary>
    public bool IncludeWarning { get; set; } = true;

    /// <summary>The built-in balancer used for every service, unless <see cref="LoadBalancerFactory"/> is set.</summary>
    public LoadBalancingStrategy LoadBalancing { get; set; } = LoadBalancingStrategy.RoundRobin;

    /// <summary>Creates the balancer of a service (argument: the service name); null uses <see cref="LoadBalancing"/>.</summary>
    public Func<string, ILoadBalancer>? LoadBalancerFactory { get; set; }

    /// <summary>When set, the hosted service registers <see cref="Instance"/> under this name on start and deregisters it on stop.</summary>
    public string? ServiceName { get; set; }

    /// <summary>This process's own instance, registered under <see cref="ServiceName"/>.</summary>
    public ServiceInstance? Instance { get; set; }
}
