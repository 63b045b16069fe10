using System.Diagnostics;
using Lilith.Common;
using Lilith.ServiceAddresses.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>
/// A port claim is a lease: under a hung network its holder hears <see cref="IPortClaim.Lost"/> before another process
/// can take the port, and a claim whose reply never came is not left in Redis for a whole TTL.
/// </summary>
[Trait("Redis", "own-servers")]
public sealed class ClaimFaultTests(RedisFixture redis)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly string _prefix = RedisFixture.NewPrefix();

    [Fact]
    public async Task Lost_fires_before_another_process_can_claim_the_port_while_the_network_hangs()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using RedisServiceAddressStore holder = await StoreAsync(proxy.ConnectionString, TimeSpan.FromSeconds(3));
        await using RedisServiceAddressStore other = await StoreAsync(server.ConnectionString, TimeSpan.FromSeconds(30));

        IPortClaim claim = Assert.IsType<IPortClaim>(await holder.TryClaimPortAsync("production", "localhost", 8080, "api", Cancel), exactMatch: false);
        long lostAt = 0;
        using CancellationTokenRegistration onLost = claim.Lost.Register(() => Interlocked.Exchange(ref lostAt, Stopwatch.GetTimestamp()));

        proxy.Hang();
        long takenSentAt = 0;
        IPortClaim? taken = null;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (taken is null)
        {
            deadline.Token.ThrowIfCancellationRequested();
            takenSentAt = Stopwatch.GetTimestamp();
            taken = await other.TryClaimPortAsync("production", "localhost", 8080, "worker", Cancel);
        }

        await using (taken)
        {
            long lost = Interlocked.Read(ref lostAt);
            Assert.True(lost != 0, "the holder never heard Lost, yet another process took its port");
            Assert.True(lost < takenSentAt,
                $"Lost fired {Stopwatch.GetElapsedTime(takenSentAt, lost).TotalMilliseconds:0} ms after the request that took the port was sent");
        }

        proxy.Heal();
        await claim.DisposeAsync();
    }

    [Fact]
    public async Task A_claim_whose_reply_was_lost_is_removed_instead_of_held_for_its_ttl()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using RedisServiceAddressStore claimer = await StoreAsync(proxy.ConnectionString, TimeSpan.FromMinutes(2));
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        string key = new AddressKeys(_prefix).Claim("production", "localhost", 9090);
        await claimer.LoadAsync("production", Cancel); // connected before the fault

        proxy.Hang(FaultDirection.ToClient);
        using var shortWait = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        shortWait.CancelAfter(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await claimer.TryClaimPortAsync("production", "localhost", 9090, "api", shortWait.Token));
        // The claim reached Redis; only its reply was lost (the server is this test's own, so the count is this SET).
        string stats = await RedisFaults.InfoAsync(server.Port, "commandstats", Cancel);
        Assert.StartsWith("calls=1,", RedisFaults.InfoField(stats, "cmdstat_set"), StringComparison.Ordinal);

        // Nobody owns that claim: it must go long before its two-minute TTL.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await direct.GetDatabase().KeyExistsAsync(key))
        {
            await Task.Delay(50, deadline.Token);
        }
    }

    [Fact]
    public async Task Lost_fires_at_the_lease_end_without_renewal_counted_from_when_the_claim_was_sent()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var policy = new ClaimPolicy(TimeSpan.FromSeconds(30), AutoRenew: false, time);
        var store = new InMemoryServiceAddressStore(policy, NullLogger.Instance);
        IPortClaim claim = Assert.IsType<IPortClaim>(await store.TryClaimPortAsync("production", "localhost", 8080, "api", Cancel), exactMatch: false);

        time.Advance(policy.Ttl - policy.SafetyMargin - TimeSpan.FromMilliseconds(1));
        Assert.False(claim.Lost.IsCancellationRequested);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(claim.Lost.IsCancellationRequested, "an unrenewed claim must be lost in its holder's view before its TTL ends");

        // A renewal moves the end: counted from when the renewal was sent.
        IPortClaim second = Assert.IsType<IPortClaim>(await store.TryClaimPortAsync("production", "localhost", 8081, "api", Cancel), exactMatch: false);
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(await second.RenewAsync(Cancel));
        time.Advance(policy.Ttl - policy.SafetyMargin - TimeSpan.FromMilliseconds(1));
        Assert.False(second.Lost.IsCancellationRequested);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(second.Lost.IsCancellationRequested);
    }

    private async Task<RedisServiceAddressStore> StoreAsync(string connectionString, TimeSpan ttl)
    {
        ConfigurationOptions options = RedisConnectionString.Parse(connectionString);
        options.AbortOnConnectFail = false;
        IConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options);
        return new RedisServiceAddressStore(new RedisConnectionSource(connection), _prefix, new ClaimPolicy(ttl, AutoRenew: true, TimeProvider.System), NullLogger.Instance);
    }
}
