using System.Globalization;

namespace Lilith.Testing.Redis;

/// <summary>
/// A failover that goes wrong on purpose: server <see cref="OldMaster"/> (A) with <see cref="NewMaster"/> (B)
/// replicating it; then B is promoted (<c>REPLICAOF NO ONE</c>) while A still takes writes, so for a while both accept
/// writes; then A is demoted to a replica of B and resyncs, losing whatever was written to it alone. Clients connect
/// to each side directly (or through a <see cref="FaultProxy"/> of their own). A StackExchange.Redis client that
/// saw B as a replica sends it writes only after it learns the new role (<c>ConfigureAsync</c>, or a new connection).
/// </summary>
public sealed class SplitBrain : IAsyncDisposable
{
    private static readonly TimeSpan SyncDeadline = TimeSpan.FromSeconds(20);

    private SplitBrain(RedisServerProcess oldMaster, RedisServerProcess newMaster)
    {
        OldMaster = oldMaster;
        NewMaster = newMaster;
    }

    /// <summary>A: the master at the start, demoted by <see cref="DemoteOldMasterAsync"/>.</summary>
    public RedisServerProcess OldMaster { get; }

    /// <summary>B: a replica of A at the start, promoted by <see cref="PromoteAsync"/>.</summary>
    public RedisServerProcess NewMaster { get; }

    /// <summary>Starts A and B, makes B a replica of A, and waits until B has synced.</summary>
    public static async Task<SplitBrain> StartAsync(CancellationToken cancellationToken = default)
    {
        RedisServerProcess a = await RedisServerProcess.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        RedisServerProcess? b = null;
        try
        {
            b = await RedisServerProcess.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var pair = new SplitBrain(a, b);
            await ReplicateAsync(b, a, cancellationToken).ConfigureAwait(false);
            return pair;
        }
        catch
        {
            await a.DisposeAsync().ConfigureAwait(false);
            if (b is not null)
            {
                await b.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>B stops replicating and takes writes of its own; A goes on taking writes too.</summary>
    public async Task PromoteAsync(CancellationToken cancellationToken = default)
    {
        string reply = await RedisFaults.CommandAsync(NewMaster.Port, cancellationToken, "REPLICAOF", "NO", "ONE").ConfigureAwait(false);
        if (reply != "+OK")
        {
            throw new InvalidOperationException($"REPLICAOF NO ONE on B replied '{reply}'.");
        }
    }

    /// <summary>A becomes a replica of B and resyncs from it (A's own writes since the promotion are lost); waits until synced.</summary>
    public Task DemoteOldMasterAsync(CancellationToken cancellationToken = default) => ReplicateAsync(OldMaster, NewMaster, cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await OldMaster.DisposeAsync().ConfigureAwait(false);
        await NewMaster.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task ReplicateAsync(RedisServerProcess replica, RedisServerProcess master, CancellationToken cancellationToken)
    {
        string port = master.Port.ToString(CultureInfo.InvariantCulture);
        string reply = await RedisFaults.CommandAsync(replica.Port, cancellationToken, "REPLICAOF", "127.0.0.1", port).ConfigureAwait(false);
        if (!reply.StartsWith("+OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"REPLICAOF 127.0.0.1 {port} replied '{reply}'.");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(SyncDeadline);
        string info = string.Empty;
        try
        {
            while (true)
            {
                info = await RedisFaults.InfoAsync(replica.Port, "replication", deadline.Token).ConfigureAwait(false);
                if (RedisFaults.InfoField(info, "master_link_status") == "up" && RedisFaults.InfoField(info, "master_sync_in_progress") == "0")
                {
                    return;
                }

                await Task.Delay(20, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The server on port {replica.Port} did not sync from port {port} within {SyncDeadline.TotalSeconds} s:{Environment.NewLine}{info}");
        }
    }
}
