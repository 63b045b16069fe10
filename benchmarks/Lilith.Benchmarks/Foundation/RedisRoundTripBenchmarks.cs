using BenchmarkDotNet.Attributes;
using StackExchange.Redis;

namespace Lilith.Benchmarks.Foundation;

/// <summary>
/// The unit every Redis-backed benchmark reports against: one loopback round trip (PING) through StackExchange.Redis.
/// A package benchmark that costs "2.2 round trips" costs 2.2 times this.
/// </summary>
[MemoryDiagnoser]
public class RedisRoundTripBenchmarks
{
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private IDatabase _db = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        _db = _connection.GetDatabase();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>One PING round trip.</summary>
    [Benchmark(Baseline = true)]
    public Task<TimeSpan> Ping() => _db.PingAsync();

    /// <summary>One GET of a missing key: a round trip that runs a real command.</summary>
    [Benchmark]
    public Task<RedisValue> GetMissingKey() => _db.StringGetAsync("lilith:bench:missing");
}
