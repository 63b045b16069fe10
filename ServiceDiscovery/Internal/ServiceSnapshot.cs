using System.Collections.Concurrent;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// One immutable view of a service: its instances at a revision, with in-memory secondary indexes by tag, zone and
/// version (the mirrors of the Redis index sets) and memoized filter results, so cached resolves allocate nothing.
/// </summary>
internal sealed class ServiceSnapshot
{
    private readonly Dictionary<string, ServiceInstance[]> _byTag;
    private readonly Dictionary<string, ServiceInstance[]> _byZone;
    private readonly Dictionary<string, ServiceInstance[]> _byVersion;
    /// <summary>Filter objects remembered per snapshot; past this, results are computed per call (a caller that makes a new filter every call).</summary>
    internal const int MaxMemoizedFilters = 64;
    private readonly ConcurrentDictionary<InstanceFilter, ServiceInstance[]> _filtered = new(ReferenceEqualityComparer.Instance);
    private int _memoized;

    public ServiceSnapshot(long revision, ServiceInstance[] all, bool includeWarning)
    {
        Revision = revision;
        All = all;
        IncludeWarning = includeWarning;
        Passing = all.Where(i => i.Health == InstanceHealth.Passing).ToArray();
        PassingOrWarning = all.Where(i => i.Health != InstanceHealth.Critical).ToArray();
        _byTag = Index(all.SelectMany(i => i.Tags.Distinct(StringComparer.Ordinal).Select(t => (t, i))));
        _byZone = Index(all.Where(i => i.Zone is not null).Select(i => (i.Zone!, i)));
        _byVersion = Index(all.Where(i => i.Version is not null).Select(i => (i.Version!, i)));
    }

    public long Revision { get; }

    /// <summary>Every live instance, whatever its health, ordered by id.</summary>
    public ServiceInstance[] All { get; }

    public bool IncludeWarning { get; }

    private ServiceInstance[] Passing { get; }

    private ServiceInstance[] PassingOrWarning { get; }

    public ServiceInstance[] Resolve(InstanceFilter? filter)
    {
        if (filter is null)
        {
            return IncludeWarning ? PassingOrWarning : Passing;
        }

        return _filtered.TryGetValue(filter, out ServiceInstance[]? hit) ? hit : Memoize(filter);
    }

    /// <summary>How many filters this snapshot remembers (bounded by <see cref="MaxMemoizedFilters"/>).</summary>
    internal int MemoizedFilters => Volatile.Read(ref _memoized);

    private ServiceInstance[] Memoize(InstanceFilter filter)
    {
        ServiceInstance[] result = Compute(filter);
        if (Interlocked.Increment(ref _memoized) > MaxMemoizedFilters)
        {
            Interlocked.Decrement(ref _memoized);
            return result;
        }

        if (!_filtered.TryAdd(filter, result))
        {
            Interlocked.Decrement(ref _memoized);
            return _filtered[filter];
        }

        return result;
    }

    private ServiceInstance[] Compute(InstanceFilter filter)
    {
        bool warning = filter.IncludeWarning ?? IncludeWarning;
        IEnumerable<ServiceInstance> candidates = warning ? PassingOrWarning : Passing;
        ServiceInstance[]? smallest = null;
        void Narrow(Dictionary<string, ServiceInstance[]> index, string key)
        {
            ServiceInstance[] found = index.GetValueOrDefault(key) ?? [];
            if (smallest is null || found.Length < smallest.Length)
            {
                smallest = found;
            }
        }

        if (filter.Zone is not null)
        {
            Narrow(_byZone, filter.Zone);
        }

        if (filter.Version is not null)
        {
            Narrow(_byVersion, filter.Version);
        }

        foreach (string tag in filter.Tags)
        {
            Narrow(_byTag, tag);
        }

        return (smallest ?? candidates)
            .Where(i => i.Health == InstanceHealth.Passing || (warning && i.Health == InstanceHealth.Warning))
            .Where(i => (filter.Zone is null || i.Zone == filter.Zone) && (filter.Version is null || i.Version == filter.Version))
            .Where(i => filter.Tags.All(t => i.Tags.Contains(t)))
            .ToArray();
    }

    private static Dictionary<string, ServiceInstance[]> Index(IEnumerable<(string Key, ServiceInstance Instance)> entries) =>
        entries.GroupBy(e => e.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => e.Instance).ToArray(), StringComparer.Ordinal);
}
