using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>
/// Trims the streams this process publishes on, at most once per <see cref="DomainEventsOptions.RetentionInterval"/>
/// per stream and one trim at a time, in the background of the publish that made it due: only entries every consumer
/// group has acknowledged go, unless the hard cap is set and exceeded, which is logged and counted.
/// </summary>
internal sealed partial class StreamRetention(IStreamStore store, IOptions<DomainEventsOptions> options, TimeProvider time, ILogger<StreamRetention> logger)
{
    private readonly DomainEventsOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, State> _streams = new(StringComparer.Ordinal);

    /// <summary>Called after a publish on <paramref name="stream"/> succeeded; starts a trim when one is due and none runs.</summary>
    public void Published(string stream)
    {
        State state = _streams.GetOrAdd(stream, static _ => new State());
        long now = time.GetTimestamp();
        if (now < Volatile.Read(ref state.NextDue) || Interlocked.CompareExchange(ref state.Running, 1, 0) != 0)
        {
            return;
        }

        Volatile.Write(ref state.NextDue, now + (long)(_options.RetentionInterval.TotalSeconds * time.TimestampFrequency));
        _ = Task.Run(async () =>
        {
            try
            {
                await TrimAsync(stream, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref state.Running, 0);
            }
        }, CancellationToken.None);
    }

    /// <summary>Trims <paramref name="stream"/> once; a failure is logged (the next due publish tries again).</summary>
    public async Task<StreamTrim> TrimAsync(string stream, CancellationToken cancellationToken)
    {
        StreamTrim trim;
        try
        {
            trim = await store.TrimAsync(stream, _options.MaxStreamLength, _options.HardMaxStreamLength, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogTrimFailed(logger, e, stream);
            return default;
        }

        if (trim.DroppedUnread > 0)
        {
            DomainEventsTelemetry.DroppedUnread.Add(trim.DroppedUnread, new KeyValuePair<string, object?>("messaging.destination.name", stream));
            LogDroppedUnread(logger, trim.DroppedUnread, stream, trim.FirstDropped, trim.FirstKept, _options.HardMaxStreamLength ?? 0);
        }

        return trim;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Trimming stream '{Stream}' failed; the next publish tries again")]
    private static partial void LogTrimFailed(ILogger logger, Exception exception, string stream);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "The hard cap dropped {Count} entries of stream '{Stream}' that some consumer group had not acknowledged: ids from {FirstDropped} up to (not including) {FirstKept} (DomainEventsOptions.HardMaxStreamLength {HardMaxStreamLength})")]
    private static partial void LogDroppedUnread(ILogger logger, long count, string stream, string? firstDropped, string? firstKept, int hardMaxStreamLength);

    private sealed class State
    {
        public long NextDue;
        public int Running;
    }
}
