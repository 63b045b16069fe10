using Lilith.Common;
using Lilith.ServiceAddresses.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>The contract every <see cref="IServiceAddressStore"/> keeps; run on the in-memory and the Redis store.</summary>
public abstract class StoreContractTests
{
    protected static readonly TimeSpan ClaimTtl = TimeSpan.FromSeconds(30);

    /// <summary>A fresh, empty store (its own key prefix on Redis) whose claims last <paramref name="ttl"/> (default <see cref="ClaimTtl"/>).</summary>
    protected abstract Task<IServiceAddressStore> CreateStoreAsync(TimeSpan? ttl = null, bool autoRenew = true);

    /// <summary>A claim TTL short enough to outlive a few times in a test on this store's clock.</summary>
    protected abstract TimeSpan ShortTtl { get; }

    /// <summary>Lets <paramref name="duration"/> pass on the store's clock, giving background renewals their turns.</summary>
    protected abstract Task PassTimeAsync(TimeSpan duration);

    /// <summary>A second store on the same data, as another process would have.</summary>
    protected abstract Task<IServiceAddressStore> SecondStoreAsync(IServiceAddressStore first);

    [Fact]
    public async Task Publish_then_load_gives_the_same_registry_and_counts_revisions()
    {
        IServiceAddressStore store = await CreateStoreAsync();
        CancellationToken ct = TestContext.Current.CancellationToken;
        ServiceRegistry production = TestRegistries.Fleet("production");

        Assert.Null(await store.LoadAsync("production", ct));
        Assert.Equal(1, await store.PublishAsync(production, ct));
        Assert.Equal(2, await store.PublishAsync(production, ct));
        Assert.Equal(1, await store.PublishAsync(TestRegistries.Fleet("staging"), ct));

        PublishedRegistry? loaded = await (await SecondStoreAsync(store)).LoadAsync("Production", ct);
        Assert.NotNull(loaded);
        Assert.Equal(2, loaded.Revision);
        Assert.Equal("production", loaded.Registry.Environment);
        Assert.Equivalent(production.Services, loaded.Registry.Services, strict: true);
        Assert.Equal(80, loaded.Registry.GetPort("api-gateway"));
        Assert.Equal(["auth", "postgres", "orders", "api-gateway"], loaded.Registry.GetStartOrder());
    }

    [Fact]
    public async Task A_claimed_port_cannot_be_claimed_again_until_released()
    {
        IServiceAddressStore store = await CreateStoreAsync();
        IServiceAddressStore other = await SecondStoreAsync(store);
        CancellationToken ct = TestContext.Current.CancellationToken;

        IPortClaim? claim = await store.TryClaimPortAsync("production", "10.0.0.5", 8080, "api-gateway", ct);
        Assert.NotNull(claim);
        Assert.Equal(("production", "10.0.0.5", 8080, "api-gateway"), (claim.Environment, claim.Host, claim.Port, claim.Service));
        Assert.Null(await other.TryClaimPortAsync("production", "10.0.0.5", 8080, "web", ct));
        Assert.Null(await store.TryClaimPortAsync("production", "10.0.0.5", 8080, "api-gateway", ct));

        // Other ports, hosts and environments are separate claims.
        await using (IPortClaim? a = await other.TryClaimPortAsync("production", "10.0.0.5", 8081, "web", ct))
        await using (IPortClaim? b = await other.TryClaimPortAsync("production", "10.0.0.6", 8080, "web", ct))
        await using (IPortClaim? c = await other.TryClaimPortAsync("staging", "10.0.0.5", 8080, "web", ct))
        {
            Assert.All(new[] { a, b, c }, Assert.NotNull);
        }

        Assert.True(await claim.RenewAsync(ct));
        await claim.DisposeAsync();
        await using IPortClaim? next = await other.TryClaimPortAsync("production", "10.0.0.5", 8080, "web", ct);
        Assert.NotNull(next);
        Assert.False(await claim.RenewAsync(ct)); // released claims are never re-created by renewing
    }

    [Fact]
    public async Task Disposing_a_lost_claim_does_not_release_the_new_holder()
    {
        IServiceAddressStore store = await CreateStoreAsync();
        CancellationToken ct = TestContext.Current.CancellationToken;
        IPortClaim first = (await store.TryClaimPortAsync("dev", "localhost", 7000, "a", ct))!;
        await first.DisposeAsync();
        IPortClaim second = (await store.TryClaimPortAsync("dev", "localhost", 7000, "b", ct))!;
        await first.DisposeAsync();
        Assert.Null(await store.TryClaimPortAsync("dev", "localhost", 7000, "c", ct));
        Assert.True(await second.RenewAsync(ct));
        await second.DisposeAsync();
    }

