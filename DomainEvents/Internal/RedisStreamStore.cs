using System.Collections.Concurrent;
using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Internal;

/// <summary>The stream operations on Redis Streams (schema/domain-events.md, "Flows").</summary>
internal sealed class RedisStreamStore(
    RedisConnectionSource connection, EventKeys keys, int maxDeadLetterLength, TimeSpan maxReadBlock, TimeSpan pollInterval, TimeProvider time,
    int replicaAcknowledgements, TimeSpan replicaAcknowledgementTimeout)
    : IStreamStore, IAsyncDisposable
{
    private readonly BlockingStreamReader _blocking = new(connection, maxReadBlock, time);
    private readonly ConcurrentDictionary<(string Stream, string Group), string> _claimCursors = new();

    /// <summary>KEYS[1] stream, KEYS[2] handled marker; ARGV[1] group, ARGV[2] entry id, ARGV[3] window ms. Returns XACK's count.</summary>
    internal const string AckHandledScript = """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
        return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        """;

    /// <summary>
    /// KEYS[1] stream, KEYS[2] dead-letter stream; ARGV[1] group, ARGV[2] entry id, ARGV[3] dead-letter MAXLEN,
    /// ARGV[4] deadLetter JSON, ARGV[5] the original event field ('' when it had none), ARGV[6] the consumer that holds
    /// the entry ('' for an entry no longer pending). Acknowledges first and writes the dead letter only when the entry
    /// was still pending for that consumer; returns 1 when the dead letter was written, else 0.
    /// </summary>
    internal const string DeadLetterScript = """
        if ARGV[6] ~= '' then
          if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[6]) == 0 then
            return 0
          end
          redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        end
        if ARGV[5] == '' then
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'v', '1', 'deadLetter', ARGV[4])
        else
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'v', '1', 'deadLetter', ARGV[4], 'event', ARGV[5])
        end
        return 1
        """;

    /// <summary>
    /// KEYS[1] stream; ARGV[1] MaxStreamLength, ARGV[2] hard cap (0: none). Over MaxStreamLength, trims with exact
    /// <c>XTRIM MINID</c> at the oldest id some group still needs (its oldest pending entry, else its first unread one);
    /// then, over the hard cap, <c>XTRIM MAXLEN</c> to it. Returns {removed acknowledged, dropped unread, first dropped id,
    /// first kept id}.
    /// </summary>
    internal const string TrimScript = """
        if redis.call('XLEN', KEYS[1]) <= tonumber(ARGV[1]) then
          return {0, 0, '', ''}
        end
        local function before(a, b)
          local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
          local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
          ams, bms = tonumber(ams), tonumber(bms)
          return ams < bms or (ams == bms and tonumber(aseq) < tonumber(bseq))
        end
        local floor = nil
        for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
          local name, last
          for i = 1, #group, 2 do
            if group[i] == 'name' then name = group[i + 1] elseif group[i] == 'last-delivered-id' then last = group[i + 1] end
          end
          local needed = last
          local pending = redis.call('XPENDING', KEYS[1], name)
          if pending[1] > 0 then
            needed = pending[2]
          else
            local unread = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
            if unread[1] then needed = unread[1][1] end
          end
          if floor == nil or before(needed, floor) then floor = needed end
        end
        local acknowledged = 0
        if floor then
          acknowledged = redis.call('XTRIM', KEYS[1], 'MINID', floor)
        end
        local cap = tonumber(ARGV[2])
        if cap > 0 and redis.call('XLEN', KEYS[1]) > cap then
          local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
          local dropped = redis.call('XTRIM', KEYS[1], 'MAXLEN', cap)
          local kept = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
          return {acknowledged, dropped, first, kept and kept[1] or ''}
        end
        return {acknowledged, 0, '', ''}
        """;

    /// <summary>
    /// KEYS[1] stream; ARGV[1] group, ARGV[2] idle ms, ARGV[3] the calling consumer. Deletes the group's other consumers
    /// that hold no pending entry and were idle longer than ARGV[2] (checked and deleted atomically, so a consumer
    /// that just took an entry is never deleted with it); returns how many.
    /// </summary>
    internal const string DeleteIdleConsumersScript = """
        local deleted = 0
        for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
          local name, pending, idle
          for i = 1, #consumer, 2 do
            if consumer[i] == 'name' then name = consumer[i + 1]
            elseif consumer[i] == 'pending' then pending = consumer[i + 1]
            elseif consumer[i] == 'idle' then idle = consumer[i + 1] end
          end
          if name ~= ARGV[3] and pending == 0 and idle > tonumber(ARGV[2]) then
            redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
            deleted = deleted + 1
          end
        end
        return deleted
        """;

    /// <summary>
    /// KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids. For each entry still pending for that
    /// consumer, <c>XCLAIM ... 0 ... JUSTID</c> by the owner: its idle time starts again (JUSTID leaves the delivery count
    /// as it is), so no other consumer claims an entry whose handler still runs. Returns how many were kept.
    /// </summary>
    internal const string KeepPendingScript = """
        local kept = 0
        for i = 3, #ARGV do
          if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
            redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
            kept = kept + 1
          end
        end
        return kept
        """;

    private static readonly RedisValue Version = "1";

    private async ValueTask<IDatabase> DbAsync(CancellationToken cancellationToken) =>
        (await connection.GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    public async ValueTask AddAsync(string stream, byte[] eventJson, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisKey key = keys.Stream(stream);
        await db.StreamAddAsync(key, [new NameValueEntry("v", Version), new NameValueEntry("event", eventJson)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        await WaitForReplicasAsync(db, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// With replica acknowledgements configured: <c>WAIT</c> on the master that took the entry (the same connection, so
    /// it covers the XADD just sent), and fail when too few replicas confirm in time. The publisher then retries; a
    /// retried entry that did arrive is skipped by consumers (source + id).
    /// </summary>
    private async ValueTask WaitForReplicasAsync(IDatabase db, RedisKey key, CancellationToken cancellationToken)
    {
        if (replicaAcknowledgements == 0)
        {
            return;
        }

        IServer master = db.Multiplexer.GetServer(key);
        long confirmed = (long)await master.ExecuteAsync("WAIT", replicaAcknowledgements, (long)replicaAcknowledgementTimeout.TotalMilliseconds)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        if (confirmed < replicaAcknowledgements)
        {
            throw new RedisException(
                $"{confirmed} of {replicaAcknowledgements} replicas of {master.EndPoint} confirmed the entry on stream key '{key}' " +
                $"within {replicaAcknowledgementTimeout.TotalMilliseconds} ms (DomainEventsOptions.ReplicaAcknowledgements)");
        }
    }

    public async ValueTask<IReadOnlyList<(int Index, Exception Error)>> AddManyAsync(string stream, IReadOnlyList<byte[]> eventJson, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisKey key = keys.Stream(stream);
        var tasks = new Task<RedisValue>[eventJson.Count];
        for (int i = 0; i < tasks.Length; i++)
        {
            tasks[i] = db.StreamAddAsync(key, [new NameValueEntry("v", Version), new NameValueEntry("event", eventJson[i])]);
        }

        try
        {
            await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Reported per entry below.
        }

        Exception? unconfirmed = null;
        try
        {
            await WaitForReplicasAsync(db, key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            unconfirmed = e; // every entry of the batch counts as failed: none is known to be on a replica
        }

        var failed = new List<(int, Exception)>();
        for (int i = 0; i < tasks.Length; i++)
        {
            if (!tasks[i].IsCompletedSuccessfully)
            {
                failed.Add((i, tasks[i].Exception?.InnerException ?? new TaskCanceledException()));
            }
            else if (unconfirmed is not null)
            {
                failed.Add((i, unconfirmed));
            }
        }

        return failed;
    }

    public async ValueTask EnsureGroupAsync(string stream, string group, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await db.StreamCreateConsumerGroupAsync(keys.Stream(stream), group, StreamPosition.Beginning, createStream: true).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // The group exists: another consumer of the service created it.
        }
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ReadNewAsync(string stream, string group, string consumer, int count, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        StreamEntry[] entries = Map(await db.StreamReadGroupAsync(keys.Stream(stream), group, consumer, StreamPosition.NewMessages, count).WaitAsync(cancellationToken).ConfigureAwait(false));
        return entries;
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> WaitNewAsync(string stream, string group, string consumer, int count, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (await _blocking.TryReadAsync(stream, keys.Stream(stream), group, consumer, count, wait, cancellationToken).ConfigureAwait(false) is { } entries)
        {
            return entries;
        }

        // The stream's blocking connection is not connected: read without blocking, then pause (the safety net).
        IReadOnlyList<StreamEntry> read = await ReadNewAsync(stream, group, consumer, count, cancellationToken).ConfigureAwait(false);
        if (read.Count == 0)
        {
            await Task.Delay(pollInterval < wait ? pollInterval : wait, time, cancellationToken).ConfigureAwait(false);
        }

        return read;
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ReadOwnPendingAsync(string stream, string group, string consumer, string afterId, int count, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisKey key = keys.Stream(stream);
        StreamEntry[] entries = Map(await db.StreamReadGroupAsync(key, group, consumer, afterId, count).WaitAsync(cancellationToken).ConfigureAwait(false));
        return await WithDeliveriesAsync(db, key, group, consumer, entries, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> ClaimStaleAsync(string stream, string group, string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisKey key = keys.Stream(stream);
        // Follow XAUTOCLAIM's cursor: starting at 0-0 each time would look at the same head of the pending list (Redis 7
        // looks at COUNT * 10 entries per call) and never reach idle entries behind a busy head.
        (string, string) cursorKey = (stream, group);
        RedisValue start = _claimCursors.TryGetValue(cursorKey, out string? cursor) ? cursor : "0-0";
        StreamAutoClaimResult result = await db.StreamAutoClaimAsync(key, group, consumer, (long)minIdle.TotalMilliseconds, start, count).WaitAsync(cancellationToken).ConfigureAwait(false);
        _claimCursors[cursorKey] = result.NextStartId.IsNullOrEmpty ? "0-0" : result.NextStartId.ToString();
        IReadOnlyList<StreamEntry> claimed = await WithDeliveriesAsync(db, key, group, consumer, Map(result.ClaimedEntries), cancellationToken).ConfigureAwait(false);
        if (result.DeletedIds is not { Length: > 0 } deleted)
        {
            return claimed;
        }

        // Redis 7 and later: pending entries the trim removed, which XAUTOCLAIM has just dropped from the pending list.
        return [.. claimed, .. deleted.Select(id => new StreamEntry(id.ToString(), null, null, 0, TrimmedEntry.Dropped))];
    }

    public async ValueTask KeepPendingAsync(string stream, string group, string consumer, IReadOnlyList<string> entryIds, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisValue[] args = [group, consumer, .. entryIds.Select(id => (RedisValue)id)];
        await db.ScriptEvaluateAsync(KeepPendingScript, [keys.Stream(stream)], args).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> DeleteIdleConsumersAsync(string stream, string group, string self, TimeSpan idle, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return (long)await db.ScriptEvaluateAsync(DeleteIdleConsumersScript, [keys.Stream(stream)], [group, (long)idle.TotalMilliseconds, self])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> IsHandledAsync(string stream, string group, string source, string id, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        return await db.KeyExistsAsync(keys.Handled(stream, group, source, id)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask AckAsync(string stream, string group, string entryId, (string Source, string Id, TimeSpan Window)? handled, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        if (handled is { } h)
        {
            await db.ScriptEvaluateAsync(AckHandledScript, [keys.Stream(stream), keys.Handled(stream, group, h.Source, h.Id)],
                [group, entryId, (long)h.Window.TotalMilliseconds]).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await db.StreamAcknowledgeAsync(keys.Stream(stream), group, entryId).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask<bool> DeadLetterAsync(string stream, string group, string entryId, string? holder, string deadLetterJson, string? eventField, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        RedisResult written = await db.ScriptEvaluateAsync(DeadLetterScript, [keys.Stream(stream), keys.DeadLetter(stream)],
            [group, entryId, maxDeadLetterLength, deadLetterJson, eventField ?? string.Empty, holder ?? string.Empty]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)written == 1;
    }

    public async ValueTask<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(string stream, int count, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        StackExchange.Redis.StreamEntry[] entries = await db.StreamRangeAsync(keys.DeadLetter(stream), count: count).WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<DeadLetter>(entries.Length);
        foreach (StackExchange.Redis.StreamEntry entry in entries)
        {
            RedisValue payload = entry["deadLetter"];
            if (payload.HasValue)
            {
                RedisValue eventField = entry["event"];
                result.Add(DeadLetterPayload.Parse(payload.ToString()).ToDeadLetter(eventField.HasValue ? eventField.ToString() : null));
            }
        }

        return result;
    }

    public async ValueTask<StreamTrim> TrimAsync(string stream, int maxLength, int? hardMaxLength, CancellationToken cancellationToken)
    {
        IDatabase db = await DbAsync(cancellationToken).ConfigureAwait(false);
        var reply = (RedisResult[])(await db.ScriptEvaluateAsync(TrimScript, [keys.Stream(stream)], [maxLength, hardMaxLength ?? 0])
            .WaitAsync(cancellationToken).ConfigureAwait(false))!;
        string? firstDropped = (string?)reply[2];
        string? firstKept = (string?)reply[3];
        return new StreamTrim((long)reply[0], (long)reply[1], string.IsNullOrEmpty(firstDropped) ? null : firstDropped, string.IsNullOrEmpty(firstKept) ? null : firstKept);
    }

    public async ValueTask DisposeAsync()
    {
        await _blocking.DisposeAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private static StreamEntry[] Map(StackExchange.Redis.StreamEntry[] entries)
    {
        var result = new StreamEntry[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            RedisValue v = entries[i]["v"];
            RedisValue e = entries[i]["event"];
            // A trimmed entry still pending comes back without fields (XADD never writes an entry without one).
            TrimmedEntry trimmed = entries[i].Values is { Length: > 0 } ? TrimmedEntry.No : TrimmedEntry.StillPending;
            result[i] = new StreamEntry(entries[i].Id.ToString(), v.HasValue ? v.ToString() : null, e.HasValue ? e.ToString() : null, 1, trimmed);
        }

        return result;
    }

    private static async ValueTask<IReadOnlyList<StreamEntry>> WithDeliveriesAsync(
        IDatabase db, RedisKey key, string group, string consumer, StreamEntry[] entries, CancellationToken cancellationToken)
    {
        if (entries.Length == 0)
        {
            return entries;
        }

        StreamPendingMessageInfo[] pending = await db.StreamPendingMessagesAsync(key, group, entries.Length * 4 + 100, consumer, entries[0].Id, entries[^1].Id)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        Dictionary<string, int> counts = pending.ToDictionary(p => p.MessageId.ToString(), p => p.DeliveryCount);
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = entries[i] with { Deliveries = counts.GetValueOrDefault(entries[i].Id, 1) };
        }

        return entries;
    }
}
