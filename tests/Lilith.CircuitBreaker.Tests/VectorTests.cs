using Lilith.CircuitBreaker.Internal;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>The C# key builders against schema/vectors/circuit-breaker.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("circuit-breaker", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["state"] = i => new BreakerKeys(i["prefix"]).State(i["breaker"]),
        ["probe"] = i => new BreakerKeys(i["prefix"]).Probe(i["breaker"]),
        ["changed-channel"] = i => new BreakerKeys(i["prefix"]).ChangedChannel(),
    });
}
