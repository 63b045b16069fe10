using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace Lilith.Testing.Redis;

/// <summary>
/// A Redis Cluster of masters only (no replicas) on free loopback ports: each node a <see cref="RedisServerProcess"/>
/// with <c>--cluster-enabled yes</c> and no persistence, joined with <c>redis-cli --cluster create</c>. Ready when every
/// node reports <c>cluster_state:ok</c> with all 16384 slots assigned and knows every other node.
/// </summary>
public sealed class RedisClusterProcesses : IAsyncDisposable
{
    private readonly List<RedisServerProcess> _nodes;

    private RedisClusterProcesses(List<RedisServerProcess> nodes) => _nodes = nodes;

    /// <summary>The master nodes.</summary>
    public IReadOnlyList<RedisServerProcess> Nodes => _nodes;

    /// <summary>A StackExchange.Redis configuration string naming every node.</summary>
    public string ConnectionString => string.Join(",", _nodes.Select(n => n.ConnectionString));

    /// <summary>Starts <paramref name="masters"/> nodes (at least 3), joins them, and waits until the cluster is ok.</summary>
    public static async Task<RedisClusterProcesses> StartAsync(int masters = 3, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(masters, 3);
        string cli = RedisServerProcess.FindTool("redis-cli")
            ?? throw new InvalidOperationException("redis-cli is not on PATH; a cluster is joined with redis-cli --cluster create (Debian: apt-get install redis-tools).");
        string folder = Path.Combine(Path.GetTempPath(), $"lilith-cluster-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var cluster = new RedisClusterProcesses([]);
        try
        {
            RedisServerProcess[] nodes = await Task.WhenAll(Enumerable.Range(0, masters).Select(i => RedisServerProcess.StartAsync(
                [
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", Path.Combine(folder, $"nodes-{i}.conf"),
                    "--cluster-node-timeout", "2000",
                    "--dir", folder,
                ], cancellationToken))).ConfigureAwait(false);
            cluster._nodes.AddRange(nodes);
            await CreateAsync(cli, nodes, cancellationToken).ConfigureAwait(false);
            await WaitUntilOkAsync(cluster.ConnectionString, masters, cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (RedisServerProcess node in _nodes)
        {
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task CreateAsync(string cli, IReadOnlyList<RedisServerProcess> nodes, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--cluster");
        info.ArgumentList.Add("create");
        foreach (RedisServerProcess node in nodes)
        {
            info.ArgumentList.Add(node.ConnectionString);
        }

        info.ArgumentList.Add("--cluster-replicas");
        info.ArgumentList.Add("0");
        info.ArgumentList.Add("--cluster-yes");
        using Process process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"redis-cli --cluster create exited with {process.ExitCode}:{Environment.NewLine}{await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
        }
    }

    private static async Task WaitUntilOkAsync(string connectionString, int masters, CancellationToken cancellationToken)
    {
        // Each node is asked on its own connection: a node that has not yet heard of the others must not be hidden
        // behind one that has.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        string last = string.Empty;
        foreach (string endpoint in connectionString.Split(','))
        {
            ConfigurationOptions options = ConfigurationOptions.Parse(endpoint);
            options.AbortOnConnectFail = false;
            await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
            IServer server = connection.GetServer(connection.GetEndPoints()[0]);
            while (true)
            {
                try
                {
                    last = (string)(await server.ExecuteAsync("CLUSTER", "INFO").ConfigureAwait(false))!;
                    if (last.Contains("cluster_state:ok", StringComparison.Ordinal) &&
                        last.Contains("cluster_slots_assigned:16384", StringComparison.Ordinal) &&
                        last.Contains("cluster_slots_ok:16384", StringComparison.Ordinal) &&
                        last.Contains(string.Create(CultureInfo.InvariantCulture, $"cluster_known_nodes:{masters}\r"), StringComparison.Ordinal))
                    {
                        break;
                    }
                }
                catch (RedisException)
                {
                    // Not answering yet; asked again below.
                }

                try
                {
                    await Task.Delay(50, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"The cluster node {endpoint} did not reach cluster_state:ok within 30 s. Last CLUSTER INFO:{Environment.NewLine}{last}");
                }
            }
        }
    }
}
