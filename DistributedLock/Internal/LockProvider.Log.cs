using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

internal sealed partial class LockProvider
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Lock '{Name}' could not be acquired: {Backend} could not be reached.")]
        public static partial void BackendUnreachable(ILogger logger, string name, string backend, Exception error);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "The writer intent on '{Name}' could not be withdrawn; it expires by itself.")]
        public static partial void WithdrawFailed(ILogger logger, string name, Exception error);
    }
}
