using Lilith.CircuitBreaker.Internal;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>The C# key builders and payload serializer against schema/vectors/circuit-breaker.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("circuit-breaker", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["state"] = i => new BreakerKeys(i["prefix"]).State(i["breaker"]),
        ["probe"] = i => new BreakerKeys(i["prefix"]).Probe(i["breaker"]),
        ["changed-channel"] = i => new BreakerKeys(i["prefix"]).ChangedChannel(),
    });

    [Fact]
    public void Payloads_match_the_golden_vectors()
    {
        static string RoundTrip(string json) => BreakerStatePayload.Write(BreakerStatePayload.Read(json));
        GoldenVectors.AssertPayloads("circuit-breaker", new Dictionary<string, Func<string, string>>
        {
            ["state"] = RoundTrip,
            ["state-half-open"] = RoundTrip,
            ["state-closed"] = RoundTrip,
            ["state-isolated"] = RoundTrip,
        });
    }

    [Fact]
    public void The_write_script_halves_rebuild_the_payload_around_the_server_clock()
    {
        var s = new BreakerStateSnapshot("postgres", CircuitState.Open, TimeSpan.FromSeconds(30), 2, "api-7f3a", 1767225600000);
        (string head, string tail) = BreakerStatePayload.SplitForScript(s);
        Assert.Equal(BreakerStatePayload.Write(s), head + "1767225600000" + tail);
        Assert.EndsWith("\"changedAt\":", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"v":2,"breaker":"a","state":"closed","changedAt":1}""", "schema version 2 is not known to this reader, which knows 1")]
    [InlineData("""{"v":1,"breaker":"a","state":"shut","changedAt":1}""", "'state' is 'shut'")]
    [InlineData("""{"v":1,"breaker":"a","state":"open","changedAt":1}""", "an open state needs a positive 'breakDurationMs'")]
    [InlineData("""{"v":1,"state":"closed","changedAt":1}""", "the member 'breaker' is missing")]
    [InlineData("not json", "")]
    public void Unreadable_payloads_are_refused_with_the_reason(string json, string reason)
    {
        var e = Assert.Throws<FormatException>(() => BreakerStatePayload.Read(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
