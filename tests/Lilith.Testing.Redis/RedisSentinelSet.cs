using System.Globalization;
using System.Net;
using StackExchange.Redis;

namespace Lilith.Testing.Redis;

/// <summary>
/// A Sentinel setup on free loopback ports: one master, one replica, three sentinels monitoring the master with quorum 2,
/// short <c>down-after-milliseconds</c> and <c>failover-timeout</c>, no persistence. Clients connect through the
/// sentinels with <see cref="ConnectionString"/> (<c>serviceName=...</c>); <see cref="FailoverAsync"/> runs
/// <c>SENTINEL FAILOVER</c> and waits until every sentinel names the new master.
/// </summary>
public sealed class RedisSentinelSet : IAsyncDisposable
{
    /// <summary>The name the sentinels monitor the master under.</summary>
    public const string ServiceName = "lilith-test";

    private readonly string _folder;
    private readonly List<RedisServerProcess> _all = [];

    private RedisSentinelSet(string folder) => _folder = folder;

    /// <summary>The data nodes: index 0 started as master, index 1 as its replica (roles swap on failover).</summary>
    public IReadOnlyList<RedisServerProcess> DataNodes { get; private set; } = [];

    /// <summary>The three sentinels.</summary>
    public IReadOnlyList<RedisServerProcess> Sentinels { get; private set; } = [];

    /// <summary>A StackExchange.Redis configuration string naming the sentinels and the service.</summary>
    public string ConnectionString =>
        string.Join(",", Sentinels.Select(s => s.ConnectionString)) + $",serviceName={ServiceName}";

