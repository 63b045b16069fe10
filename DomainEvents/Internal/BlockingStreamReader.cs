using System.Collections.Concurrent;
using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Internal;

/// <summary>
/// <c>XREADGROUP ... BLOCK</c> for the consumer loops. StackExchange.Redis multiplexes every command of a connection
/// on one socket and so does not allow blocking commands on a shared multiplexer: a blocked read would stall every
/// command queued behind it. Each subscribed stream therefore gets a multiplexer of its own, opened with the shared
/// one's configuration and used for nothing but that stream's blocking read (so one read at a time per socket).
/// A blocking read wakes on an entry from any writer (C#, TypeScript, Python, redis-cli), with no change to what
/// publishers send; on Redis Cluster the command is routed by its stream key.
/// </summary>
internal sealed class BlockingStreamReader(RedisConnectionSource connection, TimeSpan maxWait, TimeProvider time) : IAsyncDisposable
{
    /// <summary>After a connection could not be opened at all, how long to read without blocking before trying again.</summary>
    private static readonly TimeSpan RetryOpenAfter = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _time = time;
    private readonly ConcurrentDictionary<string, Own> _connections = new(StringComparer.Ordinal);

    /// <summary>
    /// Reads new entries of <paramref name="key"/>, the server waiting up to <paramref name="wait"/> for one; null when
    /// the stream's own connection is not connected now (the caller reads without blocking instead).
    /// </summary>
    public async ValueTask<StreamEntry[]?> TryReadAsync(string stream, RedisKey key, string group, string consumer, int count, TimeSpan wait, CancellationToken cancellationToken)
    {
        IConnectionMultiplexer? own = await OwnAsync(stream, cancellationToken).ConfigureAwait(false);
        if (own is null || !own.IsConnected)
        {
            return null;
        }

        // BLOCK 0 would wait forever: at least 1 ms. The key is passed as a RedisKey so Cluster routes by its slot.
        long blockMs = Math.Max(1, (long)Math.Min(wait.TotalMilliseconds, maxWait.TotalMilliseconds));
        Task<RedisResult> read = own.GetDatabase().ExecuteAsync("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", key, ">");
        try
        {
            return Parse(await read.WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The server still holds the read. Closing the connection ends it there, so no entry is delivered to a
            // read nobody awaits (one that was is pending for this consumer: drained on restart or claimed by another).
            await CloseAsync(stream).ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (string stream in _connections.Keys)
        {
            await CloseAsync(stream).ConfigureAwait(false);
        }
    }

    private async ValueTask<IConnectionMultiplexer?> OwnAsync(string stream, CancellationToken cancellationToken)
    {
        Own own = _connections.GetOrAdd(stream, static (_, self) => new Own(self.OpenAsync(), self._time.GetTimestamp()), this);
        try
        {
            return await own.Connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Could not be opened (a configuration that does not round-trip through its string form, say): read
            // without blocking for a while, then try again.
            if (_time.GetElapsedTime(own.Started) >= RetryOpenAfter)
            {
                _connections.TryRemove(KeyValuePair.Create(stream, own));
            }

            return null;
        }
    }

    private async Task<IConnectionMultiplexer> OpenAsync()
    {
        IConnectionMultiplexer shared = await connection.GetAsync().ConfigureAwait(false);
        // The configuration string carries endpoints, password, user, TLS, database and command renames.
        ConfigurationOptions options = ConfigurationOptions.Parse(shared.Configuration);
        options.AbortOnConnectFail = false;
        options.Protocol = RedisProtocol.Resp2;
        // A read may wait maxWait on the server: only the async timeout (the one this connection uses) grows. The
        // connect timeout is pinned first, because it follows the sync timeout when unset and paces reconnects.
        options.ConnectTimeout = options.ConnectTimeout;
        options.AsyncTimeout = Math.Max(options.AsyncTimeout, (int)Math.Min(int.MaxValue, maxWait.TotalMilliseconds + 5000));
        return await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
    }

    private async ValueTask CloseAsync(string stream)
    {
        if (_connections.TryRemove(stream, out Own? own) && own.Connecting.IsCompletedSuccessfully)
        {
            await own.Connecting.Result.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            own.Connecting.Result.Dispose();
        }
    }

    /// <summary>Reads an XREADGROUP reply (RESP2): null on timeout, else [[key, [[id, [field, value, ...]], ...]]].</summary>
    internal static StreamEntry[] Parse(RedisResult result)
    {
        if (result.IsNull || (RedisResult[]?)result is not { Length: > 0 } streams || (RedisResult[]?)streams[0] is not { Length: 2 } stream
            || (RedisResult[]?)stream[1] is not { } entries)
        {
            return [];
        }

        var read = new StreamEntry[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = (RedisResult[])entries[i]!;
            string? version = null;
            string? eventField = null;
            if (entry.Length > 1 && (RedisResult[]?)entry[1] is { } fields)
            {
                for (int f = 0; f + 1 < fields.Length; f += 2)
                {
                    switch ((string?)fields[f])
                    {
                        case "v" when version is null:
                            version = (string?)fields[f + 1];
                            break;
                        case "event" when eventField is null:
                            eventField = (string?)fields[f + 1];
                            break;
                    }
                }
            }

            read[i] = new StreamEntry((string)entry[0]!, version, eventField, 1);
        }

        return read;
    }

    private sealed record Own(Task<IConnectionMultiplexer> Connecting, long Started);
}
