using System.Collections.Concurrent;
using System.Net.Sockets;
using Lilith.Common;
using StackExchange.Redis;
using Testcontainers.Redis;

namespace Lilith.Testing.Redis;

/// <summary>Where the fixture's Redis comes from.</summary>
public enum RedisSource
{
    /// <summary><c>REDIS_URL</c> names a server the run does not own.</summary>
    External,

    /// <summary>A container started through Testcontainers.Redis on a reachable Docker engine.</summary>
    Container,

    /// <summary>A <c>redis-server</c> process from PATH that the fixture started and stops.</summary>
    Process,
}

/// <summary>The shape of the shared test Redis, chosen with <c>LILITH_TEST_TOPOLOGY</c>.</summary>
public enum RedisTopology
{
    /// <summary>One server (the default).</summary>
    Standalone,

    /// <summary>A 3-master Redis Cluster on loopback (<c>LILITH_TEST_TOPOLOGY=cluster</c>).</summary>
    Cluster,
}

/// <summary>
/// The real Redis every integration test uses. Picks, in order: <c>REDIS_URL</c>; a Testcontainers.Redis
/// container when a Docker engine answers within two seconds; a <c>redis-server</c> from PATH on a free
/// loopback port. The server starts on first use, so tests that need no Redis start none. Each test takes
/// a unique key prefix from <see cref="NewPrefix"/> and so runs in parallel with the others.
/// With <c>LILITH_TEST_TOPOLOGY=cluster</c> (and no <c>REDIS_URL</c>) the shared server is a 3-master Redis Cluster of
/// <c>redis-server</c> processes instead, so the same tests run against a cluster.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    /// <summary>What a test that needs Redis and finds none says.</summary>
    public const string NoRedisMessage =
        "No Redis server for the tests. Set REDIS_URL (redis://host:port), start a Docker engine, " +
        "or install redis-server on PATH (Debian: apt-get install redis-server; build/test.sh does this when run as root).";

    /// <summary>The environment variable that picks <see cref="Topology"/>: <c>standalone</c> (default) or <c>cluster</c>.</summary>
    public const string TopologyVariable = "LILITH_TEST_TOPOLOGY";

    private static readonly string RunId = Guid.NewGuid().ToString("N")[..8];
    private static int _prefixCounter;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly ConcurrentBag<IAsyncDisposable> _owned = [];
    private string? _connectionString;
    private IConnectionMultiplexer? _shared;
    private RedisServerProcess? _process;
    private RedisContainer? _container;
    private RedisClusterProcesses? _cluster;

    /// <summary>The topology of the shared server, read from <c>LILITH_TEST_TOPOLOGY</c>.</summary>
    public static RedisTopology Topology { get; } = ReadTopology(Environment.GetEnvironmentVariable(TopologyVariable));

    /// <summary>The shared cluster when <see cref="Topology"/> is <see cref="RedisTopology.Cluster"/> and the fixture started it, else null.</summary>
    public RedisClusterProcesses? OwnedCluster => _cluster;

    /// <summary>Where the shared server came from; known after the first use.</summary>
    public RedisSource? Source { get; private set; }

    /// <summary>The shared server's process when the fixture started one (it can be killed), else null.</summary>
    public RedisServerProcess? OwnedProcess => _process;

    /// <inheritdoc />
    public ValueTask InitializeAsync() => default;

    /// <summary>A StackExchange.Redis configuration string for the shared server, starting it on first call.</summary>
    public async Task<string> GetConnectionStringAsync()
    {
        await EnsureStartedAsync().ConfigureAwait(false);
        return _connectionString!;
    }

    /// <summary>The fixture's shared connection to the shared server (do not dispose it).</summary>
    public async Task<IConnectionMultiplexer> ConnectionAsync()
    {
        await EnsureStartedAsync().ConfigureAwait(false);
        return _shared!;
    }

    /// <summary>A new, separate connection to the shared server, disposed with the fixture.</summary>
    public async Task<IConnectionMultiplexer> NewConnectionAsync()
    {
        string connectionString = await GetConnectionStringAsync().ConfigureAwait(false);
        IConnectionMultiplexer connection = await ConnectAsync(connectionString).ConfigureAwait(false);
        _owned.Add(connection);
        return connection;
    }

    /// <summary>A key prefix no other test in this run (or any other run on the same server) uses.</summary>
    public static string NewPrefix() => $"test-{RunId}-{Interlocked.Increment(ref _prefixCounter)}";

    /// <summary>
    /// A server of the test's own that it may kill and restart (fault tests), stopped with the fixture.
    /// When <c>REDIS_URL</c> is set the run owns no server process, and the test is skipped with that reason.
    /// </summary>
    public async Task<RedisServerProcess> StartOwnedServerAsync(IReadOnlyList<string>? extraArguments = null)
    {
        SkipWhenExternal("Fault tests kill and restart a server the fixture owns");
        return Own(await RedisServerProcess.StartAsync(extraArguments).ConfigureAwait(false));
    }

    /// <summary>A 3-master Redis Cluster of the test's own, stopped with the fixture (skipped when <c>REDIS_URL</c> is set).</summary>
    public async Task<RedisClusterProcesses> StartOwnedClusterAsync()
    {
        SkipWhenExternal("Cluster tests start a cluster of their own");
        return Own(await RedisClusterProcesses.StartAsync().ConfigureAwait(false));
    }

    /// <summary>Master, replica and three sentinels of the test's own, stopped with the fixture (skipped when <c>REDIS_URL</c> is set).</summary>
    public async Task<RedisSentinelSet> StartOwnedSentinelSetAsync()
    {
        SkipWhenExternal("Sentinel tests start master, replica and sentinels of their own");
        return Own(await RedisSentinelSet.StartAsync().ConfigureAwait(false));
    }

    /// <summary>
    /// A split-brain pair of the test's own (A master, B its replica, ready to be promoted while A still takes
    /// writes), stopped with the fixture (skipped when <c>REDIS_URL</c> is set).
    /// </summary>
    public async Task<SplitBrain> StartOwnedSplitBrainAsync()
    {
        SkipWhenExternal("Split-brain tests start two servers of their own");
        return Own(await SplitBrain.StartAsync(TestContext.Current.CancellationToken).ConfigureAwait(false));
    }

    /// <summary>A <see cref="FaultProxy"/> in front of <paramref name="server"/>, stopped with the fixture.</summary>
    public FaultProxy StartProxy(RedisServerProcess server) => Own(FaultProxy.Start(server));

    /// <summary>A TLS-only server of the test's own with <paramref name="tls"/>'s certificate, stopped with the fixture.</summary>
    public async Task<RedisServerProcess> StartOwnedTlsServerAsync(RedisTlsFiles tls, IReadOnlyList<string>? extraArguments = null)
    {
        SkipWhenExternal("TLS tests start a TLS-only server of their own");
        return Own(await RedisServerProcess.StartTlsAsync(tls, extraArguments).ConfigureAwait(false));
    }

    /// <summary>Connects to <paramref name="connectionString"/> with settings suited to tests (no abort on connect failure, short timeouts).</summary>
    public static async Task<IConnectionMultiplexer> ConnectAsync(string connectionString)
    {
        ConfigurationOptions options = RedisConnectionString.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        options.SyncTimeout = 5000;
        options.AsyncTimeout = 5000;
        return await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
    }

    /// <summary>Reads <c>LILITH_TEST_TOPOLOGY</c>; an unknown value is an error, not a silent standalone run.</summary>
    public static RedisTopology ReadTopology(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "standalone" => RedisTopology.Standalone,
        "cluster" => RedisTopology.Cluster,
        _ => throw new InvalidOperationException($"{TopologyVariable}='{value}' is not a topology the tests know; use standalone or cluster."),
    };

    private static void SkipWhenExternal(string what)
    {
        if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 })
        {
            Assert.Skip($"{what}; REDIS_URL names an external server. Unset REDIS_URL to run them.");
        }
    }

    private T Own<T>(T owned)
        where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        while (_owned.TryTake(out IAsyncDisposable? owned))
        {
            await owned.DisposeAsync().ConfigureAwait(false);
        }

        if (_shared is not null)
        {
            await _shared.DisposeAsync().ConfigureAwait(false);
        }

        if (_process is not null)
        {
            await _process.DisposeAsync().ConfigureAwait(false);
        }

        if (_container is not null)
        {
            await _container.DisposeAsync().ConfigureAwait(false);
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }

        _startGate.Dispose();
    }

    private async Task EnsureStartedAsync()
    {
        if (_shared is not null)
        {
            return;
        }

        await _startGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_shared is not null)
            {
                return;
            }

            if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } url)
            {
                Source = RedisSource.External;
                _connectionString = url;
            }
            else if (Topology == RedisTopology.Cluster)
            {
                Source = RedisSource.Process;
                _cluster = await RedisClusterProcesses.StartAsync().ConfigureAwait(false);
                _connectionString = _cluster.ConnectionString;
            }
            else if (await DockerEngine.AnswersAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false))
            {
                Source = RedisSource.Container;
                _container = new RedisBuilder("redis:7.2-alpine").Build();
                await _container.StartAsync().ConfigureAwait(false);
                _connectionString = _container.GetConnectionString();
            }
            else if (RedisServerProcess.FindExecutable() is not null)
            {
                Source = RedisSource.Process;
                _process = await RedisServerProcess.StartAsync().ConfigureAwait(false);
                _connectionString = _process.ConnectionString;
            }
            else
            {
                throw new InvalidOperationException(NoRedisMessage);
            }

            _shared = await ConnectAsync(_connectionString).ConfigureAwait(false);
            if (!_shared.IsConnected)
            {
                throw new InvalidOperationException(
                    $"The test Redis ({Source}, {RedisConnectionString.Redact(_connectionString)}) does not answer. {NoRedisMessage}");
            }
        }
        finally
        {
            _startGate.Release();
        }
    }
}

/// <summary>Answers whether a Docker engine responds, without waiting longer than asked.</summary>
internal static class DockerEngine
{
    public static async Task<bool> AnswersAsync(TimeSpan within)
    {
        string host = Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
        using var timeout = new CancellationTokenSource(within);
        try
        {
            using HttpClient client = CreateClient(host, out Uri baseAddress);
            using HttpResponseMessage response = await client.GetAsync(new Uri(baseAddress, "/_ping"), timeout.Token).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or SocketException or IOException or UriFormatException or NotSupportedException)
        {
            return false;
        }
    }

    private static HttpClient CreateClient(string host, out Uri baseAddress)
    {
        if (host.StartsWith("unix://", StringComparison.Ordinal))
        {
            string socketPath = host["unix://".Length..];
            if (!File.Exists(socketPath))
            {
                throw new IOException($"No Docker socket at {socketPath}.");
            }

            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, token) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            baseAddress = new Uri("http://docker");
            return new HttpClient(handler);
        }

        var uri = new Uri(host.Replace("tcp://", "http://", StringComparison.Ordinal));
        baseAddress = uri;
        return new HttpClient();
    }
}
