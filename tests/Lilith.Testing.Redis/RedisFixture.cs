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

/// <summary>
/// The real Redis every integration test uses. Picks, in order: <c>REDIS_URL</c>; a Testcontainers.Redis
/// container when a Docker engine answers within two seconds; a <c>redis-server</c> from PATH on a free
/// loopback port. The server starts on first use, so tests that need no Redis start none. Each test takes
/// a unique key prefix from <see cref="NewPrefix"/> and so runs in parallel with the others.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    /// <summary>What a test that needs Redis and finds none says.</summary>
    public const string NoRedisMessage =
        "No Redis server for the tests. Set REDIS_URL (redis://host:port), start a Docker engine, " +
        "or install redis-server on PATH (Debian: apt-get install redis-server; build/test.sh does this when run as root).";

    private static readonly string RunId = Guid.NewGuid().ToString("N")[..8];
    private static int _prefixCounter;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly ConcurrentBag<IAsyncDisposable> _owned = [];
    private string? _connectionString;
    private IConnectionMultiplexer? _shared;
    private RedisServerProcess? _process;
    private RedisContainer? _container;

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
        if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 })
        {
            Assert.Skip("Fault tests kill and restart a server the fixture owns; REDIS_URL names an external server. Unset REDIS_URL to run them.");
        }

        RedisServerProcess server = await RedisServerProcess.StartAsync(extraArguments).ConfigureAwait(false);
        _owned.Add(server);
        return server;
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
