namespace Lilith.ServiceDiscovery;

/// <summary>
/// Narrows a resolve to instances with all of <see cref="Tags"/>, the given <see cref="Zone"/> and <see cref="Version"/>.
/// Reuse one filter object for repeated resolves: its result is memoized per cache snapshot, so selects stay allocation-free.
/// </summary>
public sealed class InstanceFilter
{
    /// <summary>Tags every returned instance must carry; empty for no tag condition.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The zone returned instances must be in; null for any.</summary>
    public string? Zone { get; init; }

    /// <summary>The version returned instances must run; null for any.</summary>
    public string? Version { get; init; }

    /// <summary>Whether instances in <see cref="InstanceHealth.Warning"/> are returned; null uses <see cref="DiscoveryOptions.IncludeWarning"/>.</summary>
    public bool? IncludeWarning { get; init; }
}
