using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

internal sealed partial class LockHandle
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Lock '{Name}' (fencing token {FencingToken}) was lost: {Reason}.")]
        public static partial void LockLost(ILogger logger, string name, long fencingToken, string reason);

        [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Renewing lock '{Name}' failed; trying again while {LeaseLeftMs} ms of the lease remain.")]
        public static partial void RenewalFailed(ILogger logger, string name, double leaseLeftMs, Exception error);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Releasing lock '{Name}' on dispose failed; the lock frees itself when its lease ({TtlMs} ms) ends.")]
        public static partial void ReleaseFailed(ILogger logger, string name, double ttlMs, Exception error);

        [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Lock '{Name}' (fencing token {FencingToken}) was no longer held at release; nothing was deleted.")]
        public static partial void ReleasedNotHeld(ILogger logger, string name, long fencingToken);

        [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "A callback registered on the LostToken of lock '{Name}' threw.")]
        public static partial void LostCallbackFailed(ILogger logger, string name, Exception error);
    }
}
