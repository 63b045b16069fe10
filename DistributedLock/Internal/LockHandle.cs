using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// A grant: renews its lease in the background (every TTL / 3) or watches it run out, fires
/// <see cref="LostToken"/> when the lock is gone, and releases by compare-and-delete.
/// </summary>
internal sealed partial class LockHandle : IDistributedLockHandle
{
    private readonly ILockBackend _backend;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _holder;
    private readonly TimeSpan _ttl;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task<LockReleaseResult>? _release;
    private long _leaseEnd;
    private int _lostSignalled;
    private int _renewals;

    public LockHandle(ILockBackend backend, TimeProvider time, ILogger logger, string name, string holder, long fencingToken, TimeSpan ttl, long leaseStart, bool autoRenew)
    {
        _backend = backend;
        _time = time;
        _logger = logger;
        Name = name;
        _holder = holder;
        FencingToken = fencingToken;
        _ttl = ttl;
        _leaseEnd = leaseStart + ToTicks(ttl);
        _ = autoRenew ? RenewLoopAsync() : WatchLeaseAsync();
    }

    public string Name { get; }

    public long FencingToken { get; }

    public CancellationToken LostToken => _lost.Token;

    /// <summary>The holder token written in the lock key (tests and logs).</summary>
    internal string Holder => _holder;

    /// <summary>How many background renewals succeeded (tests on a fake clock wait on it).</summary>
    internal int Renewals => Volatile.Read(ref _renewals);

    public async ValueTask<bool> ExtendAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _release) is not null || _lost.IsCancellationRequested)
        {
            return false;
        }

        long start = _time.GetTimestamp();
        bool renewed = await _backend.RenewAsync(Name, _holder, _ttl, cancellationToken).ConfigureAwait(false);
        if (renewed)
        {
            Interlocked.Exchange(ref _leaseEnd, start + ToTicks(_ttl));
        }
        else
        {
            SignalLost("the lock was gone or held by another holder when extending");
        }

        return renewed;
    }

    public ValueTask<LockReleaseResult> ReleaseAsync(CancellationToken cancellationToken = default)
    {
        Task<LockReleaseResult> release;
        lock (_gate)
        {
            if (_release is null || _release.IsFaulted || _release.IsCanceled)
            {
                _stop.Cancel();
                _release = ReleaseCoreAsync();
                TaskObservation.Observe(_release);
            }

            release = _release;
        }

        return release.IsCompleted || !cancellationToken.CanBeCanceled
            ? new ValueTask<LockReleaseResult>(release)
            : new ValueTask<LockReleaseResult>(TaskObservation.WaitAsync(release, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Disposing never throws: the lease ends by itself within the TTL.
            Log.ReleaseFailed(_logger, Name, _ttl.TotalMilliseconds, e);
        }
    }

    private async Task<LockReleaseResult> ReleaseCoreAsync()
    {
        bool released = await _backend.ReleaseAsync(Name, _holder, CancellationToken.None).ConfigureAwait(false);
        if (!released)
        {
            Log.ReleasedNotHeld(_logger, Name, FencingToken);
        }

        return released ? LockReleaseResult.Released : LockReleaseResult.NotHeld;
    }

    private TimeSpan LeaseLeft() => TimeSpan.FromTicks((long)((Interlocked.Read(ref _leaseEnd) - _time.GetTimestamp()) * (TimeSpan.TicksPerSecond / (double)_time.TimestampFrequency)));

    private long ToTicks(TimeSpan span) => (long)(span.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    // Release stops these loops by cancelling _stop. Their waits suppress the cancellation instead of throwing it: a
    // thrown OperationCanceledException on every release would cost more than the rest of the handle's bookkeeping.
    private async Task WatchLeaseAsync()
    {
        CancellationToken stop = _stop.Token;
        for (TimeSpan left = LeaseLeft(); left > TimeSpan.Zero; left = LeaseLeft())
        {
            await Task.Delay(left, _time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stop.IsCancellationRequested)
            {
                return;
            }
        }

        SignalLost("the lease ran out without renewal");
    }

    private async Task RenewLoopAsync()
    {
        CancellationToken stop = _stop.Token;
        TimeSpan period = _ttl / DistributedLockDefaults.RenewalDivisor;
        try
        {
            // Fixed rate: the next tick is scheduled before this renewal runs, so a slow renewal does not push the next one back.
            Task tick = Task.Delay(period, _time, stop);
            while (true)
            {
                await tick.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                tick = Task.Delay(period, _time, stop);
                if (!await RenewUntilLeaseEndsAsync(stop).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Renews, trying again while the backend cannot be reached, until the lease runs out.</summary>
    /// <returns>False when the lock is lost.</returns>
    private async Task<bool> RenewUntilLeaseEndsAsync(CancellationToken stop)
    {
        while (true)
        {
            TimeSpan left = LeaseLeft();
            if (left <= TimeSpan.Zero)
            {
                SignalLost("the backend could not be reached before the lease ran out");
                return false;
            }

            long start = _time.GetTimestamp();
            Task<bool> renew = _backend.RenewAsync(Name, _holder, _ttl, stop).AsTask();
            try
            {
                if (await renew.WaitAsync(left, _time, stop).ConfigureAwait(false))
                {
                    Interlocked.Exchange(ref _leaseEnd, start + ToTicks(_ttl));
                    Interlocked.Increment(ref _renewals);
                    return true;
                }

                SignalLost("renewal found the lock gone or held by another holder");
                return false;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                TaskObservation.Observe(renew);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Includes the lease running out while the renewal was in flight (WaitAsync's TimeoutException).
                TaskObservation.Observe(renew);
                Log.RenewalFailed(_logger, Name, LeaseLeft().TotalMilliseconds, e);
            }

            TimeSpan pause = LeaseLeft();
            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause < DistributedLockDefaults.RenewalRetryInterval ? pause : DistributedLockDefaults.RenewalRetryInterval, _time, stop).ConfigureAwait(false);
            }
        }
    }

    private void SignalLost(string reason)
    {
        if (Volatile.Read(ref _release) is not null || Interlocked.Exchange(ref _lostSignalled, 1) == 1)
        {
            return;
        }

        _stop.Cancel();
        LockTelemetry.Lost.Add(1);
        Log.LockLost(_logger, Name, FencingToken, reason);
        try
        {
            _lost.Cancel();
        }
        catch (AggregateException e)
        {
            // A user's callback on LostToken threw; the renewal loop must go on being well-behaved.
            Log.LostCallbackFailed(_logger, Name, e);
        }
    }
}
