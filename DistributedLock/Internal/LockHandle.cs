using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// A grant: renewed in the background by its provider's <see cref="RenewalScheduler"/> (every TTL / 3) or watching its
/// lease run out, fires
/// <see cref="LostToken"/> when the lock is gone, and releases by compare-and-delete.
/// </summary>
internal sealed partial class LockHandle : IDistributedLockHandle
{
    private readonly ILockBackend _backend;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _holder;
    private readonly TimeSpan _ttl;
    private readonly long _leaseTicks;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly RenewalScheduler? _renewals;
    private readonly long _renewalPeriodTicks;
    private long _nextRenewal;
    private int _renewing;
    private Task<LockReleaseResult>? _release;
    private long _leaseEnd;
    private int _lostSignalled;
    private int _renewalCount;

    /// <summary>A grant of <paramref name="name"/>; <paramref name="renewals"/> (the provider's scheduler) renews its lease, or, when null, the handle only watches the lease run out.</summary>
    public LockHandle(ILockBackend backend, TimeProvider time, ILogger logger, string name, string holder, long fencingToken, TimeSpan ttl, long leaseStart, RenewalScheduler? renewals)
    {
        _backend = backend;
        _time = time;
        _logger = logger;
        Name = name;
        _holder = holder;
        FencingToken = fencingToken;
        _ttl = ttl;
        _leaseTicks = ToTicks(ttl - DistributedLockDefaults.SafetyMargin(ttl));
        _leaseEnd = leaseStart + _leaseTicks;
        _renewalPeriodTicks = ToTicks(RenewalPeriod);
        _nextRenewal = leaseStart + _renewalPeriodTicks;
        _renewals = renewals;
        if (renewals is null)
        {
            _ = WatchLeaseAsync();
        }
        else
        {
            renewals.Add(this);
        }
    }

    public string Name { get; }

    public long FencingToken { get; }

    public CancellationToken LostToken => _lost.Token;

    /// <summary>The holder token written in the lock key (tests and logs).</summary>
    internal string Holder => _holder;

    /// <summary>How many background renewals succeeded (tests on a fake clock wait on it).</summary>
    internal int Renewals => Volatile.Read(ref _renewalCount);

    /// <summary>How often the lease is renewed: TTL / <see cref="DistributedLockDefaults.RenewalDivisor"/>.</summary>
    internal TimeSpan RenewalPeriod => _ttl / DistributedLockDefaults.RenewalDivisor;

    public async ValueTask<bool> ExtendAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _release) is not null || _lost.IsCancellationRequested)
        {
            return false;
        }

        long start = _time.GetTimestamp();
        bool renewed;
        try
        {
            renewed = await _backend.RenewAsync(Name, _holder, _ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (_backend.MeansLeaseLost(e))
        {
            SignalLost(LostToFailover(e));
            return false;
        }

        if (renewed)
        {
            ExtendLeaseFrom(start);
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
                _renewals?.Remove(this);
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

    /// <summary>A renewal sent at <paramref name="sent"/> succeeded: the lease runs from then (never shortened by a late answer).</summary>
    private void ExtendLeaseFrom(long sent)
    {
        long end = sent + _leaseTicks;
        long current = Interlocked.Read(ref _leaseEnd);
        while (end > current)
        {
            long seen = Interlocked.CompareExchange(ref _leaseEnd, end, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private static string LostToFailover(Exception error) =>
        "the server answered that it no longer takes writes (" + error.Message + "): it was demoted or lost its master, so another server may grant the lock";

    private TimeSpan LeaseLeft() => TimeSpan.FromTicks((long)((Interlocked.Read(ref _leaseEnd) - _time.GetTimestamp()) * (TimeSpan.TicksPerSecond / (double)_time.TimestampFrequency)));

    private long ToTicks(TimeSpan span) => (long)(span.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    // Release stops this watch by cancelling _stop. Its wait suppresses the cancellation instead of throwing it: a
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

    /// <summary>Called by the scheduler's timer: starts a renewal when one is due and none is running.</summary>
    internal void OnTick(long now)
    {
        if (now < Interlocked.Read(ref _nextRenewal) || _stop.IsCancellationRequested || Interlocked.CompareExchange(ref _renewing, 1, 0) != 0)
        {
            return;
        }

        // Fixed rate: the next renewal is due one period after this one starts, however long this one takes.
        Interlocked.Exchange(ref _nextRenewal, now + _renewalPeriodTicks);
        _ = RenewFromTickAsync();
    }

    private async Task RenewFromTickAsync()
    {
        CancellationToken stop = _stop.Token;
        try
        {
            if (!await RenewUntilLeaseEndsAsync(stop).ConfigureAwait(false))
            {
                _renewals?.Remove(this);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            Volatile.Write(ref _renewing, 0);
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
                    ExtendLeaseFrom(start);
                    Interlocked.Increment(ref _renewalCount);
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
            catch (Exception e) when (_backend.MeansLeaseLost(e))
            {
                SignalLost(LostToFailover(e));
                return false;
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

    /// <summary>Fires <see cref="LostToken"/> once (unless released first) and stops renewing.</summary>
    internal void SignalLost(string reason)
    {
        if (Volatile.Read(ref _release) is not null || Interlocked.Exchange(ref _lostSignalled, 1) == 1)
        {
            return;
        }

        _renewals?.Remove(this);
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
