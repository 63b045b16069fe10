namespace Lilith.ServiceDiscovery;

/// <summary>
/// Resolves services from a local cache: the first call for a service loads it, later calls answer from memory,
/// kept fresh by change events, revision checks and a periodic refresh. When Redis is unreachable the last known
/// instances keep being served.
/// </summary>
public interface IServiceResolver
{
    /// <summary>The available instances of <paramref name="service"/> (passing, and warning unless excluded) matching <paramref name="filter"/>.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="filter">Optional tag, zone and version conditions.</param>
    /// <param name="cancellationToken">Cancels the first load.</param>
    ValueTask<IReadOnlyList<ServiceInstance>> ResolveAsync(string service, InstanceFilter? filter = null, CancellationToken cancellationToken = default);

    /// <summary>Picks one available instance with the service's load balancer. Dispose the lease when the call ends.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="filter">Optional tag, zone and version conditions.</param>
    /// <param name="cancellationToken">Cancels the first load.</param>
    /// <exception cref="ServiceDiscoveryException">No instance is available.</exception>
    ValueTask<InstanceLease> SelectAsync(string service, InstanceFilter? filter = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Change events of one service, or of every service when <paramref name="service"/> is null, until cancelled. The watch
    /// begins when this method is called, not at the first read: a change the client receives after the call is kept for the
    /// enumeration (on a client that has not connected yet, from when its subscription stands, which the first read awaits).
    /// </summary>
    /// <param name="service">The service name, or null for all services.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    IAsyncEnumerable<DiscoveryEvent> WatchAsync(string? service, CancellationToken cancellationToken = default);

    /// <summary>False while the backend cannot be reached (answers then come from the last known data).</summary>
    bool IsBackendReachable { get; }
}
