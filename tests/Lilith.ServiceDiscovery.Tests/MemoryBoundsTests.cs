using Lilith.ServiceDiscovery.Internal;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>In-memory structures keyed by filter or instance stay bounded for a client that runs for months.</summary>
public sealed class MemoryBoundsTests
{
    private static ServiceInstance Instance(string id, string zone) => new() { Id = id, Host = "10.0.0.1", Port = 8080, Zone = zone };

    [Fact]
    public void A_caller_that_makes_a_new_filter_every_call_does_not_grow_the_snapshot()
    {
        var snapshot = new ServiceSnapshot(1, [Instance("a", "z1"), Instance("b", "z2")], includeWarning: true);
        var kept = new InstanceFilter { Zone = "z1" };
        Assert.Same(snapshot.Resolve(kept), snapshot.Resolve(kept));

        for (int i = 0; i < 10_000; i++)
        {
            Assert.Equal("b", Assert.Single(snapshot.Resolve(new InstanceFilter { Zone = "z2" })).Id);
        }

        Assert.Equal(ServiceSnapshot.MaxMemoizedFilters, snapshot.MemoizedFilters);
        Assert.Same(snapshot.Resolve(kept), snapshot.Resolve(kept)); // remembered before the flood: still served from memory
    }

    [Theory]
    [InlineData(LoadBalancingStrategy.LeastConnections)]
    [InlineData(LoadBalancingStrategy.PowerOfTwoChoices)]
    public void Balancer_counters_of_instances_that_are_gone_are_released(LoadBalancingStrategy strategy)
    {
        var balancer = (InFlightBalancer)LoadBalancers.Create(strategy);
        InstanceLease held = balancer.Select([Instance("held", "z")]);
        for (int generation = 0; generation < 2_000; generation++)
        {
            ServiceInstance[] instances = [Instance($"g{generation}-a", "z"), Instance($"g{generation}-b", "z"), Instance($"g{generation}-c", "z")];
            for (int i = 0; i < 4; i++)
            {
                balancer.Select(instances).Dispose();
            }
        }

        Assert.InRange(balancer.CounterCount, 1, 3 + (2 * 3) + 16 + 1);
        held.Dispose();
    }
}
