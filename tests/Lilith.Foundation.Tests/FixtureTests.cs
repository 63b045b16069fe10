using StackExchange.Redis;

namespace Lilith.Foundation.Tests;

/// <summary>The fixture gives real Redis, unique prefixes, and a server that fault tests can kill and restart.</summary>
public sealed class FixtureTests(RedisFixture redis)
{
    [Fact]
    public async Task Shared_server_answers_and_prefixes_are_unique()
    {
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        Assert.True(connection.IsConnected);
        Assert.NotNull(redis.Source);
        var prefixes = Enumerable.Range(0, 100).Select(_ => RedisFixture.NewPrefix()).ToHashSet();
        Assert.Equal(100, prefixes.Count);

        string key = RedisFixture.NewPrefix() + ":probe";
        IDatabase db = connection.GetDatabase();
        await db.StringSetAsync(key, "1", TimeSpan.FromSeconds(30));
        Assert.Equal("1", (string?)await db.StringGetAsync(key));
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Owned_server_can_be_killed_and_restarted()
    {
        await using RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        IDatabase db = connection.GetDatabase();
        string key = RedisFixture.NewPrefix() + ":fault";

        await db.StringSetAsync(key, "before");
        Assert.Equal("before", (string?)await db.StringGetAsync(key));

        await server.KillAsync();
        Assert.False(server.IsRunning);
        await Assert.ThrowsAnyAsync<RedisException>(() => db.StringGetAsync(key));

        await server.RestartAsync(TestContext.Current.CancellationToken);
        Assert.True(server.IsRunning);

        // The server kept nothing (no persistence) and the same multiplexer reconnects by itself.
        RedisValue after = await RetryAsync(() => db.StringGetAsync(key));
        Assert.True(after.IsNull);
        await db.StringSetAsync(key, "after");
        Assert.Equal("after", (string?)await db.StringGetAsync(key));
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> action)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            try
            {
                return await action();
            }
            catch (RedisException) when (!deadline.IsCancellationRequested)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }
    }
}
