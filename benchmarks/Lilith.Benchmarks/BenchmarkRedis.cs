using Lilith.Testing.Redis;
using StackExchange.Redis;

namespace Lilith.Benchmarks;

/// <summary>
/// The Redis a benchmark class measures against: <c>REDIS_URL</c> when set, else a <c>redis-server</c> from PATH
/// on a free loopback port, started in GlobalSetup and stopped in GlobalCleanup.
/// </summary>
public sealed class BenchmarkRedis : IAsyncDisposable
{
    private RedisServerProcess? _process;

    private BenchmarkRedis(string connectionString) => ConnectionString = connectionString;

    /// <summary>Where the benchmark connects.</summary>
    public string ConnectionString { get; }

    /// <summary>Starts (or names) the server.</summary>
    public static async Task<BenchmarkRedis> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } url)
        {
            return new BenchmarkRedis(url);
        }

        RedisServerProcess process = await RedisServerProcess.StartAsync();
        return new BenchmarkRedis(process.ConnectionString) { _process = process };
    }

    /// <summary>A new connection to the server.</summary>
    public Task<IConnectionMultiplexer> ConnectAsync() => RedisFixture.ConnectAsync(ConnectionString);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }
}
