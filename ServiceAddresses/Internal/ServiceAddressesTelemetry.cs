using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>The package's one Meter and one ActivitySource, both named after it.</summary>
internal static class ServiceAddressesTelemetry
{
    public const string Name = "Lilith.ServiceAddresses";

    public static readonly Meter Meter = new(Name);

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Port claim attempts, tagged result = claimed | taken.</summary>
    public static readonly Counter<long> Claims = Meter.CreateCounter<long>("lilith.addresses.claims", description: "Port claim attempts");

    /// <summary>Entries read from Redis that could not be read and were skipped (schema/README.md, "Reading a payload").</summary>
    public static readonly Counter<long> UnreadableEntries = Meter.CreateCounter<long>(
        "lilith.addresses.unreadable_entries", unit: "{entry}", description: "Stored entries that could not be read and were skipped");
}
