namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Distributions of the built-in balancers.</summary>
public sealed class LoadBalancerTests
{
    private static readonly ServiceInstance[] Three =
    [
        new() { Id = "a", Host = "h", Port = 1, Weight = 1 },
        new() { Id = "b", Host = "h", Port = 2, Weight = 2 },
        new() { Id = "c", Host = "h", Port = 3, Weight = 3 },
    ];

    private static Dictionary<string, int> Count(ILoadBalancer balancer, int n)
    {
        var counts = Three.ToDictionary(i => i.Id, _ => 0);
        for (int i = 0; i < n; i++)
        {
            using InstanceLease lease = balancer.Select(Three);
            counts[lease.Instance.Id]++;
        }

        return counts;
    }

    [Fact]
    public void Round_robin_is_exact_and_in_order()
    {
        ILoadBalancer balancer = LoadBalancers.RoundRobin();
        Assert.Equal(["a", "b", "c", "a"], Enumerable.Range(0, 4).Select(_ => balancer.Select(Three).Instance.Id));
        Assert.Equal([100, 100, 100], Count(LoadBalancers.RoundRobin(), 300).Values);
    }

    [Fact]
    public void Weighted_is_in_exact_proportion_to_weight()
    {
        Assert.Equal([100, 200, 300], Count(LoadBalancers.Weighted(), 600).Values);
    }

    [Fact]
    public void Least_connections_prefers_the_idle_instance()
    {
        ILoadBalancer balancer = LoadBalancers.LeastConnections();
        InstanceLease first = balancer.Select(Three);
        InstanceLease second = balancer.Select(Three);
        InstanceLease third = balancer.Select(Three);
        Assert.Equal(["a", "b", "c"], new[] { first, second, third }.Select(l => l.Instance.Id).Order());

        // Everyone busy once; release b: b is the only idle instance and must be chosen, every time it is idle again.
        second.Dispose();
        for (int i = 0; i < 10; i++)
        {
            using InstanceLease lease = balancer.Select(Three);
            Assert.Equal(second.Instance.Id, lease.Instance.Id);
        }

        first.Dispose();
        third.Dispose();
    }

    [Fact]
    public void Power_of_two_choices_avoids_the_loaded_instance()
    {
        ServiceInstance[] two = [Three[0], Three[1]];
        ILoadBalancer balancer = LoadBalancers.PowerOfTwoChoices();
        var held = new List<InstanceLease>();
        while (held.Count(l => l.Instance.Id == "a") < 5 && held.Count < 100)
        {
            held.Add(balancer.Select(two));
        }

        held.Where(l => l.Instance.Id == "b").ToList().ForEach(l => l.Dispose());
        held.RemoveAll(l => l.Instance.Id == "b");
        Assert.Equal(5, held.Count);

        // With two instances both are always compared: b (idle) wins every time while a holds five calls.
        for (int i = 0; i < 50; i++)
        {
            using InstanceLease lease = balancer.Select(two);
            Assert.Equal("b", lease.Instance.Id);
        }

        held.ForEach(l => l.Dispose());
    }

    [Fact]
    public void Random_reaches_every_instance_roughly_evenly()
    {
        Dictionary<string, int> counts = Count(LoadBalancers.Random(), 3000);
        Assert.All(counts.Values, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void Round_robin_and_least_connections_select_without_allocating()
    {
        foreach (ILoadBalancer balancer in new[] { LoadBalancers.RoundRobin(), LoadBalancers.LeastConnections(), LoadBalancers.Weighted() })
        {
            for (int i = 0; i < 100; i++)
            {
                balancer.Select(Three).Dispose();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                balancer.Select(Three).Dispose();
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }
}
