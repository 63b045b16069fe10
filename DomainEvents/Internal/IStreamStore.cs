namespace Lilith.DomainEvents.Internal;

/// <summary>One stream entry as read by a consumer.</summary>
/// <param name="Id">The entry id.</param>
/// <param name="Version">The <c>v</c> field, or null when missing.</param>
/// <param name="Event">The <c>event</c> field, or null when missing.</param>
/// <param name="Deliveries">How many times the group delivered it (1 for a first delivery).</param>
/// <param name="Trimmed">What is left of an entry the stream's trim removed while it was pending.</param>
internal readonly record struct StreamEntry(string Id, string? Version, string? Event, long Deliveries, TrimmedEntry Trimmed = TrimmedEntry.No);

/// <summary>Whether a pending entry was trimmed away, and whether it is still on this consumer's pending list.</summary>
internal enum TrimmedEntry
{
    /// <summary>The entry is on the stream.</summary>
    No,

    /// <summary>Trimmed; still pending for this consumer (a read by id or an XAUTOCLAIM of Redis 6.2 returns it without fields).</summary>
    StillPending,

    /// <summary>Trimmed and already dropped from the pending list (XAUTOCLAIM's deleted ids, Redis 7 and later).</summary>
    Dropped,
}

/// <summary>
/// The stream operations the publisher and the consumer need. The Redis implementation runs them on Redis
/// Streams; the in-memory one copies their semantics (groups, pending entries, delivery counts, claims).
/// </summary>
internal interface IStreamStore
{
    ValueTask AddAsync(string stream, byte[] eventJson, CancellationToken cancellationToken);

    /// <summary>Adds many entries at once; returns the indexes of the ones that failed with their error.</summary>
    ValueTask<IReadOnlyList<(int Index, Exception Error)>> AddManyAsync(string stream, IReadOnlyList<byte[]> eventJson, CancellationToken cancellationToken);

    ValueTask EnsureGroupAsync(string stream, string group, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<StreamEntry>> ReadNewAsync(string stream, string group, string consumer, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Reads new entries, waiting up to <paramref name="wait"/> for one to be added when there are none (returns as soon
    /// as an entry arrives; may return empty earlier). Cancelling leaves no wait behind on the server.
    /// </summary>
    ValueTask<IReadOnlyList<StreamEntry>> WaitNewAsync(string stream, string group, string consumer, int count, TimeSpan wait, CancellationToken cancellationToken);

    /// <summary>This consumer's own pending entries after <paramref name="afterId"/> (restart: drain them first), with delivery counts.</summary>
    ValueTask<IReadOnlyList<StreamEntry>> ReadOwnPendingAsync(string stream, string group, string consumer, string afterId, int count, CancellationToken cancellationToken);

    /// <summary>Claims entries pending longer than <paramref name="minIdle"/> for <paramref name="consumer"/> (XAUTOCLAIM), with delivery counts.</summary>
    ValueTask<IReadOnlyList<StreamEntry>> ClaimStaleAsync(string stream, string group, string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken);

    /// <summary>Starts the idle time of the entries still pending for <paramref name="consumer"/> again (their handlers still run).</summary>
    ValueTask KeepPendingAsync(string stream, string group, string consumer, IReadOnlyList<string> entryIds, CancellationToken cancellationToken);

    /// <summary>Deletes the group's consumers other than <paramref name="self"/> that hold no pending entry and were idle longer than <paramref name="idle"/>; returns how many.</summary>
    ValueTask<long> DeleteIdleConsumersAsync(string stream, string group, string self, TimeSpan idle, CancellationToken cancellationToken);

    ValueTask<bool> IsHandledAsync(string stream, string group, string source, string id, CancellationToken cancellationToken);

    /// <summary>Acknowledges an entry; when <paramref name="handled"/> is set, records it as handled for the window, in the same script.</summary>
    ValueTask AckAsync(string stream, string group, string entryId, (string Source, string Id, TimeSpan Window)? handled, CancellationToken cancellationToken);

    /// <summary>
    /// Acknowledges the entry and writes its dead letter, atomically, only when <paramref name="holder"/> still has it
    /// pending (another consumer may have claimed or handled it meanwhile); with a null holder (an entry already off the
    /// pending list) writes the dead letter only. Returns whether the dead letter was written.
    /// </summary>
    ValueTask<bool> DeadLetterAsync(string stream, string group, string entryId, string? holder, string deadLetterJson, string? eventField, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(string stream, int count, CancellationToken cancellationToken);

    /// <summary>
    /// When the stream is longer than <paramref name="maxLength"/>, removes the entries every group has acknowledged;
    /// then, with a <paramref name="hardMaxLength"/>, removes the oldest entries beyond it even if unread.
    /// </summary>
    ValueTask<StreamTrim> TrimAsync(string stream, int maxLength, int? hardMaxLength, CancellationToken cancellationToken);
}

/// <summary>What a trim removed.</summary>
/// <param name="Acknowledged">Entries removed that every group had acknowledged.</param>
/// <param name="DroppedUnread">Entries removed by the hard cap although some group had not acknowledged them.</param>
/// <param name="FirstDropped">The first id the hard cap removed (null when none).</param>
/// <param name="FirstKept">The first id left after the hard cap (the dropped range ends before it; null when none).</param>
internal readonly record struct StreamTrim(long Acknowledged, long DroppedUnread, string? FirstDropped, string? FirstKept);
