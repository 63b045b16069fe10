using Lilith.Common;
using Lilith.ServiceAddresses.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>What the Redis store writes, as another language sees it, and the port race between processes.</summary>
public sealed class RedisStoreTests(RedisFixture redis)
{
    private readonly string _prefix = RedisFixture.NewPrefix();

    private async Task<RedisServiceAddressStore> StoreAsync(TimeSpan? ttl = null, bool ownConnection = false, bool autoRenew = true) =>
        new(new RedisConnectionSource(ownConnection ? await redis.NewConnectionAsync() : await redis.ConnectionAsync()),
            _prefix, new ClaimPolicy(ttl ?? TimeSpan.FromSeconds(30), autoRenew, TimeProvider.System), NullLogger.Instance);

    [Fact]
    public async Task Publish_writes_the_documented_keys_and_announces_the_revision()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        IConnectionMultiplexer connection = await redis.NewConnectionAsync();
        IDatabase db = connection.GetDatabase();
        var keys = new AddressKeys(_prefix);
        var announced = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(keys.ChangedChannel("production")), (_, m) => announced.TrySetResult(m!));

        await using RedisServiceAddressStore store = await StoreAsync(ownConnection: true);
        ServiceRegistry registry = TestRegistries.Fleet("production");
        Assert.Equal(1, await store.PublishAsync(registry, ct));

        Assert.Equal(RegistryPayload.From(registry).ToJson(), (string?)await db.StringGetAsync(keys.Registry("production")));
        Assert.Equal("1", (string?)await db.StringGetAsync(keys.Revision("production")));
        Assert.Null(await db.KeyTimeToLiveAsync(keys.Registry("production")));
        Assert.Equal("1", await announced.Task.WaitAsync(TimeSpan.FromSeconds(5), ct));
    }

    [Fact]
    public async Task A_registry_written_by_another_language_is_loaded()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var keys = new AddressKeys(_prefix);
        // As a sibling would write it: members in another order, an unknown member, no endpoints map.
        await db.StringSetAsync(keys.Registry("qa"),
            """{"environment":"qa","futureMember":true,"v":1,"services":[{"port":7000,"name":"billing","scheme":"http","host":"billing.qa"}]}""");
        await db.StringSetAsync(keys.Revision("qa"), 7);

        await using RedisServiceAddressStore store = await StoreAsync();
        PublishedRegistry? loaded = await store.LoadAsync("qa", ct);
        Assert.NotNull(loaded);
        Assert.Equal(7, loaded.Revision);
        Assert.Equal(new Uri("http://billing.qa:7000/"), loaded.Registry.GetUrl("billing"));
        Assert.Empty(loaded.Registry.GetDependencies("billing"));
    }

    [Fact]
    public async Task Unreadable_or_newer_registries_are_refused_with_the_key_and_reason()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var keys = new AddressKeys(_prefix);
        await using RedisServiceAddressStore store = await StoreAsync();

        await db.StringSetAsync(keys.Registry("qa"), """{"v":2,"environment":"qa","services":[]}""");
        var newer = await Assert.ThrowsAsync<ServiceRegistryException>(async () => await store.LoadAsync("qa", ct));
        Assert.Equal("v: schema version 2 is not known to this reader, which knows 1", Assert.Single(newer.Errors).ToString());
        Assert.Contains(keys.Registry("qa"), newer.Message, StringComparison.Ordinal);

        await db.StringSetAsync(keys.Registry("qa"), "not json");
        var broken = await Assert.ThrowsAsync<ServiceRegistryException>(async () => await store.LoadAsync("qa", ct));
        Assert.StartsWith("the stored registry is not readable JSON", Assert.Single(broken.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name":"bad-port","host":"h","port":"8080","scheme":"http"}""")]
    [InlineData("""{"name":"no-host","port":8080,"scheme":"http"}""")]
    [InlineData("""{"name":"null-host","host":null,"port":8080,"scheme":"http"}""")]
    [InlineData("""{"name":"out-of-range","host":"h","port":70000,"scheme":"http"}""")]
    [InlineData("""{"name":"tags-not-strings","host":"h","port":8080,"scheme":"http","tags":[1]}""")]
    [InlineData("""42""")]
    public async Task One_unreadable_service_is_skipped_and_its_neighbours_stay_visible(string badService)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var keys = new AddressKeys(_prefix);
        await db.StringSetAsync(keys.Registry("qa"),
            "{\"v\":1,\"environment\":\"qa\",\"services\":[{\"name\":\"billing\",\"host\":\"billing.qa\",\"port\":7000,\"scheme\":\"http\"}," +
            badService + ",{\"name\":\"auth\",\"host\":\"auth.qa\",\"port\":7001.0,\"scheme\":\"https\",\"zone\":null}]}");

        await using RedisServiceAddressStore store = await StoreAsync();
        PublishedRegistry? loaded = await store.LoadAsync("qa", ct);
        Assert.NotNull(loaded);
        Assert.Equal(["billing", "auth"], loaded.Registry.Services.Select(s => s.Name));
        Assert.Equal(7001, loaded.Registry.GetPort("auth")); // a whole-valued number is an integer, however it is written
    }

    [Fact]
    public async Task Claim_is_a_string_with_the_documented_payload_and_ttl()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        string key = new AddressKeys(_prefix).Claim("production", "10.0.0.5", 8080);
        await using RedisServiceAddressStore store = await StoreAsync(TimeSpan.FromSeconds(20));
        await using IPortClaim? claim = await store.TryClaimPortAsync("production", "10.0.0.5", 8080, "api-gateway", ct);
        Assert.NotNull(claim);

        ClaimPayload payload = ClaimPayload.Parse((string)(await db.StringGetAsync(key))!)!;
        Assert.Equal((1, "api-gateway"), (payload.V, payload.Service));
        Assert.Contains($"/{Environment.ProcessId}/", payload.Owner, StringComparison.Ordinal);
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));

        await claim.DisposeAsync();
        Assert.False(await db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task Two_claimers_race_for_one_port_and_exactly_one_wins()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using RedisServiceAddressStore a = await StoreAsync(ownConnection: true);
        await using RedisServiceAddressStore b = await StoreAsync(ownConnection: true);
        for (int round = 0; round < 20; round++)
        {
            int port = 20000 + round;
            using var start = new ManualResetEventSlim();
            Task<IPortClaim?> first = Task.Run(async () => { start.Wait(ct); return await a.TryClaimPortAsync("race", "localhost", port, "a", ct); }, ct);
            Task<IPortClaim?> second = Task.Run(async () => { start.Wait(ct); return await b.TryClaimPortAsync("race", "localhost", port, "b", ct); }, ct);
            start.Set();
            IPortClaim?[] results = await Task.WhenAll(first, second);
            IPortClaim winner = Assert.Single(results, r => r is not null)!;
            Assert.True(await winner.RenewAsync(ct));
            await winner.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_claim_that_expired_on_the_server_is_not_renewed()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using RedisServiceAddressStore store = await StoreAsync(TimeSpan.FromMilliseconds(100), autoRenew: false);
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7100, "a", ct))!;
        string key = new AddressKeys(_prefix).Claim("dev", "localhost", 7100);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        long deadline = Environment.TickCount64 + 5000;
        while (await db.KeyExistsAsync(key) && Environment.TickCount64 < deadline)
        {
            await Task.Delay(20, ct);
        }

        Assert.False(await claim.RenewAsync(ct));
        Assert.False(await db.KeyExistsAsync(key)); // renewing never re-creates it
        await claim.DisposeAsync();
    }

    [Fact]
    public async Task A_claim_deleted_from_outside_fires_Lost_at_the_next_renewal()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using RedisServiceAddressStore store = await StoreAsync(TimeSpan.FromSeconds(1.5));
        await using IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7300, "a", ct))!;
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();

        Assert.True(await db.KeyDeleteAsync(new AddressKeys(_prefix).Claim("dev", "localhost", 7300)));
        // One renewal period is 0.5 s; the bound leaves room for a loaded machine.
        await Task.Delay(Timeout.Infinite, claim.Lost).WaitAsync(TimeSpan.FromSeconds(10), ct).ContinueWith(_ => { }, ct);
        Assert.True(claim.Lost.IsCancellationRequested, "Lost did not fire after the claim's key was deleted");
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task A_claim_whose_redis_stays_down_for_a_whole_ttl_fires_Lost()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        await using var store = new RedisServiceAddressStore(new RedisConnectionSource(connection), _prefix,
            new ClaimPolicy(TimeSpan.FromSeconds(1.5), AutoRenew: true, TimeProvider.System), NullLogger.Instance);
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7400, "a", ct))!;

        await server.KillAsync();
        await Task.Delay(Timeout.Infinite, claim.Lost).WaitAsync(TimeSpan.FromSeconds(15), ct).ContinueWith(_ => { }, ct);
        Assert.True(claim.Lost.IsCancellationRequested, "Lost did not fire while Redis was down for longer than the claim's TTL");
        await claim.DisposeAsync(); // must not throw while Redis is down
        await server.RestartAsync(ct);
        await connection.DisposeAsync();
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Redis_down_fails_claims_clearly_dispose_does_not_throw_and_claims_work_after_restart()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        await using var store = new RedisServiceAddressStore(new RedisConnectionSource(connection), _prefix, new ClaimPolicy(TimeSpan.FromSeconds(30), AutoRenew: true, TimeProvider.System), NullLogger.Instance);
        IPortClaim claim = (await store.TryClaimPortAsync("dev", "localhost", 7200, "a", ct))!;

        await server.KillAsync();
        Exception down = await Assert.ThrowsAnyAsync<Exception>(async () => await store.TryClaimPortAsync("dev", "localhost", 7201, "b", ct));
        Assert.True(down is RedisException or TimeoutException, down.ToString());
        await claim.DisposeAsync(); // must not throw while Redis is down

        await server.RestartAsync(ct);
        long deadline = Environment.TickCount64 + 15000;
        IPortClaim? again = null;
        while (again is null && Environment.TickCount64 < deadline)
        {
            try
            {
                again = await store.TryClaimPortAsync("dev", "localhost", 7200, "a", ct);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await Task.Delay(100, ct);
            }
        }

        Assert.NotNull(again); // the restarted server has no data: the claim is free again
        await again.DisposeAsync();
        await connection.DisposeAsync();
    }
}
