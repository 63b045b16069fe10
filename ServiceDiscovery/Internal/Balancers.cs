using System.Collections.Concurrent;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>Each instance in turn; one counter per service.</summary>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private long _next = -1;

    public InstanceLease Select(IReadOnlyList<ServiceInstance> instances) =>
        new(instances[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)instances.Count)]);
}

/// <summary>A uniformly random instance.</summary>
internal sealed class RandomBalancer : ILoadBalancer
{
    public InstanceLease Select(IReadOnlyList<ServiceInstance> instances) => new(instances[System.Random.Shared.Next(instances.Count)]);
}

/// <summary>In proportion to weight: position n of each cycle of the total weight walks the cumulative weights.</summary>
internal sealed class WeightedBalancer : ILoadBalancer
{
    private long _next = -1;

    public InstanceLease Select(IReadOnlyList<ServiceInstance> instances)
    {
        long total = 0;
        for (int i = 0; i < instances.Count; i++)
        {
            total += instances[i].Weight;
        }

        if (total == 0)
        {
            return new InstanceLease(instances[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)instances.Count)]);
        }

        long position = (long)((ulong)Interlocked.Increment(ref _next) % (ulong)total);
        for (int i = 0; i < instances.Count; i++)
        {
            position -= instances[i].Weight;
            if (position < 0)
            {
                return new InstanceLease(instances[i]);
            }
        }

        return new InstanceLease(instances[^1]);
    }
}

/// <summary>Calls in flight per instance id, counted locally; a lease's dispose releases one.</summary>
internal abstract class InFlightBalancer : ILoadBalancer
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private int _sinceTrim;

    public abstract InstanceLease Select(IReadOnlyList<ServiceInstance> instances);

    /// <summary>Counters held (instances seen and not yet trimmed); bounded by the instances in use plus their growth allowance.</summary>
    internal int CounterCount => _counters.Count;

    /// <summary>
    /// The instance's counter. Instances come and go (new ids after restarts): once more counters were added than twice the
    /// current instances (plus 16), idle counters of instances no longer offered are dropped, so the map stays bounded.
    /// </summary>
    protected Counter For(IReadOnlyList<ServiceInstance> instances, ServiceInstance instance)
    {
        if (_counters.TryGetValue(instance.Id, out Counter? c))
        {
            return c;
        }

        if (Interlocked.Increment(ref _sinceTrim) > (2 * instances.Count) + 16)
        {
            Interlocked.Exchange(ref _sinceTrim, 0);
            var offered = new HashSet<string>(instances.Select(i => i.Id), StringComparer.Ordinal);
            foreach (KeyValuePair<string, Counter> pair in _counters)
            {
                if (pair.Value.InFlight == 0 && !offered.Contains(pair.Key))
                {
                    _counters.TryRemove(pair);
                }
            }
        }

        return _counters.GetOrAdd(instance.Id, static _ => new Counter());
    }

    protected static InstanceLease Lease(ServiceInstance instance, Counter counter)
    {
        Interlocked.Increment(ref counter.InFlight);
        return new InstanceLease(instance, counter.Release);
    }

    protected internal sealed class Counter
    {
        public int InFlight;

        public Counter() => Release = () => Interlocked.Decrement(ref InFlight);

        public Action Release { get; }
    }
}

/// <summary>The instance with the fewest calls in flight; ties go round-robin so idle instances share the load.</summary>
internal sealed class LeastConnectionsBalancer : InFlightBalancer
{
    private long _start = -1;

    public override InstanceLease Select(IReadOnlyList<ServiceInstance> instances)
    {
        int count = instances.Count;
        int start = (int)((ulong)Interlocked.Increment(ref _start) % (ulong)count);
        ServiceInstance best = instances[start];
        Counter bestCounter = For(instances, best);
        for (int k = 1; k < count && bestCounter.InFlight > 0; k++)
        {
            ServiceInstance candidate = instances[(start + k) % count];
            Counter counter = For(instances, candidate);
            if (counter.InFlight < bestCounter.InFlight)
            {
                best = candidate;
                bestCounter = counter;
            }
        }

        return Lease(best, bestCounter);
    }
}

/// <summary>Two random instances, the one with fewer calls in flight.</summary>
internal sealed class PowerOfTwoChoicesBalancer : InFlightBalancer
{
    public override InstanceLease Select(IReadOnlyList<ServiceInstance> instances)
    {
        int count = instances.Count;
        if (count == 1)
        {
            return Lease(instances[0], For(instances, instances[0]));
        }

        int a = System.Random.Shared.Next(count);
        int b = System.Random.Shared.Next(count - 1);
        if (b >= a)
        {
            b++;
        }

        Counter ca = For(instances, instances[a]);
        Counter cb = For(instances, instances[b]);
        return ca.InFlight <= cb.InFlight ? Lease(instances[a], ca) : Lease(instances[b], cb);
    }
}