    [Fact]
    public async Task A_held_claim_renews_itself_past_its_ttl_until_disposed()
    {
        IServiceAddressStore store = await CreateStoreAsync(ShortTtl);
        IServiceAddressStore other = await SecondStoreAsync(store);
        CancellationToken ct = TestContext.Current.CancellationToken;
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7100, "a", ct))!;

        await PassTimeAsync(ShortTtl * 2.5);
        Assert.Null(await other.TryClaimPortAsync("dev", "localhost", 7100, "b", ct));
        Assert.False(claim.Lost.IsCancellationRequested);

        await claim.DisposeAsync();
        await using IPortClaim? next = await other.TryClaimPortAsync("dev", "localhost", 7100, "b", ct);
        Assert.NotNull(next);
        Assert.False(claim.Lost.IsCancellationRequested); // released, not lost
    }

    [Fact]
    public async Task Without_auto_renewal_a_claim_expires_and_renewing_it_signals_lost()
    {
        IServiceAddressStore store = await CreateStoreAsync(ShortTtl, autoRenew: false);
        IServiceAddressStore other = await SecondStoreAsync(store);
        CancellationToken ct = TestContext.Current.CancellationToken;
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7200, "a", ct))!;

        await PassTimeAsync(ShortTtl * 1.5);
        await using IPortClaim? taken = await other.TryClaimPortAsync("dev", "localhost", 7200, "b", ct);
        Assert.NotNull(taken);
        Assert.True(claim.Lost.IsCancellationRequested, "an unrenewed claim is lost in its holder's view before another can take the port");
        Assert.False(await claim.RenewAsync(ct));
        Assert.True(claim.Lost.IsCancellationRequested);
        await claim.DisposeAsync();
        Assert.Null(await store.TryClaimPortAsync("dev", "localhost", 7200, "c", ct)); // the new holder's claim stays
    }

    [Theory]
    [InlineData("localhost", "LocalHost")]
    [InlineData("gateway.internal", "gateway.internal.")]
    [InlineData("::1", "[::1]")]
    [InlineData("Gateway.Internal.", "GATEWAY.internal")]
    public async Task One_host_written_two_ways_is_one_claim(string first, string second)
    {
        IServiceAddressStore store = await CreateStoreAsync();
        IServiceAddressStore other = await SecondStoreAsync(store);
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using IPortClaim? claim = await store.TryClaimPortAsync("dev", first, 7300, "a", ct);
        Assert.NotNull(claim);
        Assert.Null(await other.TryClaimPortAsync("dev", second, 7300, "b", ct));
    }

    [Fact]
    public async Task Bad_arguments_name_the_value()
    {
        IServiceAddressStore store = await CreateStoreAsync();
        CancellationToken ct = TestContext.Current.CancellationToken;
        var port = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.TryClaimPortAsync("dev", "localhost", 70000, "a", ct));
        Assert.StartsWith("port: 70000 is not in 1..65535", port.Message, StringComparison.Ordinal);
        var env = await Assert.ThrowsAsync<ArgumentException>(async () => await store.TryClaimPortAsync("a{b}", "localhost", 80, "a", ct));
        Assert.Contains("'a{b}'", env.Message, StringComparison.Ordinal);
    }
}

public sealed class InMemoryStoreContractTests : StoreContractTests
{
    private readonly FakeTimeProvider _time = new();

    protected override TimeSpan ShortTtl => ClaimTtl;

    protected override Task<IServiceAddressStore> CreateStoreAsync(TimeSpan? ttl = null, bool autoRenew = true) =>
        Task.FromResult<IServiceAddressStore>(new InMemoryServiceAddressStore(new ClaimPolicy(ttl ?? ClaimTtl, autoRenew, _time), NullLogger.Instance));

    protected override Task<IServiceAddressStore> SecondStoreAsync(IServiceAddressStore first) => Task.FromResult(first);

    protected override async Task PassTimeAsync(TimeSpan duration)
    {
        // Small steps with a real pause between them, so each renewal runs before the fake clock moves past it.
        TimeSpan step = ShortTtl / 10;
        for (TimeSpan passed = TimeSpan.Zero; passed < duration; passed += step)
        {
            _time.Advance(step);
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task A_claim_expires_after_its_ttl_unless_renewed()
    {
        IServiceAddressStore store = await CreateStoreAsync(autoRenew: false);
        CancellationToken ct = TestContext.Current.CancellationToken;
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7000, "a", ct))!;
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(await claim.RenewAsync(ct));
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Null(await store.TryClaimPortAsync("dev", "localhost", 7000, "b", ct));
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(await claim.RenewAsync(ct));
        Assert.NotNull(await store.TryClaimPortAsync("dev", "localhost", 7000, "b", ct));
    }
}

public sealed class RedisStoreContractTests(RedisFixture redis) : StoreContractTests
{
    private readonly string _prefix = RedisFixture.NewPrefix();

    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(1.5);

    protected override async Task<IServiceAddressStore> CreateStoreAsync(TimeSpan? ttl = null, bool autoRenew = true) =>
        new RedisServiceAddressStore(new RedisConnectionSource(await redis.ConnectionAsync()), _prefix, Policy(ttl, autoRenew), NullLogger.Instance);

    protected override async Task<IServiceAddressStore> SecondStoreAsync(IServiceAddressStore first) =>
        new RedisServiceAddressStore(new RedisConnectionSource(await redis.NewConnectionAsync()), _prefix, Policy(null, true), NullLogger.Instance);

    protected override Task PassTimeAsync(TimeSpan duration) => Task.Delay(duration, TestContext.Current.CancellationToken);

    private static ClaimPolicy Policy(TimeSpan? ttl, bool autoRenew) => new(ttl ?? ClaimTtl, autoRenew, TimeProvider.System);
}
