using Microsoft.Extensions.Logging;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>How claims of one store behave: their TTL, whether they renew themselves, and the clock they do it on.</summary>
/// <param name="Ttl">How long a claim lasts unless renewed.</param>
/// <param name="AutoRenew">Whether a claim renews itself every third of <paramref name="Ttl"/> until disposed.</param>
/// <param name="Time">The clock for the renewal period and for deciding that an unrenewable claim has run out.</param>
internal sealed record ClaimPolicy(TimeSpan Ttl, bool AutoRenew, TimeProvider Time)
{
    /// <summary>
    /// How long before the end of its TTL in Redis a claim counts as lost in its holder's view: a tenth of the TTL. It
    /// covers a late timer on a busy machine and drift between the host's clock and Redis's.
    /// </summary>
    public TimeSpan SafetyMargin => Ttl / 10;
}

/// <summary>
/// What both stores' claims share: the <see cref="IPortClaim.Lost"/> signal, the renewal loop, and release on
/// dispose. A store supplies the two operations on its own data.
/// </summary>
/// <remarks>
/// In its holder's view a claim ends <see cref="ClaimPolicy.SafetyMargin"/> before its TTL can end in Redis, counted from
/// when its last successful claim or renewal was <em>sent</em> (Redis starts the TTL later than that). A timer fires
/// <see cref="IPortClaim.Lost"/> at that moment whatever a renewal in flight is doing, and every renewal is cancelled
/// when the time left runs out, so nothing delays the signal until after another process could take the port.
/// </remarks>
internal abstract partial class PortClaim : IPortClaim
{
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _leaseGate = new();
    private readonly ILogger _logger;
    private ClaimPolicy? _policy;
    private ITimer? _leaseTimer;
    private long _leaseSentAt;
    private Task _renewal = Task.CompletedTask;
    private int _disposed;

    protected PortClaim(string environment, string host, int port, string service, ILogger logger)
    {
        Environment = environment;
        Host = host;
        Port = port;
        Service = service;
        _logger = logger;
    }

    public string Environment { get; }

    public string Host { get; }

    public int Port { get; }

    public string Service { get; }

    public CancellationToken Lost => _lost.Token;

    /// <summary>What this claim is called in log lines.</summary>
    protected abstract string Describe { get; }

    private ClaimPolicy Policy => _policy ?? throw new InvalidOperationException("The claim was not started.");

    public async ValueTask<bool> RenewAsync(CancellationToken cancellationToken = default)
    {
        long sentAt = Policy.Time.GetTimestamp();
        bool renewed = await RenewCoreAsync(cancellationToken).ConfigureAwait(false);
        if (renewed)
        {
            ExtendLease(sentAt);
        }
        else
        {
            Log.ClaimLost(_logger, Describe);
            MarkLost();
        }

        return renewed;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stop.Cancel();
        await _renewal.ConfigureAwait(false);
        lock (_leaseGate)
        {
            _leaseTimer?.Dispose();
        }

        await ReleaseCoreAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>
    /// Starts the lease clock at <paramref name="sentAt"/> (a <see cref="ClaimPolicy.Time"/> timestamp taken before the
    /// claim was sent) and, when the policy says so, renews every third of the TTL; called once, right after the claim is made.
    /// </summary>
    internal PortClaim Start(ClaimPolicy policy, long sentAt)
    {
        _policy = policy;
        lock (_leaseGate)
        {
            _leaseTimer = policy.Time.CreateTimer(_ => LeaseRanOut(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        ExtendLease(sentAt);
        if (policy.AutoRenew)
        {
            _renewal = RenewLoopAsync(policy);
        }

        return this;
    }

    /// <summary>Extends the claim by its TTL if it is still this claim; false when it is gone or someone else's.</summary>
    protected abstract ValueTask<bool> RenewCoreAsync(CancellationToken cancellationToken);

    /// <summary>Removes the claim if it is still this claim; never throws for an unreachable store.</summary>
    protected abstract ValueTask ReleaseCoreAsync();

    /// <summary>How long the claim still holds in its holder's view, counted from the last successful send.</summary>
    private TimeSpan LeaseLeft()
    {
        ClaimPolicy policy = Policy;
        return policy.Ttl - policy.SafetyMargin - policy.Time.GetElapsedTime(Volatile.Read(ref _leaseSentAt));
    }

    private void ExtendLease(long sentAt)
    {
        lock (_leaseGate)
        {
            // Replies can come back out of order; only a later send moves the end.
            if (_lost.IsCancellationRequested || (_leaseSentAt != 0 && sentAt <= _leaseSentAt))
            {
                return;
            }

            Volatile.Write(ref _leaseSentAt, sentAt);
            TimeSpan left = LeaseLeft();
            _leaseTimer?.Change(left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private void LeaseRanOut()
    {
        if (Volatile.Read(ref _disposed) == 0 && !_lost.IsCancellationRequested)
        {
            Log.LeaseRanOut(_logger, Describe, Policy.Ttl, Policy.SafetyMargin);
        }

        MarkLost();
    }

    private async Task RenewLoopAsync(ClaimPolicy policy)
    {
        TimeSpan period = policy.Ttl / 3;
        TimeSpan wait = period;
        CancellationToken stop = _stop.Token;
        while (!_lost.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, policy.Time, stop).ConfigureAwait(false);
                TimeSpan left = LeaseLeft();
                if (left <= TimeSpan.Zero)
                {
                    return; // the lease timer fires Lost
                }

                // A renewal that has not answered when the lease ends can no longer help: it must not hold the loop.
                using var bound = new CancellationTokenSource(left, policy.Time);
                using var both = CancellationTokenSource.CreateLinkedTokenSource(stop, bound.Token, _lost.Token);
                if (!await RenewAsync(both.Token).ConfigureAwait(false))
                {
                    return; // lost: RenewAsync signalled it
                }

                wait = period;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested || _lost.IsCancellationRequested)
            {
                return; // disposed, or the lease ran out while the renewal was in flight
            }
            catch (Exception e)
            {
                // The store is unreachable, slow or answered oddly: try again sooner while the claim can still be alive.
                Log.RenewalFailed(_logger, e, Describe);
                wait = period / 4;
            }
        }
    }

    private void MarkLost()
    {
        if (Volatile.Read(ref _disposed) == 1 || _lost.IsCancellationRequested)
        {
            return; // a released claim is not "lost", and the signal fires once
        }

        _lost.Cancel();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The port claim {Claim} was lost (expired or taken) before it was renewed")]
        public static partial void ClaimLost(ILogger logger, string claim);

        [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Renewing the port claim {Claim} failed; retrying while its TTL lasts")]
        public static partial void RenewalFailed(ILogger logger, Exception exception, string claim);

        [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "The port claim {Claim} was not renewed within its TTL ({Ttl}, less a safety margin of {Margin}) and counts as lost")]
        public static partial void LeaseRanOut(ILogger logger, string claim, TimeSpan ttl, TimeSpan margin);
    }
}
