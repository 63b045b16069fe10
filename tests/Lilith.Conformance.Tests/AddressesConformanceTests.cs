using System.Text.Json;
using Lilith.ServiceAddresses;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Conformance.Tests;

/// <summary>schema/service-addresses.md from both sides: the published registry of an environment and host:port claims.</summary>
public sealed class AddressesConformanceTests : ConformanceScenario, IDisposable
{
    private const string Registry = """
        {
          "services": {
            "api-gateway": { "port": 8080, "endpoints": { "https": 8443 }, "dependencies": ["auth"], "tags": ["edge"] },
            "auth": { "port": 8081 }
          },
          "environments": {
            "production": { "api-gateway": { "host": "gateway.internal", "port": 80, "endpoints": { "https": 443 } } }
          }
        }
        """;

    private readonly string _file = Path.Combine(Path.GetTempPath(), $"lilith-registry-{Guid.NewGuid():N}.json");

    public AddressesConformanceTests(RedisFixture redis)
        : base(redis) => File.WriteAllText(_file, Registry);

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_publishes_the_registry_and_claims_a_port_and_CSharp_reads_both(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await AddressesAsync(sibling.Prefix);
        IServiceAddressStore store = services.GetRequiredService<IServiceAddressStore>();

        long revision = (await sibling.RunAsync("addresses-publish", "--env", "Production", "--file", _file)).GetProperty("revision").GetInt64();
        PublishedRegistry? published = await store.LoadAsync("production", Ct);
        Assert.NotNull(published);
        Assert.Equal(revision, published.Revision);
        IServiceAddresses registry = published.Registry;
        Assert.Equal("gateway.internal", registry.GetHost("api-gateway"));
        Assert.Equal(80, registry.GetPort("api-gateway"));
        Assert.Equal(443, registry.GetPort("api-gateway", "https"));
        Assert.Equal(["auth"], registry.GetDependencies("api-gateway"));
        Assert.Equal(new Uri("http://localhost:8081"), registry.GetUrl("auth"));
        Assert.Equal(["auth", "api-gateway"], registry.GetStartOrder());

        JsonElement claim = await sibling.RunAsync("addresses-claim", "--env", "production", "--host", "gateway.internal", "--port", "80", "--service", "api-gateway", "--ttl", "30000");
        Assert.True(claim.GetProperty("claimed").GetBoolean());
        Assert.Null(await store.TryClaimPortAsync("production", "gateway.internal", 80, "intruder", Ct));
        string token = claim.GetProperty("token").GetString()!;
        Assert.True((await sibling.RunAsync("addresses-release-claim", "--env", "production", "--host", "gateway.internal", "--port", "80", "--token", token)).GetProperty("released").GetBoolean());
        await using IPortClaim? mine = await store.TryClaimPortAsync("production", "gateway.internal", 80, "api-gateway", Ct);
        Assert.NotNull(mine);
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Every_language_skips_the_same_unreadable_services_and_keeps_the_rest(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await AddressesAsync(sibling.Prefix);
        IServiceAddressStore store = services.GetRequiredService<IServiceAddressStore>();
        // As another writer might store it: wrong types, nulls, a whole number written with a fraction, an unknown member.
        await (await Redis.ConnectionAsync()).GetDatabase().StringSetAsync($"{sibling.Prefix}:addresses:{{production}}:registry", """
            {"v":1,"environment":"production","services":[
              {"name":"billing","host":"billing.internal","port":7000,"scheme":"http","future":{"x":1}},
              {"name":"port-as-text","host":"h","port":"7001","scheme":"http"},
              {"name":"null-host","host":null,"port":7002,"scheme":"http"},
              {"name":"fraction","host":"h","port":7003.5,"scheme":"http"},
              {"name":"tags-of-numbers","host":"h","port":7004,"scheme":"http","tags":[1,2]},
              "not an object",
              {"name":"auth","host":"auth.internal","port":7005.0,"scheme":"https","tags":null,"endpoints":{"grpc":7006}}
            ]}
            """);

        PublishedRegistry? mine = await store.LoadAsync("production", Ct);
        Assert.NotNull(mine);
        Assert.Equal(["billing", "auth"], mine.Registry.Services.Select(s => s.Name));
        Assert.Equal(7005, mine.Registry.GetPort("auth"));

        JsonElement theirs = await sibling.RunAsync("addresses-load", "--env", "production");
        JsonElement[] read = [.. theirs.GetProperty("services").EnumerateArray()];
        Assert.Equal(["billing", "auth"], read.Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(7005, read[1].GetProperty("port").GetInt32());
        Assert.Equal(5, theirs.GetProperty("skipped").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_publishes_the_registry_and_claims_a_port_and_the_sibling_reads_both(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await AddressesAsync(sibling.Prefix);
        IServiceAddressStore store = services.GetRequiredService<IServiceAddressStore>();

        long revision = await store.PublishAsync(services.GetRequiredService<IServiceAddresses>(), Ct);
        JsonElement loaded = await sibling.RunAsync("addresses-load", "--env", "production");
        Assert.Equal(revision, loaded.GetProperty("revision").GetInt64());
        JsonElement[] published = [.. loaded.GetProperty("services").EnumerateArray()];
        Assert.Equal(["api-gateway", "auth"], published.Select(s => s.GetProperty("name").GetString()));
        JsonElement gateway = published[0];
        Assert.Equal(("gateway.internal", 80, "http"), (gateway.GetProperty("host").GetString(), gateway.GetProperty("port").GetInt32(), gateway.GetProperty("scheme").GetString()));
        Assert.Equal(443, gateway.GetProperty("endpoints").GetProperty("https").GetInt32());
        Assert.Equal("auth", Assert.Single(gateway.GetProperty("dependencies").EnumerateArray()).GetString());

        IPortClaim? claim = await store.TryClaimPortAsync("production", "localhost", 8081, "auth", Ct);
        Assert.NotNull(claim);
        JsonElement refused = await sibling.RunAsync("addresses-claim", "--env", "production", "--host", "localhost", "--port", "8081", "--service", "intruder");
        Assert.False(refused.GetProperty("claimed").GetBoolean());
        using (JsonDocument holder = JsonDocument.Parse(refused.GetProperty("holder").GetString()!))
        {
            Assert.Equal((1, "auth"), (holder.RootElement.GetProperty("v").GetInt32(), holder.RootElement.GetProperty("service").GetString()));
        }

        await claim.DisposeAsync();
        JsonElement taken = await sibling.RunAsync("addresses-claim", "--env", "production", "--host", "localhost", "--port", "8081", "--service", "auth", "--ttl", "30000");
        Assert.True(taken.GetProperty("claimed").GetBoolean());
        Assert.True((await sibling.RunAsync("addresses-renew-claim", "--env", "production", "--host", "localhost", "--port", "8081",
            "--token", taken.GetProperty("token").GetString()!, "--ttl", "30000")).GetProperty("renewed").GetBoolean());
    }

    public void Dispose() => File.Delete(_file);

    private async Task<ServiceProvider> AddressesAsync(string prefix)
    {
        var services = new ServiceCollection();
        services.AddSingleton(await Redis.NewConnectionAsync());
        services.AddServiceAddresses(_file, o =>
        {
            o.Backend = ServiceAddressesBackend.Redis;
            o.KeyPrefix = prefix;
            o.Environment = "production";
        });
        return services.BuildServiceProvider();
    }
}
