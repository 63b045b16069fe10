using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lilith.DistributedLock.Internal;

/// <summary>The package's one Meter and one ActivitySource, both named <c>Lilith.DistributedLock</c>.</summary>
internal static class LockTelemetry
{
    public static readonly ActivitySource ActivitySource = new(DistributedLockDefaults.PackageName);

    public static readonly Meter Meter = new(DistributedLockDefaults.PackageName);

    public static readonly Counter<long> Acquired = Meter.CreateCounter<long>("lilith.lock.acquired", "{grant}", "Locks granted.");

    public static readonly Counter<long> TimedOut = Meter.CreateCounter<long>("lilith.lock.timed_out", "{attempt}", "Acquisitions that gave up at their timeout.");

    public static readonly Counter<long> Lost = Meter.CreateCounter<long>("lilith.lock.lost", "{grant}", "Held locks lost before release (deleted, taken, or lease ran out).");

    public static readonly Counter<long> AbandonedGrantsReleased = Meter.CreateCounter<long>("lilith.lock.abandoned_grants_released", "{grant}", "Grants made by acquires that had ended without an answer, released by the cleanup.");

    public static readonly Histogram<double> WaitDuration = Meter.CreateHistogram<double>("lilith.lock.wait.duration", "ms", "Time from the acquisition call to the grant.");
}
