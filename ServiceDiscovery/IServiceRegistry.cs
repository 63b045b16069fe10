namespace Lilith.ServiceDiscovery;

/// <summary>Registers instances and keeps them alive. Instances registered here are heartbeated by this client until deregistered or disposed.</summary>
public interface IServiceRegistry
{
    /// <summary>Registers (or updates) <paramref name="instance"/> under <paramref name="service"/> with the configured TTL.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="instance">The instance.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask RegisterAsync(string service, ServiceInstance instance, CancellationToken cancellationToken = default);

    /// <summary>Removes an instance and stops heartbeating it; returns false when it was not registered.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> DeregisterAsync(string service, string instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Renews an instance's TTL. When the instance was swept meanwhile and this client registered it, it is registered again.
    /// Returns false when the instance is neither registered nor known to this client.
    /// </summary>
    /// <param name="service">The service name.</param>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> HeartbeatAsync(string service, string instanceId, CancellationToken cancellationToken = default);

    /// <summary>Sets an instance's health and publishes <c>health-changed</c>; returns false when the instance is not registered.</summary>
    /// <param name="service">The service name.</param>
    /// <param name="instanceId">The instance id.</param>
    /// <param name="health">The new health.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> SetHealthAsync(string service, string instanceId, InstanceHealth health, CancellationToken cancellationToken = default);
}
