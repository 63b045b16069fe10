using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// Removes what an acquire that ended without an answer may have left: its try can still run in Redis afterwards (a
/// script queued behind <c>CLIENT PAUSE</c>, a reply lost on the way), granting the lock to a holder token nobody owns
/// for the whole lease. The release script (compare-and-delete with the same holder token) is sent at once, in the
/// background; on the same connection it runs after the try it follows. It is tried again while Redis cannot be
/// reached, for at most the lease (plus the answer grace): a grant made before then has ended by itself after that.
/// </summary>
internal sealed partial class AbandonedGrantCleaner(TimeProvider time, ILogger logger)
{
    private int _pending;

    /// <summary>Cleanups still running (tests wait on it).</summary>
    internal int Pending => Volatile.Read(ref _pending);

    /// <summary>Starts the cleanup of <paramref name="holder"/>'s possible grant of <paramref name="name"/>; returns at once.</summary>
    public void CleanUp(ILockBackend backend, string name, string holder, TimeSpan ttl)
    {
        Interlocked.Increment(ref _pending);
        _ = RunAsync(backend, name, holder, ttl);
    }

    private async Task RunAsync(ILockBackend backend, string name, string holder, TimeSpan ttl)
    {
        long started = time.GetTimestamp();
        TimeSpan bound = ttl + DistributedLockDefaults.AnswerGrace;
        try
        {
            while (true)
            {
                TimeSpan left = bound - time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    Log.CleanupGaveUp(logger, name, bound.TotalMilliseconds);
                    return;
                }

                Task<bool> release = backend.ReleaseAsync(name, holder, CancellationToken.None).AsTask();
                try
                {
                    if (await release.WaitAsync(left, time).ConfigureAwait(false))
                    {
                        LockTelemetry.AbandonedGrantsReleased.Add(1);
                        Log.AbandonedGrantReleased(logger, name);
                    }

                    return;
                }
                catch (Exception e)
                {
                    TaskObservation.Observe(release);
                    Log.CleanupFailed(logger, name, e);
                }

                await Task.Delay(DistributedLockDefaults.RenewalRetryInterval, time).ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "An acquire of '{Name}' ended without an answer and Redis had granted it after all; the grant was released.")]
        public static partial void AbandonedGrantReleased(ILogger logger, string name);

        [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Releasing a possible grant of '{Name}' left by an unanswered acquire failed; trying again.")]
        public static partial void CleanupFailed(ILogger logger, string name, Exception error);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "A possible grant of '{Name}' left by an unanswered acquire could not be released within {BoundMs} ms; it ends with its lease.")]
        public static partial void CleanupGaveUp(ILogger logger, string name, double boundMs);
    }
}
