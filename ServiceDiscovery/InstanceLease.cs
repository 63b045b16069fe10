namespace Lilith.ServiceDiscovery;

/// <summary>
/// The instance a load balancer picked. Dispose it when the call to the instance ends: least-connections and
/// power-of-two-choices count calls in flight until then. A value type, so selecting allocates nothing.
/// </summary>
/// <example><code>using InstanceLease lease = await resolver.SelectAsync("api-gateway");
/// await http.GetAsync(new Uri(lease.Instance.ToUri(), "/orders"));</code></example>
public readonly struct InstanceLease : IDisposable
{
    private readonly Action? _release;

    /// <summary>A lease that releases nothing.</summary>
    /// <param name="instance">The picked instance.</param>
    public InstanceLease(ServiceInstance instance)
        : this(instance, null)
    {
    }

    /// <summary>A lease that calls <paramref name="release"/> once disposed (custom balancers count calls in flight with it).</summary>
    /// <param name="instance">The picked instance.</param>
    /// <param name="release">Called by <see cref="Dispose"/>; null for nothing.</param>
    public InstanceLease(ServiceInstance instance, Action? release)
    {
        ArgumentNullException.ThrowIfNull(instance);
        Instance = instance;
        _release = release;
    }

    /// <summary>The picked instance.</summary>
    public ServiceInstance Instance { get; }

    /// <summary>Ends the call: releases the in-flight count. Dispose each lease once.</summary>
    public void Dispose() => _release?.Invoke();
}
