using Microsoft.Extensions.Logging;

namespace Lilith.ServiceDiscovery.Internal;

internal sealed partial class DiscoveryClient
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Discovery entry '{InstanceId}' of service '{Service}' is skipped: {Reason}")]
        public static partial void MalformedInstance(ILogger logger, string service, string instanceId, string reason);

        [LoggerMessage(2, LogLevel.Warning, "A discovery event on service '{Service}' is skipped: {Reason}")]
        public static partial void MalformedEvent(ILogger logger, string service, string reason);

        [LoggerMessage(3, LogLevel.Error, "Discovery backend {Backend} is unreachable while loading '{Service}': {Reason}; serving the last known instances")]
        public static partial void Outage(ILogger logger, string service, string backend, string reason);

        [LoggerMessage(4, LogLevel.Information, "Discovery backend {Backend} answers again")]
        public static partial void Recovered(ILogger logger, string backend);

        [LoggerMessage(5, LogLevel.Information, "Instance '{InstanceId}' of service '{Service}' was missing (swept or lost) and is registered again")]
        public static partial void Reregistered(ILogger logger, string service, string instanceId);

        [LoggerMessage(6, LogLevel.Warning, "Heartbeat of instance '{InstanceId}' of service '{Service}' failed: {Reason}")]
        public static partial void HeartbeatFailed(ILogger logger, string service, string instanceId, string reason);

        [LoggerMessage(7, LogLevel.Warning, "Discovery {Loop} failed: {Reason}; retrying at the next interval")]
        public static partial void LoopFailed(ILogger logger, string loop, string reason);

        [LoggerMessage(8, LogLevel.Information, "Expired instance '{InstanceId}' of service '{Service}' was swept")]
        public static partial void Swept(ILogger logger, string service, string instanceId);

        [LoggerMessage(9, LogLevel.Warning, "Reload of service '{Service}' failed: {Reason}; serving the last known instances")]
        public static partial void ReloadFailed(ILogger logger, string service, string reason);

        [LoggerMessage(10, LogLevel.Information, "Discovery connection to {Backend} restored; reloading cached services and renewing registrations")]
        public static partial void Reconnected(ILogger logger, string backend);

        [LoggerMessage(11, LogLevel.Warning, "Handling a discovery event of service '{Service}' failed: {Reason}")]
        public static partial void EventFailed(ILogger logger, string service, string reason);

        [LoggerMessage(12, LogLevel.Warning, "A change callback of service '{Service}' failed: {Reason}")]
        public static partial void ChangeCallbackFailed(ILogger logger, string service, string reason);

        [LoggerMessage(13, LogLevel.Warning, "Sweeping service '{Service}' failed; the other services are swept, this one again at the next interval")]
        public static partial void SweepFailed(ILogger logger, string service, Exception exception);
    }
}
