using Lilith.ServiceDiscovery.Internal;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>The C# key builders against schema/vectors/service-discovery.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("service-discovery", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["instances"] = i => new DiscoveryKeys(i["prefix"]).Instances(i["service"]),
        ["expiry"] = i => new DiscoveryKeys(i["prefix"]).Expiry(i["service"]),
        ["revision"] = i => new DiscoveryKeys(i["prefix"]).Revision(i["service"]),
        ["index"] = i => new DiscoveryKeys(i["prefix"]).Index(i["service"], i["dimension"], i["value"]),
        ["services"] = i => new DiscoveryKeys(i["prefix"]).Services(),
        ["sweeper"] = i => new DiscoveryKeys(i["prefix"]).Sweeper(),
        ["events-channel"] = i => new DiscoveryKeys(i["prefix"]).EventsChannel(i["service"]),
    });

    [Fact]
    public void Payloads_match_the_golden_vectors() => GoldenVectors.AssertPayloads("service-discovery", new Dictionary<string, Func<string, string>>
    {
        ["instance"] = json => InstanceCodec.Write(InstanceCodec.Read(json, null, out _)!),
        ["event-registered"] = RoundTripEvent,
        ["event-expired"] = RoundTripEvent,
    });

    /// <summary>The siblings run the scripts of the document; the C# constants must be the same text.</summary>
    [Theory]
    [InlineData("register", DiscoveryScripts.Register)]
    [InlineData("heartbeat", DiscoveryScripts.Heartbeat)]
    [InlineData("remove (deregister and sweep)", DiscoveryScripts.Remove)]
    [InlineData("set-health", DiscoveryScripts.SetHealth)]
    [InlineData("load", DiscoveryScripts.Load)]
    [InlineData("expired", DiscoveryScripts.Expired)]
    [InlineData("touch-service", DiscoveryScripts.TouchService)]
    [InlineData("sweep-lease", DiscoveryScripts.SweepLease)]
    [InlineData("prune-service", DiscoveryScripts.PruneService)]
    public void Scripts_are_the_documents_text(string heading, string script)
    {
        string document = File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "service-discovery.md"));
        int at = document.IndexOf("\n### " + heading + "\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"schema/service-discovery.md has no section '### {heading}'");
        int start = document.IndexOf("```lua\n", at, StringComparison.Ordinal) + "```lua\n".Length;
        string documented = document[start..document.IndexOf("```", start, StringComparison.Ordinal)];
        Assert.Equal(documented.TrimEnd('\n'), script.ReplaceLineEndings("\n"));
    }

    private static string RoundTripEvent(string json)
    {
        DiscoveryEvent e = EventCodec.Read(json, out string? error) ?? throw new InvalidOperationException(error);
        return EventCodec.Write(e.Kind, e.Service, e.InstanceId, e.Revision, e.Timestamp.ToUnixTimeMilliseconds(), e.Instance is null ? null : InstanceCodec.Write(e.Instance));
    }
}
