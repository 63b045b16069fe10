using Lilith.ServiceAddresses.Internal;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>The C# key builders and payload serializers against schema/vectors/service-addresses.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("service-addresses", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["registry"] = i => new AddressKeys(i["prefix"]).Registry(i["environment"]),
        ["revision"] = i => new AddressKeys(i["prefix"]).Revision(i["environment"]),
        ["claim"] = i => new AddressKeys(i["prefix"]).Claim(i["environment"], i["host"], int.Parse(i["port"], System.Globalization.CultureInfo.InvariantCulture)),
        ["changed-channel"] = i => new AddressKeys(i["prefix"]).ChangedChannel(i["environment"]),
    });

    [Fact]
    public void Payloads_match_the_golden_vectors() => GoldenVectors.AssertPayloads("service-addresses", new Dictionary<string, Func<string, string>>
    {
        // Through the public model and back, so the vector is what a real publish writes.
        ["registry"] = json => RegistryPayload.From(RegistryPayload.Parse(json, "vector").ToRegistry()).ToJson(),
        ["claim"] = json => ClaimPayload.Parse(json)!.ToJson(),
    });

    [Fact]
    public void The_registry_vector_is_what_publishing_the_sample_writes()
    {
        ServiceRegistry registry = ServiceRegistry.Parse(
            "services:\n  api-gateway:\n    port: 8080\n    endpoints: {https: 8443}\n    dependencies: [auth]\n    tags: [edge]\n  auth:\n    port: 8081\n" +
            "environments:\n  production:\n    api-gateway: {host: gateway.internal, port: 80, endpoints: {https: 443}}\n",
            RegistryFormat.Yaml, "production");
        Assert.Equal(GoldenVectors.Payloads("service-addresses").Single(p => p.Id == "registry").Json, RegistryPayload.From(registry).ToJson());
    }

    [Fact]
    public void Claim_hosts_are_normalised_as_the_vectors_say()
    {
        using System.Text.Json.JsonDocument vectors = System.Text.Json.JsonDocument.Parse(
            File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "vectors", "service-addresses.json")));
        System.Text.Json.JsonElement[] hosts = [.. vectors.RootElement.GetProperty("claimHosts").EnumerateArray()];
        Assert.NotEmpty(hosts);
        foreach (System.Text.Json.JsonElement host in hosts)
        {
            Assert.Equal(host.GetProperty("normalized").GetString(), ClaimArguments.NormalizeHost(host.GetProperty("host").GetString()!));
        }
    }
}
