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
        ["trips"] = i => new BreakerKeys(i["prefix"]).Trips(i["breaker"]),
        ["members"] = i => new BreakerKeys(i["prefix"]).Members(i["breaker"]),
    });

    [Fact]
    public void The_quorum_requirement_matches_the_golden_vectors()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "vectors", "circuit-breaker.json")));
        int checkedCases = 0;
        foreach (System.Text.Json.JsonElement v in doc.RootElement.GetProperty("quorum").EnumerateArray())
        {
            double fraction = v.GetProperty("fraction").GetDouble();
            var quorum = new BreakerQuorum(v.GetProperty("instances").GetInt32(), fraction == 0 ? null : fraction, TimeSpan.FromSeconds(30));
            Assert.Equal(v.GetProperty("required").GetInt32(), BreakerQuorumRule.Required(quorum, v.GetProperty("live").GetInt32()));
            checkedCases++;
        }

        Assert.True(checkedCases >= 5, $"only {checkedCases} quorum vectors");
    }

    [Theory]
    [InlineData("write-state", RedisBreakerStateStore.WriteStateScript)]
    [InlineData("read-state", RedisBreakerStateStore.ReadStateScript)]
    [InlineData("renew-probe", RedisBreakerStateStore.RenewProbeScript)]
    [InlineData("report", RedisBreakerStateStore.ReportScript)]
    public void Scripts_are_the_documents_Lua_verbatim(string heading, string script)
    {
        string document = File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "circuit-breaker.md"));
        System.Text.RegularExpressions.Match block = System.Text.RegularExpressions.Regex.Match(
            document, $@"^### {System.Text.RegularExpressions.Regex.Escape(heading)}[^\n]*\n[\s\S]*?```lua\n([\s\S]*?)```", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(block.Success, $"schema/circuit-breaker.md has no Lua block under '### {heading}'");
        Assert.Equal(block.Groups[1].Value.TrimEnd('\n'), script.ReplaceLineEndings("\n"));
    }

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
            ["state-non-ascii"] = RoundTrip,
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
