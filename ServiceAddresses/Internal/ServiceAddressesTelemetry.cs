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
}
