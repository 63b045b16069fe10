using Lilith.DomainEvents.Internal;

namespace Lilith.DomainEvents.Tests;

/// <summary>The C# key builders and payload writers against schema/vectors/domain-events.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("domain-events", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["stream"] = i => new EventKeys(i["prefix"]).Stream(i["stream"]),
        ["dead-letter"] = i => new EventKeys(i["prefix"]).DeadLetter(i["stream"]),
        ["handled"] = i => new EventKeys(i["prefix"]).Handled(i["stream"], i["group"], i["source"], i["id"]),
    });

    [Fact]
    public void Payloads_match_the_golden_vectors() => GoldenVectors.AssertPayloads("domain-events", new Dictionary<string, Func<string, string>>
    {
        ["cloud-event"] = json => CloudEvent.Parse(json).ToJson(),
        ["cloud-event-minimal"] = json => CloudEvent.Parse(json).ToJson(),
        ["dead-letter"] = json => DeadLetterPayload.Parse(json).ToJson(),
        ["dead-letter-malformed"] = json => DeadLetterPayload.Parse(json).ToJson(),
    });

    [Fact]
    public void CloudEvents_of_the_vectors_are_read_or_refused_as_the_schema_says()
    {
        using System.Text.Json.JsonDocument vectors = System.Text.Json.JsonDocument.Parse(
            File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "vectors", "domain-events.json")));
        System.Text.Json.JsonElement cases = vectors.RootElement.GetProperty("cloudEvents");
        foreach (System.Text.Json.JsonElement valid in cases.GetProperty("valid").EnumerateArray())
        {
            Assert.NotNull(CloudEvent.Parse(valid.GetString()!));
        }

        foreach (System.Text.Json.JsonElement malformed in cases.GetProperty("malformed").EnumerateArray())
        {
            Assert.Throws<CloudEventFormatException>(() => CloudEvent.Parse(malformed.GetString()!));
        }
    }
}
