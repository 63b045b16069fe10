using Microsoft.Extensions.DependencyInjection;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>The behaviour both backends must show; run by <see cref="InMemoryDiscoveryTests"/> and <see cref="RedisDiscoveryTests"/>.</summary>
public abstract class DiscoveryContractTests
{
    protected static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    /// <summary>A discovery client (its own connection for Redis) on <paramref name="prefix"/>: TTL 1 s, sweep 200 ms.</summary>
    protected abstract Task<ServiceProvider> CreateClientAsync(string prefix, Action<DiscoveryOptions>? configure = null, CapturingLoggerProvider? logs = null);

    /// <summary>Writes an instance entry as another writer would (expiry 60 s ahead), bypassing the client.</summary>
    protected abstract Task WriteRawAsync(string prefix, string service, string id, string json);

    protected static void Defaults(DiscoveryOptions o, string prefix)
    {
        o.KeyPrefix = prefix;
        o.Ttl = TimeSpan.FromSeconds(1);
        o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
        o.SweepInterval = TimeSpan.FromMilliseconds(200);
    }

    protected static ServiceInstance Instance(string id, int port = 8080, string? zone = null, string? version = null, params string[] tags) =>
        new() { Id = id, Host = "10.0.0." + (port % 250), Port = port, Zone = zone, Version = version, Tags = tags };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_clients_see_each_others_registrations_and_events()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider a = await CreateClientAsync(prefix);
        await using ServiceProvider b = await CreateClientAsync(prefix);
        IServiceResolver resolverA = a.GetRequiredService<IServiceResolver>();
        IServiceResolver resolverB = b.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolverA.ResolveAsync("orders", cancellationToken: Ct));
        Assert.Empty(await resolverB.ResolveAsync("orders", cancellationToken: Ct));
        await using var eventsA = new EventLog(resolverA, "orders");
        await using var eventsB = new EventLog(resolverB, null);

        await a.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", Instance("orders-a", 8001), Ct);
        await b.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", Instance("orders-b", 8002), Ct);

        await Eventually.TrueAsync(async () => (await resolverA.ResolveAsync("orders", cancellationToken: Ct)).Count == 2, Within, "client A sees both instances");
        await Eventually.TrueAsync(async () => (await resolverB.ResolveAsync("orders", cancellationToken: Ct)).Count == 2, Within, "client B sees both instances");
        await Eventually.TrueAsync(() => eventsA.Has(DiscoveryEventKind.Registered, "orders-b"), Within, "A receives B's registered event");
        await Eventually.TrueAsync(() => eventsB.Has(DiscoveryEventKind.Registered, "orders-a"), Within, "B receives A's registered event");
        DiscoveryEvent fromA = eventsB.Events.First(e => e.InstanceId == "orders-a");
        Assert.Equal(8001, fromA.Instance!.Port);
        Assert.True(fromA.Revision >= 1);

        Assert.True(await b.GetRequiredService<IServiceRegistry>().DeregisterAsync("orders", "orders-b", Ct));
        await Eventually.TrueAsync(() => eventsA.Has(DiscoveryEventKind.Deregistered, "orders-b"), Within, "A receives B's deregistered event");
        await Eventually.TrueAsync(async () => (await resolverA.ResolveAsync("orders", cancellationToken: Ct)).Single().Id == "orders-a", Within, "A's cache drops orders-b");
    }

    [Fact]
    public async Task Client_that_stops_heartbeating_disappears_within_ttl_plus_one_sweep()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider watcher = await CreateClientAsync(prefix);
        IServiceResolver resolver = watcher.GetRequiredService<IServiceResolver>();
        await using var events = new EventLog(resolver, "billing");
        ServiceProvider dying = await CreateClientAsync(prefix);
        await dying.GetRequiredService<IServiceRegistry>().RegisterAsync("billing", Instance("billing-1"), Ct);
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("billing", cancellationToken: Ct)).Count == 1, Within, "registration seen");

        // Dispose stops the heartbeats without deregistering, as a crashed process would.
        await dying.DisposeAsync();
        var stopped = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("billing", cancellationToken: Ct)).Count == 0, TimeSpan.FromSeconds(4), "instance expired");
        Assert.True(stopped.Elapsed < TimeSpan.FromMilliseconds(1000 + 200 + 800), $"took {stopped.Elapsed}");
        // The cache drops the instance before the event reaches the watcher's stream; the expired event must still come.
        await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Expired, "billing-1"), Within, "watcher receives the expired event");
    }

    [Fact]
    public async Task Heartbeat_for_a_removed_instance_registers_it_again()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider a = await CreateClientAsync(prefix);
        await using ServiceProvider b = await CreateClientAsync(prefix);
        IServiceRegistry registry = a.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("search", Instance("search-1"), Ct);
        Assert.True(await b.GetRequiredService<IServiceRegistry>().DeregisterAsync("search", "search-1", Ct));
        IServiceResolver resolver = b.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync("search", cancellationToken: Ct));

        Assert.True(await registry.HeartbeatAsync("search", "search-1", Ct));
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("search", cancellationToken: Ct)).Count == 1, Within, "re-registered by heartbeat");
        Assert.False(await b.GetRequiredService<IServiceRegistry>().HeartbeatAsync("search", "unknown", Ct));
    }

    [Fact]
    public async Task Filters_by_tag_zone_and_version()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider a = await CreateClientAsync(prefix);
        IServiceRegistry registry = a.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("api", Instance("api-1", 8001, "eu-1a", "1.0", "public", "grpc"), Ct);
        await registry.RegisterAsync("api", Instance("api-2", 8002, "eu-1b", "1.0", "public"), Ct);
        await registry.RegisterAsync("api", Instance("api-3", 8003, "eu-1a", "2.0"), Ct);
        await using ServiceProvider b = await CreateClientAsync(prefix);
        IServiceResolver resolver = b.GetRequiredService<IServiceResolver>();

        Assert.Equal(["api-1", "api-3"], (await resolver.ResolveAsync("api", new InstanceFilter { Zone = "eu-1a" }, Ct)).Select(i => i.Id));
        Assert.Equal(["api-1", "api-2"], (await resolver.ResolveAsync("api", new InstanceFilter { Version = "1.0" }, Ct)).Select(i => i.Id));
        Assert.Equal(["api-1"], (await resolver.ResolveAsync("api", new InstanceFilter { Tags = ["public", "grpc"] }, Ct)).Select(i => i.Id));
        Assert.Equal(["api-2"], (await resolver.ResolveAsync("api", new InstanceFilter { Tags = ["public"], Zone = "eu-1b" }, Ct)).Select(i => i.Id));
        Assert.Empty(await resolver.ResolveAsync("api", new InstanceFilter { Zone = "us-1" }, Ct));

        // Re-registering with other tags moves the instance between indexes.
        await registry.RegisterAsync("api", Instance("api-3", 8003, "eu-1b", "2.0", "grpc"), Ct);
        var grpc = new InstanceFilter { Tags = ["grpc"] };
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("api", grpc, Ct)).Count == 2, Within, "api-3 now tagged grpc");
        Assert.Equal(["api-2", "api-3"], (await resolver.ResolveAsync("api", new InstanceFilter { Zone = "eu-1b" }, Ct)).Select(i => i.Id));
    }

    [Fact]
    public async Task Health_controls_what_resolves_and_is_published()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider a = await CreateClientAsync(prefix);
        await using ServiceProvider b = await CreateClientAsync(prefix);
        IServiceRegistry registry = a.GetRequiredService<IServiceRegistry>();
        IServiceResolver resolver = b.GetRequiredService<IServiceResolver>();
        await registry.RegisterAsync("cart", Instance("cart-1", 8001), Ct);
        await registry.RegisterAsync("cart", Instance("cart-2", 8002), Ct);
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("cart", cancellationToken: Ct)).Count == 2, Within, "both resolve");
        await using var events = new EventLog(resolver, "cart");

        Assert.True(await registry.SetHealthAsync("cart", "cart-1", InstanceHealth.Critical, Ct));
        Assert.True(await registry.SetHealthAsync("cart", "cart-2", InstanceHealth.Warning, Ct));
        await Eventually.TrueAsync(() => events.Events.Count(e => e.Kind == DiscoveryEventKind.HealthChanged) == 2, Within, "two health-changed events");
        Assert.Equal(InstanceHealth.Critical, events.Events.First(e => e.InstanceId == "cart-1").Instance!.Health);
        Assert.Equal(["cart-2"], (await resolver.ResolveAsync("cart", cancellationToken: Ct)).Select(i => i.Id));
        Assert.Empty(await resolver.ResolveAsync("cart", new InstanceFilter { IncludeWarning = false }, Ct));
        Assert.False(await registry.SetHealthAsync("cart", "missing", InstanceHealth.Passing, Ct));

        // The health survives a heartbeat-driven re-registration (the local copy is updated too).
        Assert.True(await b.GetRequiredService<IServiceRegistry>().DeregisterAsync("cart", "cart-1", Ct));
        Assert.True(await registry.HeartbeatAsync("cart", "cart-1", Ct));
        await Eventually.TrueAsync(() => events.Events.Count(e => e.Kind == DiscoveryEventKind.Registered && e.InstanceId == "cart-1") == 1, Within, "re-registered");
        Assert.Equal(InstanceHealth.Critical, events.Events.Last(e => e.InstanceId == "cart-1").Instance!.Health);
    }

    [Fact]
    public async Task Malformed_entries_are_skipped_and_reported_while_the_rest_resolves()
    {
        string prefix = RedisFixture.NewPrefix();
        await WriteRawAsync(prefix, "mixed", "good-1", """{"v":1,"id":"good-1","host":"10.1.1.1","port":9000,"extra":"ignored"}""");
        await WriteRawAsync(prefix, "mixed", "bad-json", "{not json");
        await WriteRawAsync(prefix, "mixed", "no-port", """{"v":1,"id":"no-port","host":"10.1.1.2"}""");
        await WriteRawAsync(prefix, "mixed", "future", """{"v":2,"id":"future","host":"10.1.1.3","port":9001}""");
        await WriteRawAsync(prefix, "mixed", "bad-health", """{"v":1,"id":"bad-health","host":"10.1.1.4","port":9002,"health":"sick"}""");
        var logs = new CapturingLoggerProvider();
        await using ServiceProvider client = await CreateClientAsync(prefix, logs: logs);

        IReadOnlyList<ServiceInstance> resolved = await client.GetRequiredService<IServiceResolver>().ResolveAsync("mixed", cancellationToken: Ct);

        ServiceInstance good = Assert.Single(resolved);
        Assert.Equal(("good-1", "10.1.1.1", 9000, "http", 1, InstanceHealth.Passing), (good.Id, good.Host, good.Port, good.Scheme, good.Weight, good.Health));
        Assert.Contains(logs.Lines, l => l.Contains("'bad-json'", StringComparison.Ordinal) && l.Contains("not JSON", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("'no-port'", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("schema version 2 is not known to this reader, which knows 1", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("'bad-health'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Round_robin_select_is_exact_through_the_client()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider client = await CreateClientAsync(prefix);
        IServiceRegistry registry = client.GetRequiredService<IServiceRegistry>();
        for (int i = 1; i <= 3; i++)
        {
            await registry.RegisterAsync("rr", Instance($"rr-{i}", 8000 + i), Ct);
        }

        IServiceResolver resolver = client.GetRequiredService<IServiceResolver>();
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("rr", cancellationToken: Ct)).Count == 3, Within, "three instances");
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 300; i++)
        {
            using InstanceLease lease = await resolver.SelectAsync("rr", cancellationToken: Ct);
            counts[lease.Instance.Id] = counts.GetValueOrDefault(lease.Instance.Id) + 1;
        }

        Assert.Equal([100, 100, 100], counts.Values);
        await Assert.ThrowsAsync<ServiceDiscoveryException>(async () => await resolver.SelectAsync("nobody", cancellationToken: Ct));
    }

    [Fact]
    public async Task Bad_input_names_the_value()
    {
        await using ServiceProvider client = await CreateClientAsync(RedisFixture.NewPrefix());
        IServiceRegistry registry = client.GetRequiredService<IServiceRegistry>();
        ArgumentException e = await Assert.ThrowsAsync<ArgumentException>(async () => await registry.RegisterAsync("bad{name}", Instance("x"), Ct));
        Assert.Contains("bad{name}", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(async () => await registry.RegisterAsync("ok", Instance("x", port: 70000), Ct));
        Assert.Contains("70000", e.Message, StringComparison.Ordinal);
    }
}
