using Lilith.Common;
using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>The Redis work of a fleet grows with its instances and changes, not with its clients: one sweeper per prefix, no cap on services.</summary>
public sealed class FleetTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HeldBackend Backend, DiscoveryClient Client)> ClientAsync(string prefix, TimeSpan sweep)
    {
        var backend = new HeldBackend(new RedisDiscoveryBackend(new RedisConnectionSource(await redis.NewConnectionAsync()), prefix));
        var options = new DiscoveryOptions { KeyPrefix = prefix, Ttl = TimeSpan.FromMinutes(10), SweepInterval = sweep, RefreshInterval = TimeSpan.FromMinutes(10) };
        var client = new DiscoveryClient(backend, options, TimeProvider.System, NullLogger.Instance);
        Assert.Empty(await client.ResolveAsync("any", cancellationToken: Ct)); // starts its loops
        return (backend, client);
    }

    [Fact]
    public async Task One_client_of_many_sweeps_and_another_takes_over_when_it_stops()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        await raw.WriteAsync("kept", "k-1", """{"v":1,"id":"k-1","host":"10.0.0.1","port":8080}""");
        var clients = new List<(HeldBackend Backend, DiscoveryClient Client)>();
        for (int i = 0; i < 5; i++)
        {
            // The lease lasts 3 sweep intervals, and a sweeper that a loaded machine stalls for longer rightly hands the
            // duty over (then two clients have swept). A 1 s interval leaves 3 s of room, and three passes keep the
            // window short; without the lease all five sweep in the first interval, so three passes already show it.
            clients.Add(await ClientAsync(raw.Prefix, TimeSpan.FromSeconds(1)));
        }

        try
        {
            await Eventually.TrueAsync(() => clients.Sum(c => c.Backend.ExpiredCalls) >= 3, Within, "sweep passes ran");
            (HeldBackend Backend, DiscoveryClient Client)[] sweepers = [.. clients.Where(c => c.Backend.ExpiredCalls > 0)];
            Assert.Single(sweepers);

            // The sweeper stops; another client takes the duty over and sweeps what expires afterwards.
            (HeldBackend _, DiscoveryClient stopped) = sweepers[0];
            clients.Remove(sweepers[0]);
            await stopped.DisposeAsync();
            await raw.WriteAsync("later", "l-1", """{"v":1,"id":"l-1","host":"10.0.0.2","port":8080}""", expiresInMs: -1);
            await Eventually.TrueAsync(async () => await raw.StoredAsync("later", "l-1") is null, Within, "swept by the next sweeper");
            Assert.Single(clients, c => c.Backend.ExpiredCalls > 0);
        }
        finally
        {
            foreach ((HeldBackend _, DiscoveryClient client) in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Services_past_ten_thousand_are_swept_and_empty_services_leave_the_index()
    {
        RawDiscovery raw = await RawDiscovery.CreateAsync(redis);
        long now = await raw.NowAsync();
        SortedSetEntry[] empty = [.. Enumerable.Range(0, 10_050).Select(i => new SortedSetEntry($"empty-{i}", now - 100_000 + i))];
        await raw.Db.SortedSetAddAsync(raw.Keys.Services(), empty);
        await raw.WriteAsync("last", "gone-1", """{"v":1,"id":"gone-1","host":"10.0.0.1","port":8080}""", expiresInMs: -1); // listed after them
        await raw.WriteAsync("busy", "b-1", """{"v":1,"id":"b-1","host":"10.0.0.2","port":8080}""");
        (HeldBackend _, DiscoveryClient client) = await ClientAsync(raw.Prefix, TimeSpan.FromMilliseconds(100));
        await using (client)
        {
            await Eventually.TrueAsync(async () => await raw.StoredAsync("last", "gone-1") is null, TimeSpan.FromSeconds(60), "the 10,051st service is swept");
            await Eventually.TrueAsync(async () => await raw.Db.SortedSetLengthAsync(raw.Keys.Services()) == 1, TimeSpan.FromSeconds(60), "empty services pruned");
            Assert.Equal("busy", (string?)(await raw.Db.SortedSetRangeByRankAsync(raw.Keys.Services()))[0]);
        }
    }

    [Fact]
    public async Task A_client_receives_the_changes_of_the_services_it_uses_and_no_others()
    {
        string prefix = RedisFixture.NewPrefix();
        (HeldBackend backend, DiscoveryClient reader) = await ClientAsync(prefix, TimeSpan.FromMinutes(10));
        (HeldBackend _, DiscoveryClient writer) = await ClientAsync(prefix, TimeSpan.FromMinutes(10));
        await using (reader)
        await using (writer)
        {
            Assert.Empty(await reader.ResolveAsync("used", cancellationToken: Ct));
            for (int i = 0; i < 20; i++)
            {
                await writer.RegisterAsync("unused", new ServiceInstance { Id = $"u-{i}", Host = "10.0.0.1", Port = 8080 }, Ct);
            }

            await writer.RegisterAsync("used", new ServiceInstance { Id = "used-1", Host = "10.0.0.2", Port = 8080 }, Ct);
            await Eventually.TrueAsync(async () => (await reader.ResolveAsync("used", cancellationToken: Ct)).Count == 1, Within, "the used service's change arrived");

            Assert.Equal(0, backend.Delivered.GetValueOrDefault("unused"));
            Assert.Equal(1, backend.Delivered.GetValueOrDefault("used"));
        }
    }
}
