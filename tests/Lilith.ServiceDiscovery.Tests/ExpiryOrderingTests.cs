using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Expiry is never silent, one revision means one instance set, and the order of a client's own steps holds.</summary>
public sealed class ExpiryOrderingTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ServiceInstance Instance(string id) => new() { Id = id, Host = "10.0.0.1", Port = 8080 };

    [Fact]
    public async Task A_heartbeat_after_expiry_brings_the_instance_back_with_an_event_and_a_new_revision()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        await using ServiceProvider owner = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        await using ServiceProvider reader = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceRegistry registry = owner.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("revive", Instance("r-1"), Ct);

        // Expired, not yet swept (no sweep runs for 10 minutes): a resolver that loads now sees no instance at this revision.
        await raw.ExpireAsync("revive", "r-1");
        long expiredAt = await raw.RevisionAsync("revive");
        IServiceResolver resolver = reader.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync("revive", cancellationToken: Ct));
        await using var events = new EventLog(resolver, "revive");

        Assert.True(await registry.HeartbeatAsync("revive", "r-1", Ct));

        Assert.True(await raw.RevisionAsync("revive") > expiredAt, "the revival is a new revision");
        await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Registered, "r-1"), Within, "the revival is published");
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("revive", cancellationToken: Ct)).Count == 1, Within,
            "the cache that loaded in between has the instance again (its refresh interval is 10 minutes)");
    }

    [Fact]
    public async Task A_live_instance_renews_silently()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        await using ServiceProvider owner = await RawDiscovery.ClientAsync(redis, raw.Prefix);
        IServiceRegistry registry = owner.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("renew", Instance("r-1"), Ct);
        long revision = await raw.RevisionAsync("renew");

        Assert.True(await registry.HeartbeatAsync("renew", "r-1", Ct));
        await registry.RegisterAsync("renew", Instance("r-1"), Ct);

        Assert.Equal(revision, await raw.RevisionAsync("renew"));
    }

    [Fact]
    public async Task Deregister_during_a_heartbeat_that_registers_again_leaves_no_copy_behind()
    {
        string prefix = "zombie-" + Guid.NewGuid().ToString("N");
        var options = new DiscoveryOptions { KeyPrefix = prefix, Ttl = TimeSpan.FromMinutes(10), SweepInterval = TimeSpan.FromMinutes(10), RefreshInterval = TimeSpan.FromMinutes(10) };
        var held = new HeldBackend(new InMemoryDiscoveryBackend(prefix, TimeProvider.System));
        await using var owner = new DiscoveryClient(held, options, TimeProvider.System, NullLogger.Instance);
        await using var other = new DiscoveryClient(new InMemoryDiscoveryBackend(prefix, TimeProvider.System), options, TimeProvider.System, NullLogger.Instance);
        await owner.RegisterAsync("orders", Instance("o-1"), Ct);
        Assert.True(await other.DeregisterAsync("orders", "o-1", Ct)); // removed behind the owner's back

        // The owner's heartbeat finds it gone and registers it again; its write is held while the owner deregisters.
        Task<string> registering = held.HoldNextRegister();
        Task<bool> heartbeat = owner.HeartbeatAsync("orders", "o-1", Ct).AsTask();
        Assert.Equal("o-1", await registering.WaitAsync(Within, Ct));
        Task<bool> deregister = owner.DeregisterAsync("orders", "o-1", Ct).AsTask();
        held.ReleaseRegister();
        await heartbeat.WaitAsync(Within, Ct);
        Assert.True(await deregister.WaitAsync(Within, Ct));

        await using var fresh = new DiscoveryClient(new InMemoryDiscoveryBackend(prefix, TimeProvider.System), options, TimeProvider.System, NullLogger.Instance);
        Assert.Empty(await fresh.ResolveAsync("orders", cancellationToken: Ct));
        Assert.False(await owner.HeartbeatAsync("orders", "o-1", Ct));
    }

    [Fact]
    public async Task A_watch_receives_a_change_made_right_after_the_call_before_its_first_read()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider reader = await RawDiscovery.ClientAsync(redis, prefix);
        await using ServiceProvider writer = await RawDiscovery.ClientAsync(redis, prefix);
        IServiceResolver resolver = reader.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync("watched", cancellationToken: Ct)); // the client is connected and subscribed

        IAsyncEnumerator<DiscoveryEvent> watch = resolver.WatchAsync("watched", Ct).GetAsyncEnumerator(Ct);
        await writer.GetRequiredService<IServiceRegistry>().RegisterAsync("watched", Instance("w-1"), Ct);
        // The client has handled the event (its cache has the instance) before the watch is first read.
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("watched", cancellationToken: Ct)).Count == 1, Within, "the client saw the change");

        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(Within, Ct));
        Assert.Equal((DiscoveryEventKind.Registered, "w-1", false), (watch.Current.Kind, watch.Current.InstanceId, watch.Current.IsResync));
        await watch.DisposeAsync();
    }
}
