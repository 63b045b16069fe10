using Lilith.DomainEvents.Internal;

namespace Lilith.DomainEvents.Tests;

/// <summary>The C# key builders against schema/vectors/domain-events.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("domain-events", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["stream"] = i => new EventKeys(i["prefix"]).Stream(i["stream"]),
        ["dead-letter"] = i => new EventKeys(i["prefix"]).DeadLetter(i["stream"]),
        ["handled"] = i => new EventKeys(i["prefix"]).Handled(i["stream"], i["group"], i["source"], i["id"]),
    });
}
