using Lilith.ServiceAddresses.Internal;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>The C# key builders against schema/vectors/service-addresses.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("service-addresses", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["registry"] = i => new AddressKeys(i["prefix"]).Registry(i["environment"]),
        ["claim"] = i => new AddressKeys(i["prefix"]).Claim(i["environment"], i["host"], int.Parse(i["port"], System.Globalization.CultureInfo.InvariantCulture)),
        ["changed-channel"] = i => new AddressKeys(i["prefix"]).ChangedChannel(i["environment"]),
    });
}
