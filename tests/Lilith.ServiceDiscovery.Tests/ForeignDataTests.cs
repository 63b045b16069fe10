using Microsoft.Extensions.DependencyInjection;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>
/// Ordinary but imperfect data from other writers (schema/service-discovery.md, "Reading a payload"): a bad entry is reported
/// and skipped; it never hides its neighbours, freezes the cache or stops the sweep.
/// </summary>
public sealed class ForeignDataTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Good = """{"v":1,"id":"good-1","host":"10.0.0.1","port":8080}""";

    /// <summary>The candidate's members after id and host; whether the one rule makes it readable.</summary>
    [Theory]
    [InlineData("\"port\":\"8080\"", false)]
    [InlineData("\"port\":8080.0", true)]
    [InlineData("\"port\":true", false)]
    [InlineData("\"port\":8080,\"weight\":\"2\"", false)]
    [InlineData("\"port\":8080,\"weight\":null", true)]
    [InlineData("\"port\":8080,\"zone\":7", false)]
    [InlineData("\"port\":8080,\"zone\":null,\"version\":null,\"scheme\":null", true)]
    [InlineData("\"port\":8080,\"scheme\":[]", false)]
    [InlineData("\"port\":8080,\"version\":{}", false)]
    [InlineData("\"port\":8080,\"tags\":\"edge\"", false)]
    [InlineData("\"port\":8080,\"tags\":null,\"metadata\":null,\"health\":null", true)]
    [InlineData("\"port\":8080,\"metadata\":{\"n\":1}", false)]
    [InlineData("\"port\":null", false)]
    public async Task One_rule_for_every_member_and_a_bad_entry_hides_only_itself(string members, bool readable)
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        string service = "rule-" + Guid.NewGuid().ToString("N")[..8];
        await raw.WriteAsync(service, "good-1", Good);
        await raw.WriteAsync(service, "cand", "{\"v\":1,\"id\":\"cand\",\"host\":\"10.0.0.2\"," + members + "}");
        await raw.WriteAsync(service + "-v", "good-1", Good);
        await raw.WriteAsync(service + "-v", "v-text", """{"v":"1","id":"v-text","host":"10.0.0.3","port":8080}""");
        using var malformed = new MalformedCount(service);
        using var malformedV = new MalformedCount(service + "-v");
        await using ServiceProvider client = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceResolver resolver = client.GetRequiredService<IServiceResolver>();

        IReadOnlyList<ServiceInstance> resolved = await resolver.ResolveAsync(service, cancellationToken: Ct);

        Assert.Equal(readable ? ["cand", "good-1"] : ["good-1"], resolved.Select(i => i.Id));
        Assert.Equal(["good-1"], (await resolver.ResolveAsync(service + "-v", cancellationToken: Ct)).Select(i => i.Id));
        // Counted at each read (a reload reads it again): once at least, or never.
        Assert.True(readable ? malformed.Value == 0 : malformed.Value >= 1, $"counted {malformed.Value}");
        Assert.True(malformedV.Value >= 1);
    }

    [Fact]
    public async Task The_cache_stays_live_past_an_unreadable_entry_and_its_event()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        const string Service = "live-cache";
        await raw.WriteAsync(Service, "good-1", Good);
        await using ServiceProvider reader = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        await using ServiceProvider writer = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceResolver resolver = reader.GetRequiredService<IServiceResolver>();
        Assert.Single(await resolver.ResolveAsync(Service, cancellationToken: Ct));

        // A sibling writes an instance whose port is a string and announces it, as its register script would.
        const string Bad = """{"v":1,"id":"bad-1","host":"10.0.0.9","port":"8080"}""";
        long revision = await raw.WriteAsync(Service, "bad-1", Bad);
        await raw.PublishAsync(Service, $$"""{"v":1,"type":"registered","service":"{{Service}}","id":"bad-1","revision":{{revision}},"at":1,"instance":{{Bad}}}""");
        await writer.GetRequiredService<IServiceRegistry>().RegisterAsync(Service, new ServiceInstance { Id = "good-2", Host = "10.0.0.2", Port = 8081 }, Ct);

        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync(Service, cancellationToken: Ct)).Select(i => i.Id).SequenceEqual(["good-1", "good-2"]),
            Within, "the cache follows the later registration");
        Assert.True(await writer.GetRequiredService<IServiceRegistry>().DeregisterAsync(Service, "good-2", Ct));
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync(Service, cancellationToken: Ct)).Select(i => i.Id).SequenceEqual(["good-1"]),
            Within, "and the deregistration after it");
    }

    [Fact]
    public async Task The_sweep_removes_an_unreadable_expired_entry_and_goes_on_to_the_next_services()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        // Listed first (older score), expired, unreadable as an instance; it names an index set as a string tag.
        await raw.WriteAsync("a-broken", "bad-1", """{"v":1,"id":"bad-1","host":"10.0.0.9","port":"8080","tags":["edge"]}""", expiresInMs: -1);
        await raw.Db.SetAddAsync(raw.Keys.Index("a-broken", "tag", "edge"), "bad-1");
        await raw.WriteAsync("b-fine", "gone-1", """{"v":1,"id":"gone-1","host":"10.0.0.1","port":8080}""", expiresInMs: -1);
        await using ServiceProvider sweeper = await RawDiscovery.ClientAsync(redis, raw.Prefix, o => o.SweepInterval = TimeSpan.FromMilliseconds(100));
        await sweeper.GetRequiredService<IServiceResolver>().ResolveAsync("b-fine", cancellationToken: Ct); // starts the loops

        await Eventually.TrueAsync(async () => await raw.StoredAsync("b-fine", "gone-1") is null, Within, "the service after the broken one is swept");
        await Eventually.TrueAsync(async () => await raw.StoredAsync("a-broken", "bad-1") is null, Within, "the broken entry itself is swept");
        Assert.False(await raw.Db.SetContainsAsync(raw.Keys.Index("a-broken", "tag", "edge"), "bad-1"));
        Assert.Equal(0, await raw.Db.SortedSetLengthAsync(raw.Keys.Expiry("a-broken")));
    }

    [Fact]
    public async Task SetHealth_changes_only_the_health_member_and_keeps_every_other_byte()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        // A newer writer's members, a nested "health" that is not the instance's, white space, non-ASCII text.
        const string Stored = """{"v":1,"id":"n-1","host":"10.0.0.1","port":8080,"metadata":{"health":"not this one"},"health":"passing","futureMember":{"a":[1,{"b":"}"}]},"note":"grüße \"quoted\""}""";
        const string NoHealth = """{ "v":1, "id":"n-2", "host":"10.0.0.2", "port":8081, "later":[true] }""";
        await raw.WriteAsync("newer", "n-1", Stored);
        await raw.WriteAsync("newer", "n-2", NoHealth);
        await using ServiceProvider client = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceRegistry registry = client.GetRequiredService<IServiceRegistry>();
        long before = await raw.RevisionAsync("newer");

        Assert.True(await registry.SetHealthAsync("newer", "n-1", InstanceHealth.Warning, Ct));
        Assert.True(await registry.SetHealthAsync("newer", "n-2", InstanceHealth.Critical, Ct));
        Assert.True(await registry.SetHealthAsync("newer", "n-2", InstanceHealth.Critical, Ct)); // unchanged: no new revision

        Assert.Equal(Stored.Replace("\"health\":\"passing\"", "\"health\":\"warning\"", StringComparison.Ordinal), await raw.StoredAsync("newer", "n-1"));
        Assert.Equal("""{ "v":1, "id":"n-2", "host":"10.0.0.2", "port":8081, "later":[true] ,"health":"critical"}""", await raw.StoredAsync("newer", "n-2"));
        Assert.Equal(before + 2, await raw.RevisionAsync("newer"));
        ServiceInstance resolved = Assert.Single(await client.GetRequiredService<IServiceResolver>().ResolveAsync("newer", cancellationToken: Ct));
        Assert.Equal(("n-1", InstanceHealth.Warning), (resolved.Id, resolved.Health));
    }
}
