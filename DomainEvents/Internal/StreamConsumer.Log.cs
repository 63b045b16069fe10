using Microsoft.Extensions.Logging;

namespace Lilith.DomainEvents.Internal;

internal sealed partial class StreamConsumer
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Consumer loop of stream '{Stream}' (group '{Group}') failed ({Failures} in a row); retrying")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string stream, string group, int failures);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Draining {Count} own pending entries of stream '{Stream}' (group '{Group}')")]
    private static partial void LogDraining(ILogger logger, int count, string stream, string group);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Claimed {Count} stale entries of stream '{Stream}' (group '{Group}')")]
    private static partial void LogClaimed(ILogger logger, int count, string stream, string group);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Event '{EventId}' on stream '{Stream}' (group '{Group}') failed attempt {Attempt}: {Error}; retrying")]
    private static partial void LogRetrying(ILogger logger, string eventId, string stream, string group, int attempt, string error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Entry {EntryId} of stream '{Stream}' (group '{Group}') moved to the dead-letter stream: {Reason}: {Error}")]
    private static partial void LogDeadLettered(ILogger logger, string entryId, string stream, string group, string reason, string? error);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Entry {EntryId} of stream '{Stream}' (group '{Group}') could not be acknowledged or dead-lettered; it stays pending and is claimed again later")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception, string entryId, string stream, string group);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Event '{EventId}' from '{Source}' on stream '{Stream}' was already handled by group '{Group}'; acknowledged without handling")]
    private static partial void LogDuplicate(ILogger logger, string eventId, string source, string stream, string group);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Entry {EntryId} of stream '{Stream}' (group '{Group}') was trimmed from the stream while pending, before the group acknowledged it; dead-lettering it by id")]
    private static partial void LogTrimmed(ILogger logger, string entryId, string stream, string group);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Entry {EntryId} of stream '{Stream}' (group '{Group}') is no longer pending for this consumer (claimed or handled by another); not dead-lettered")]
    private static partial void LogNoLongerOurs(ILogger logger, string entryId, string stream, string group);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Deleted {Count} consumers of stream '{Stream}' (group '{Group}') that held no pending entry and were idle longer than {IdleTimeout}")]
    private static partial void LogDeletedConsumers(ILogger logger, long count, string stream, string group, TimeSpan idleTimeout);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Keeping the in-flight entries of group '{Group}' from being claimed failed; retrying after a third of the claim idle time")]
    private static partial void LogKeepFailed(ILogger logger, Exception exception, string group);
}
