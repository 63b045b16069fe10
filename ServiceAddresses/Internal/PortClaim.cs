using Microsoft.Extensions.Logging;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>How claims of one store behave: their TTL, whether they renew themselves, and the clock they do it on.</summary>
/// <param name="Ttl">How long a claim lasts unless renewed.</param>
/// <param name="AutoRenew">Whether a claim renews itself every third of <paramref name="Ttl"/> until disposed.</param>
/// <param name="Time">The clock for the renewal period and for deciding that an unrenewable claim has run out.</param>
internal sealed record ClaimPolicy(TimeSpan Ttl, bool AutoRenew, TimeProvider Time);

/// <summary>
/// What both stores' claims share: the <see cref="IPortClaim.Lost"/> signal, the renewal loop, and release on
/// dispose. A store supplies the two operations on its own data.
/// </summary>
internal abstract partial class PortClaim : IPortClaim
{
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
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

    public async ValueTask<bool> RenewAsync(CancellationToken cancellationToken = default)
    {
        bool renewed = await RenewCoreAsync(cancellationToken).ConfigureAwait(false);
        if (!renewed)
        {
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
        await ReleaseCoreAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Starts renewing every third of the TTL when the policy says so; called once, right after the claim is made.</summary>
    internal PortClaim Start(ClaimPolicy policy)
    {
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

    private async Task RenewLoopAsync(ClaimPolicy policy)
    {
        TimeSpan period = policy.Ttl / 3;
        long lastRenewed = policy.Time.GetTimestamp();
        CancellationToken stop = _stop.Token;
        while (true)
        {
            try
            {
                await Task.Delay(period, policy.Time, stop).ConfigureAwait(false);
                if (await RenewAsync(stop).ConfigureAwait(false))
                {
                    lastRenewed = policy.Time.GetTimestamp();
                    continue;
                }

                return; // lost: RenewAsync signalled it
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return; // disposed
            }
            catch (Exception e)
            {
                // The store is unreachable (or answered oddly): keep trying while the claim can still be alive.
                if (policy.Time.GetElapsedTime(lastRenewed) >= policy.Ttl)
                {
                    Log.RenewalGaveUp(_logger, Describe, policy.Ttl, e.Message);
                    MarkLost();
                    return;
                }

                Log.RenewalFailed(_logger, Describe, e.Message);
            }
        }
    }

    private void MarkLost()
    {
        if (Volatile.Read(ref _disposed) == 1 || _lost.IsCancellationRequested)
        {
            return; // a released claim is not "lost", and the signal fires once
        }

        Log.ClaimLost(_logger, Describe);
        _lost.Cancel();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The port claim {Claim} was lost (expired or taken) before it was renewed")]
        public static partial void ClaimLost(ILogger logger, string claim);

        [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Renewing the port claim {Claim} failed; retrying while its TTL lasts: {Reason}")]
        public static partial void RenewalFailed(ILogger logger, string claim, string reason);

        [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "The port claim {Claim} could not be renewed within its TTL ({Ttl}) and counts as lost: {Reason}")]
        public static partial void RenewalGaveUp(ILogger logger, string claim, TimeSpan ttl, string reason);
    }
}