    /// <summary>Starts master, replica and three sentinels and waits until every sentinel knows the replica and the other sentinels.</summary>
    public static async Task<RedisSentinelSet> StartAsync(CancellationToken cancellationToken = default)
    {
        var set = new RedisSentinelSet(Path.Combine(Path.GetTempPath(), $"lilith-sentinel-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(set._folder);
        try
        {
            RedisServerProcess master = await set.OwnAsync(RedisServerProcess.StartAsync(["--dir", set._folder], cancellationToken)).ConfigureAwait(false);
            RedisServerProcess replica = await set.OwnAsync(RedisServerProcess.StartAsync(
                ["--dir", set._folder, "--replicaof", "127.0.0.1", Port(master)], cancellationToken)).ConfigureAwait(false);
            set.DataNodes = [master, replica];
            var sentinels = new List<RedisServerProcess>();
            for (int i = 0; i < 3; i++)
            {
                // Sentinel rewrites its configuration file, so each gets its own writable copy.
                string config = Path.Combine(set._folder, $"sentinel-{i}.conf");
                await File.WriteAllTextAsync(config, string.Join('\n',
                    $"sentinel monitor {ServiceName} 127.0.0.1 {Port(master)} 2",
                    $"sentinel down-after-milliseconds {ServiceName} 1000",
                    $"sentinel failover-timeout {ServiceName} 5000",
                    $"sentinel parallel-syncs {ServiceName} 1",
                    string.Empty), cancellationToken).ConfigureAwait(false);
                sentinels.Add(await set.OwnAsync(RedisServerProcess.StartSentinelAsync(config, cancellationToken)).ConfigureAwait(false));
            }

            set.Sentinels = sentinels;
            await set.WaitAsync("sentinels to see the replica and each other", async () =>
            {
                foreach (RedisServerProcess sentinel in set.Sentinels)
                {
                    await using ConnectionMultiplexer connection = await SentinelConnectionAsync(sentinel).ConfigureAwait(false);
                    IServer server = connection.GetServer(connection.GetEndPoints()[0]);
                    KeyValuePair<string, string>[][] replicas = await server.SentinelReplicasAsync(ServiceName).ConfigureAwait(false);
                    KeyValuePair<string, string>[][] others = await server.SentinelSentinelsAsync(ServiceName).ConfigureAwait(false);
                    bool replicaUp = replicas.Any(r => r.Any(p => p.Key == "flags" && p.Value == "slave") &&
                                                       r.Any(p => p.Key == "master-link-status" && p.Value == "ok"));
                    if (!replicaUp || others.Length < 2)
                    {
                        return false;
                    }
                }

                return true;
            }, cancellationToken).ConfigureAwait(false);
            return set;
        }
        catch
        {
            await set.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The port the sentinels now name as master.</summary>
    public async Task<int> MasterPortAsync()
    {
        await using ConnectionMultiplexer connection = await SentinelConnectionAsync(Sentinels[0]).ConfigureAwait(false);
        EndPoint? master = await connection.GetServer(connection.GetEndPoints()[0]).SentinelGetMasterAddressByNameAsync(ServiceName).ConfigureAwait(false);
        return master is IPEndPoint ip ? ip.Port : throw new InvalidOperationException($"The sentinels name no master for {ServiceName}.");
    }

    /// <summary>
    /// Runs <c>SENTINEL FAILOVER</c> and waits (bounded) until every sentinel names the other data node as master, that
    /// node answers <c>ROLE</c> as master, and the old master has been turned into its replica (Sentinel does that on its
    /// next look at the old master, up to about ten seconds later; until then the old master still takes writes, which
    /// its resync then drops). Returns the new master's port.
    /// </summary>
    public async Task<int> FailoverAsync(CancellationToken cancellationToken = default)
    {
        int before = await MasterPortAsync().ConfigureAwait(false);
        int after = DataNodes.Select(n => n.Port).Single(p => p != before);
        await using (ConnectionMultiplexer sentinel = await SentinelConnectionAsync(Sentinels[0]).ConfigureAwait(false))
        {
            await sentinel.GetServer(sentinel.GetEndPoints()[0]).SentinelFailoverAsync(ServiceName).ConfigureAwait(false);
        }

        await WaitAsync($"failover from port {before} to {after}", async () =>
        {
            foreach (RedisServerProcess s in Sentinels)
            {
                await using ConnectionMultiplexer connection = await SentinelConnectionAsync(s).ConfigureAwait(false);
                if (await connection.GetServer(connection.GetEndPoints()[0]).SentinelGetMasterAddressByNameAsync(ServiceName).ConfigureAwait(false) is not IPEndPoint { Port: var port } || port != after)
                {
                    return false;
                }
            }

            return await RoleAsync(after).ConfigureAwait(false) == "master" && await RoleAsync(before).ConfigureAwait(false) == "slave";
        }, cancellationToken).ConfigureAwait(false);
        return after;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (RedisServerProcess process in Enumerable.Reverse(_all))
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A process still closing a file; the temp folder is cleaned up by the OS.
        }
    }

    private static async Task<string?> RoleAsync(int port)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse($"127.0.0.1:{port}");
        options.AbortOnConnectFail = false;
        await using ConnectionMultiplexer node = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        RedisResult role = await node.GetServer(node.GetEndPoints()[0]).ExecuteAsync("ROLE").ConfigureAwait(false);
        return (string?)((RedisResult[])role!)[0];
    }

    private static string Port(RedisServerProcess server) => server.Port.ToString(CultureInfo.InvariantCulture);

    private static async Task<ConnectionMultiplexer> SentinelConnectionAsync(RedisServerProcess sentinel)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(sentinel.ConnectionString);
        options.CommandMap = CommandMap.Sentinel;
        options.AbortOnConnectFail = false;
        return await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
    }

    private async Task<RedisServerProcess> OwnAsync(Task<RedisServerProcess> starting)
    {
        RedisServerProcess process = await starting.ConfigureAwait(false);
        _all.Add(process);
        return process;
    }

    private async Task WaitAsync(string what, Func<Task<bool>> done, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await done().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (RedisException e)
            {
                last = e;
            }

            try
            {
                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Waited 30 s for {what} (sentinel folder {_folder}).", last);
            }
        }
    }
}
