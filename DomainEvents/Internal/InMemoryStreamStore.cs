using System.Globalization;

namespace Lilith.DomainEvents.Internal;

/// <summary>
/// Streams kept in this process with the semantics of Redis Streams that the consumer relies on: consumer
/// groups, pending entries per consumer, delivery counts, idle-time claims, dead letters and handled markers.
/// </summary>
internal sealed class InMemoryStreamStore(TimeProvider time, int maxDeadLetterLength) : IStreamStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, MemoryStream> _streams = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _handled = new(StringComparer.Ordinal);

    // Completed and replaced on every add, so a waiting reader wakes at once (as XREADGROUP BLOCK does).
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask AddAsync(string stream, byte[] eventJson, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Get(stream).Add("1", System.Text.Encoding.UTF8.GetString(eventJson), time);
            SignalAdded();
        }

        return default;
    }

    public async ValueTask<IReadOnlyList<(int Index, Exception Error)>> AddManyAsync(string stream, IReadOnlyList<byte[]> eventJson, CancellationToken cancellationToken)
    {
        foreach (byte[] json in eventJson)
        {
            await AddAsync(stream, json, cancellationToken).ConfigureAwait(false);
        }

        return [];
    }

    /// <summary>Adds an entry with raw fields (tests: what another writer might put on the stream).</summary>
    public void AddRaw(string stream, string? version, string? eventField)
    {
        lock (_gate)
        {
            Get(stream).Add(version, eventField, time);
            SignalAdded();
        }
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> WaitNewAsync(string stream, string group, string consumer, int count, TimeSpan wait, CancellationToken cancellationToken)
    {
        Task added;
        lock (_gate)
        {
            added = _added.Task;
        }

        IReadOnlyList<StreamEntry> entries = await ReadNewAsync(stream, group, consumer, count, cancellationToken).ConfigureAwait(false);
        if (entries.Count > 0)
        {
            return entries;
        }

        try
        {
            // Taken before the read: an add between the read and this wait has completed it already.
            await added.WaitAsync(wait, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return entries;
        }

        return await ReadNewAsync(stream, group, consumer, count, cancellationToken).ConfigureAwait(false);
    }

    private void SignalAdded()
    {
        TaskCompletionSource added = _added;
        _added = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        added.TrySetResult();
    }

    public ValueTask EnsureGroupAsync(string stream, string group, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Get(stream).Groups.TryAdd(group, new Group());
        }

        return default;
    }

    public ValueTask<IReadOnlyList<StreamEntry>> ReadNewAsync(string stream, string group, string consumer, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MemoryStream s = Get(stream);
            Group g = GroupOf(s, group);
            var result = new List<StreamEntry>();
            int start = s.Entries.Count == 0 ? 0 : (int)Math.Max(0, g.LastDelivered - s.Entries[0].Sequence + 1);
            for (int i = start; i < s.Entries.Count && result.Count < count; i++)
            {
                Entry entry = s.Entries[i];
                {
                    g.LastDelivered = entry.Sequence;
                    g.Pending[entry.Id] = new Pending(consumer, time.GetTimestamp(), 1);
                    result.Add(new StreamEntry(entry.Id, entry.Version, entry.Event, 1));
                }
            }

            return new(result);
        }
    }

    public ValueTask<IReadOnlyList<StreamEntry>> ReadOwnPendingAsync(string stream, string group, string consumer, string afterId, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MemoryStream s = Get(stream);
            Group g = GroupOf(s, group);
            long after = SequenceOf(afterId);
            var result = new List<StreamEntry>();
            foreach ((string id, Pending p) in g.Pending.OrderBy(p => SequenceOf(p.Key)).ToList())
            {
                if (result.Count < count && p.Consumer == consumer && SequenceOf(id) > after)
                {
                    // As XREADGROUP with an id: the delivery count is not increased.
                    result.Add(Find(s, id, p.Deliveries));
                }
            }

            return new(result);
        }
    }

    public ValueTask<IReadOnlyList<StreamEntry>> ClaimStaleAsync(string stream, string group, string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MemoryStream s = Get(stream);
            Group g = GroupOf(s, group);
            var result = new List<StreamEntry>();
            foreach ((string id, Pending p) in g.Pending.OrderBy(p => SequenceOf(p.Key)).ToList())
            {
                if (result.Count < count && time.GetElapsedTime(p.DeliveredAt) >= minIdle)
                {
                    g.Pending[id] = new Pending(consumer, time.GetTimestamp(), p.Deliveries + 1);
                    result.Add(Find(s, id, p.Deliveries + 1));
                }
            }

            return new(result);
        }
    }

    public ValueTask KeepPendingAsync(string stream, string group, string consumer, IReadOnlyList<string> entryIds, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Group g = GroupOf(Get(stream), group);
            foreach (string id in entryIds)
            {
                if (g.Pending.TryGetValue(id, out Pending? p) && p.Consumer == consumer)
                {
                    g.Pending[id] = p with { DeliveredAt = time.GetTimestamp() };
                }
            }
        }

        return default;
    }

    /// <summary>Consumers exist here only through their pending entries, so there is never one to delete.</summary>
    public ValueTask<long> DeleteIdleConsumersAsync(string stream, string group, string self, TimeSpan idle, CancellationToken cancellationToken) => new(0L);

    public ValueTask<bool> IsHandledAsync(string stream, string group, string source, string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            string key = HandledKey(stream, group, source, id);
            return new(_handled.TryGetValue(key, out DateTimeOffset expires) && expires > time.GetUtcNow());
        }
    }

    public ValueTask AckAsync(string stream, string group, string entryId, (string Source, string Id, TimeSpan Window)? handled, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (handled is { } h)
            {
                _handled[HandledKey(stream, group, h.Source, h.Id)] = time.GetUtcNow() + h.Window;
            }

            GroupOf(Get(stream), group).Pending.Remove(entryId);
        }

        return default;
    }

    public ValueTask<bool> DeadLetterAsync(string stream, string group, string entryId, string? holder, string deadLetterJson, string? eventField, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MemoryStream s = Get(stream);
            Group g = GroupOf(s, group);
            if (holder is not null && !(g.Pending.TryGetValue(entryId, out Pending? p) && p.Consumer == holder))
            {
                return new(false); // another consumer claimed or handled it meanwhile
            }

            g.Pending.Remove(entryId);
            s.DeadLetters.Add((deadLetterJson, eventField));
            if (s.DeadLetters.Count > maxDeadLetterLength)
            {
                s.DeadLetters.RemoveAt(0);
            }
        }

        return new(true);
    }

    public ValueTask<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(string stream, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return new(Get(stream).DeadLetters.Take(count).Select(d => DeadLetterPayload.Parse(d.Json).ToDeadLetter(d.Event)).ToList());
        }
    }

    public ValueTask<StreamTrim> TrimAsync(string stream, int maxLength, int? hardMaxLength, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MemoryStream s = Get(stream);
            if (s.Entries.Count <= maxLength)
            {
                return new(default(StreamTrim));
            }

            long acknowledged = s.NeededFrom() is { } needed ? s.RemoveBefore(needed) : 0;
            if (hardMaxLength is not { } cap || s.Entries.Count <= cap)
            {
                return new(new StreamTrim(acknowledged, 0, null, null));
            }

            string firstDropped = s.Entries[0].Id;
            int dropped = s.RemoveOldest(s.Entries.Count - cap);
            return new(new StreamTrim(acknowledged, dropped, firstDropped, s.Entries.Count > 0 ? s.Entries[0].Id : null));
        }
    }

    private static string HandledKey(string stream, string group, string source, string id) => stream + "\n" + EventKeys.HandledSuffix(group, source, id);

    private static long SequenceOf(string id) => long.Parse(id.AsSpan(id.IndexOf('-') + 1), CultureInfo.InvariantCulture);

    private static Group GroupOf(MemoryStream s, string group) =>
        s.Groups.TryGetValue(group, out Group? g) ? g : throw new InvalidOperationException($"NOGROUP: no consumer group '{group}'.");

    private static StreamEntry Find(MemoryStream s, string id, long deliveries)
    {
        long index = s.Entries.Count == 0 ? -1 : SequenceOf(id) - s.Entries[0].Sequence;
        Entry? entry = index >= 0 && index < s.Entries.Count ? s.Entries[(int)index] : null;
        return entry is null
            ? new StreamEntry(id, null, null, deliveries, TrimmedEntry.StillPending)
            : new StreamEntry(id, entry.Version, entry.Event, deliveries);
    }

    private MemoryStream Get(string stream)
    {
        if (!_streams.TryGetValue(stream, out MemoryStream? s))
        {
            _streams[stream] = s = new MemoryStream();
        }

        return s;
    }

    private sealed record Entry(string Id, long Sequence, string? Version, string? Event);

    private sealed record Pending(string Consumer, long DeliveredAt, long Deliveries);

    private sealed class Group
    {
        public long LastDelivered { get; set; }

        public Dictionary<string, Pending> Pending { get; } = new(StringComparer.Ordinal);
    }

    private sealed class MemoryStream
    {
        private long _sequence;

        public List<Entry> Entries { get; } = [];

        public Dictionary<string, Group> Groups { get; } = new(StringComparer.Ordinal);

        public List<(string Json, string? Event)> DeadLetters { get; } = [];

        public void Add(string? version, string? eventField, TimeProvider time)
        {
            long sequence = ++_sequence;
            Entries.Add(new Entry(string.Create(CultureInfo.InvariantCulture, $"{time.GetUtcNow().ToUnixTimeMilliseconds()}-{sequence}"), sequence, version, eventField));
        }

        /// <summary>The oldest sequence some group still needs (its oldest pending entry, else its first unread one); null without groups.</summary>
        public long? NeededFrom() => Groups.Count == 0
            ? null
            : Groups.Values.Min(g => g.Pending.Count > 0 ? g.Pending.Keys.Min(SequenceOf) : g.LastDelivered + 1);

        /// <summary>Removes the entries before <paramref name="sequence"/>; returns how many.</summary>
        public int RemoveBefore(long sequence) => RemoveOldest(Entries.Count(e => e.Sequence < sequence));

        public int RemoveOldest(int count)
        {
            count = Math.Min(count, Entries.Count);
            Entries.RemoveRange(0, count);
            return count;
        }
    }
}
