using System.Diagnostics;
using StackExchange.Redis;

namespace Lilith.Foundation.Tests;

/// <summary>The fault harness does what each fault claims: a hang drops bytes with sockets open, a reset resets, a delay delays, a pause stalls, a split brain takes writes on both sides.</summary>
[Trait("Redis", "own-servers")]
public sealed class FaultHarnessTests(RedisFixture redis)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hang_drops_bytes_with_the_socket_open_and_heal_lets_the_client_reconnect()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using ConnectionMultiplexer client = await ConnectAsync(proxy.ConnectionString, asyncTimeoutMs: 500);
        IDatabase db = client.GetDatabase();
        string key = RedisFixture.NewPrefix() + ":hang";
        await db.StringSetAsync(key, "before");

        proxy.Hang();
        await Assert.ThrowsAsync<RedisTimeoutException>(() => db.StringGetAsync(key));
        Assert.True(proxy.OpenConnections > 0, "a hang keeps the sockets open");
        Assert.True(proxy.DroppedChunks > 0);

        proxy.Heal();
        Assert.Equal("before", (string?)await RetryAsync(() => db.StringGetAsync(key)));
    }

    [Fact]
    public async Task Replies_lost_on_the_way_back_leave_the_write_done_in_Redis()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using ConnectionMultiplexer client = await ConnectAsync(proxy.ConnectionString, asyncTimeoutMs: 500);
        await using ConnectionMultiplexer direct = await ConnectAsync(server.ConnectionString, asyncTimeoutMs: 5000);
        string key = RedisFixture.NewPrefix() + ":no-answer";
        await client.GetDatabase().PingAsync();

        proxy.Hang(FaultDirection.ToClient);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => client.GetDatabase().StringSetAsync(key, "written"));

        // The request that ended without an answer did reach Redis.
        Assert.Equal("written", (string?)await direct.GetDatabase().StringGetAsync(key));
    }

    [Fact]
    public async Task Reset_fails_the_connection_and_the_client_reconnects()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using ConnectionMultiplexer client = await ConnectAsync(proxy.ConnectionString, asyncTimeoutMs: 2000);
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectionFailed += (_, _) => failed.TrySetResult();
        await client.GetDatabase().PingAsync();

        proxy.Reset();
        await failed.Task.WaitAsync(TimeSpan.FromSeconds(15), Cancel);
        await RetryAsync(() => client.GetDatabase().PingAsync());
    }

    [Fact]
    public async Task Delay_holds_every_round_trip_at_least_that_long()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using ConnectionMultiplexer client = await ConnectAsync(proxy.ConnectionString, asyncTimeoutMs: 5000);
        await client.GetDatabase().PingAsync();

        proxy.Delay(TimeSpan.FromMilliseconds(150), FaultDirection.ToClient);
        var watch = Stopwatch.StartNew();
        await client.GetDatabase().PingAsync();
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(150), $"round trip {watch.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Client_pause_stalls_writes_until_it_ends_and_debug_sleep_freezes_the_server()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync(RedisFaults.DebugServerArguments);
        await using ConnectionMultiplexer client = await ConnectAsync(server.ConnectionString, asyncTimeoutMs: 10_000);
        IDatabase db = client.GetDatabase();
        string key = RedisFixture.NewPrefix() + ":pause";
        await db.PingAsync();

        var watch = Stopwatch.StartNew();
        await RedisFaults.PauseAsync(server, TimeSpan.FromMilliseconds(600), PauseMode.All, Cancel);
        await db.StringSetAsync(key, "after-pause");
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(550), $"write answered after {watch.Elapsed.TotalMilliseconds} ms of a 600 ms pause");

        watch.Restart();
        Task awake = await RedisFaults.DebugSleepAsync(server, TimeSpan.FromMilliseconds(600), Cancel);
        await db.PingAsync();
        await awake;
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(550), $"PING answered after {watch.Elapsed.TotalMilliseconds} ms of a 600 ms sleep");
    }

    [Fact]
    public async Task Split_brain_takes_writes_on_both_sides_and_the_demoted_master_loses_its_own()
    {
        SplitBrain pair = await redis.StartOwnedSplitBrainAsync();
        await using ConnectionMultiplexer a = await ConnectAsync(pair.OldMaster.ConnectionString, asyncTimeoutMs: 5000);
        await using ConnectionMultiplexer b = await ConnectAsync(pair.NewMaster.ConnectionString, asyncTimeoutMs: 5000);
        string key = RedisFixture.NewPrefix() + ":split";

        await a.GetDatabase().StringSetAsync(key + ":before", "1");
        Assert.Equal("1", (string?)await RetryUntilAsync(() => b.GetDatabase().StringGetAsync(key + ":before"), value => !value.IsNull));
        Assert.StartsWith("-READONLY", await RedisFaults.CommandAsync(pair.NewMaster.Port, Cancel, "SET", key, "b-as-replica"), StringComparison.Ordinal);

        await pair.PromoteAsync(Cancel);
        Assert.True(await b.ConfigureAsync());
        await a.GetDatabase().StringSetAsync(key, "a");
        await b.GetDatabase().StringSetAsync(key, "b");
        Assert.Equal("a", (string?)await a.GetDatabase().StringGetAsync(key));
        Assert.Equal("b", (string?)await b.GetDatabase().StringGetAsync(key));

        await pair.DemoteOldMasterAsync(Cancel);
        Assert.Equal("b", (string?)await RetryAsync(() => a.GetDatabase().StringGetAsync(key)));
        Assert.StartsWith("-READONLY", await RedisFaults.CommandAsync(pair.OldMaster.Port, Cancel, "SET", key, "a-again"), StringComparison.Ordinal);
    }

    [Fact]
    public void Fenced_register_refuses_smaller_tokens_and_reports_overlapping_grants()
    {
        var clean = new FencedRegister();
        Assert.True(clean.TryWrite("orders", "p1", 5));
        Assert.True(clean.TryWrite("orders", "p1", 5));
        Assert.True(clean.TryWrite("orders", "p2", 6));
        Assert.True(clean.TryWrite("other", "p1", 1));
        Assert.Empty(clean.Violations());

        var stale = new FencedRegister();
        stale.TryWrite("orders", "p2", 6);
        Assert.False(stale.TryWrite("orders", "p1", 5));
        Assert.Contains(stale.Violations(), v => v.Contains("p1 wrote orders with token 5", StringComparison.Ordinal));

        var overlap = new FencedRegister();
        overlap.TryWrite("orders", "p1", 5);
        overlap.TryWrite("orders", "p2", 6);
        overlap.TryWrite("orders", "p1", 5);
        Assert.Contains(overlap.Violations(), v => v.Contains("p2 (token 6) wrote while p1 (token 5) still wrote", StringComparison.Ordinal));
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string connectionString, int asyncTimeoutMs)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.AsyncTimeout = asyncTimeoutMs;
        options.SyncTimeout = asyncTimeoutMs;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static Task<T> RetryAsync<T>(Func<Task<T>> action) => RetryUntilAsync(action, _ => true);

    private static async Task<T> RetryUntilAsync<T>(Func<Task<T>> action, Func<T, bool> done)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            try
            {
                T value = await action();
                if (done(value) || deadline.IsCancellationRequested)
                {
                    return value;
                }
            }
            catch (RedisException) when (!deadline.IsCancellationRequested)
            {
            }

            await Task.Delay(25, Cancel);
        }
    }
}
