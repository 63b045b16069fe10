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
}
