namespace Lilith.ServiceDiscovery;

/// <summary>Picks one instance of a service. One balancer object serves one service; it must be thread-safe.</summary>
public interface ILoadBalancer
{
    /// <summary>Picks one of <paramref name="instances"/> (never empty).</summary>
    /// <param name="instances">The available instances, in a stable order.</param>
    InstanceLease Select(IReadOnlyList<ServiceInstance> instances);
}

/// <summary>The built-in load balancing strategies.</summary>
public enum LoadBalancingStrategy
{
    /// <summary>Each instance in turn.</summary>
    RoundRobin,

    /// <summary>The instance with the fewest calls in flight from this process.</summary>
    LeastConnections,

    /// <summary>A uniformly random instance.</summary>
    Random,

    /// <summary>Two random instances, the one with fewer calls in flight.</summary>
    PowerOfTwoChoices,

    /// <summary>Instances in proportion to their <see cref="ServiceInstance.Weight"/>.</summary>
    Weighted,
}

/// <summary>Creates the built-in load balancers.</summary>
public static class LoadBalancers
{
    /// <summary>Each instance in turn (exact over a full cycle).</summary>
    public static ILoadBalancer RoundRobin() => new Internal.RoundRobinBalancer();

    /// <summary>The instance with the fewest calls in flight (leases not yet disposed).</summary>
    public static ILoadBalancer LeastConnections() => new Internal.LeastConnectionsBalancer();

    /// <summary>A uniformly random instance.</summary>
    public static ILoadBalancer Random() => new Internal.RandomBalancer();

    /// <summary>Of two random instances, the one with fewer calls in flight.</summary>
    public static ILoadBalancer PowerOfTwoChoices() => new Internal.PowerOfTwoChoicesBalancer();

    /// <summary>Instances in proportion to their weight (exact over each cycle of the total weight).</summary>
    public static ILoadBalancer Weighted() => new Internal.WeightedBalancer();

    /// <summary>The balancer for <paramref name="strategy"/>.</summary>
    /// <param name="strategy">The strategy.</param>
    public static ILoadBalancer Create(LoadBalancingStrategy strategy) => strategy switch
    {
        LoadBalancingStrategy.RoundRobin => RoundRobin(),
        LoadBalancingStrategy.LeastConnections => LeastConnections(),
        LoadBalancingStrategy.Random => Random(),
        LoadBalancingStrategy.PowerOfTwoChoices => PowerOfTwoChoices(),
        LoadBalancingStrategy.Weighted => Weighted(),
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, $"LoadBalancing: '{strategy}' is not a known strategy."),
    };
}
