using System.Text.Json;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>schema/service-registry.schema.json names exactly the members the reader accepts.</summary>
public sealed class JsonSchemaTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse(
        File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "service-registry.schema.json"))).RootElement;

    private static string[] Members(JsonElement node) => node.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToArray();

    [Fact]
    public void Schema_members_are_the_ones_the_reader_knows()
    {
        Assert.Equal(["version", "services", "environments"], Members(Schema));
        Assert.Equal(["host", "port", "scheme", "endpoints", "dependencies", "tags"], Members(Schema.GetProperty("$defs").GetProperty("service")));
        Assert.Equal(["host", "port", "scheme", "endpoints"], Members(Schema.GetProperty("$defs").GetProperty("override")));

        // And the reader refuses a member the schema does not list.
        Assert.Equal(["services.api.weight: unknown member (a service has host, port, scheme, endpoints, dependencies, tags)"],
            TestRegistries.ErrorsOf("services:\n  api:\n    port: 80\n    weight: 3\n"));
    }

    [Fact]
    public void Schema_port_range_is_the_validated_one()
    {
        JsonElement port = Schema.GetProperty("$defs").GetProperty("port");
        Assert.Equal((1, 65535), (port.GetProperty("minimum").GetInt32(), port.GetProperty("maximum").GetInt32()));
    }
}
