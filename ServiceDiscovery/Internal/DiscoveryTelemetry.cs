using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>The package's one Meter and one ActivitySource, both named Lilith.ServiceDiscovery.</summary>
internal static class DiscoveryTelemetry
{
    public const string Name = "Lilith.ServiceDiscovery";

    public static ActivitySource Source { get; } = new(Name);

    public static Meter Meter { get; } = new(Name);

    public static Counter<long> Malformed { get; } = Meter.CreateCounter<long>("lilith.discovery.malformed_entries", description: "Payloads that could not be read and were skipped");

    public static Counter<long> Events { get; } = Meter.CreateCounter<long>("lilith.discovery.events", description: "Change events received");
}
