using Microsoft.Extensions.Logging;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>What the fleet link asks of the breaker it serves.</summary>
internal interface IFleetMember
{
    string Name { get; }

    /// <summary>A state another instance wrote (announced or found by a read).</summary>
    void ApplyRemote(BreakerStateSnapshot snapshot);

    /// <summary>A state this instance wrote, as the store stamped it.</summary>
    void OnOwnWritten(BreakerStateSnapshot written);

    /// <summary>This instance's trip completed the quorum and the store wrote <paramref name="opened"/>.</summary>
    void OnQuorumOpened(BreakerStateSnapshot opened);

    /// <summary>True while this instance holds the probe lease and is half-open.</summary>
    bool HoldsProbe { get; }

    /// <summary>What to send again after a failed write, once the store is back.</summary>
    (BreakerStateSnapshot Snapshot, bool IsTripReport) Current();
}

/// <summary>
/// The breaker's link to its shared state: a background writer (latest state wins) that also carries quorum
/// reports, the periodic quorum alive report, the renewal of the probe lease, and resync on (re)connection.
/// Nothing here runs on a protected call's path, and no store error leaves it.
/// </summary>
internal sealed partial class BreakerFleetLink : IDisposable
{
    private readonly IFleetMember _member;
    private readonly IBreakerStateStore _store;
    private readonly BreakerQuorum? _quorum;
    private readonly TimeSpan _probeLease;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IDisposable _subscription;
    private readonly ITimer? _aliveTimer;
    private readonly object _writeLock = new();
    private BreakerStateSnapshot? _pendingWrite;
    private bool _pendingRelease;
    private (BreakerReportKind Kind, BreakerStateSnapshot? Opening)? _pendingReport;
    private bool _writerRunning;
    private ITimer? _renewTimer;
    private volatile bool _dirty;

    public BreakerFleetLink(IFleetMember member, IBreakerStateStore store, BreakerQuorum? quorum, TimeSpan probeLease, TimeProvider time, ILogger logger)
    {
        _member = member;
        _store = store;
        _quorum = quorum;
        _probeLease = probeLease;
        _time = time;
        _logger = logger;
        _subscription = store.Subscribe(member.Name, member.ApplyRemote);
        store.Reconnected += OnStoreReconnected;
        _ = ResyncAsync();
        if (quorum is { Fraction: not null })
        {
            // Counted among the instances that reported recently: report at start and every third of the window.
            Report(BreakerReportKind.Alive, null);
            TimeSpan period = quorum.Window / 3;
            _aliveTimer = time.CreateTimer(static s => ((BreakerFleetLink)s!).Report(BreakerReportKind.Alive, null), this, period, period);
        }
    }

    public string InstanceId => _store.InstanceId;

    /// <summary>Queues a write of the shared state (a queued, unsent write is replaced).</summary>
    public void Write(BreakerStateSnapshot snapshot, bool releaseProbe) => Enqueue(snapshot, releaseProbe, null);

    /// <summary>Queues a quorum report (a queued trip or recovery is replaced by a newer one; an alive report never replaces them).</summary>
    public void Report(BreakerReportKind kind, BreakerStateSnapshot? opening) => Enqueue(null, false, (kind, opening));

    /// <summary>Asks the store for the probe lease; a store error lets this instance decide alone.</summary>
    public ValueTask<bool> TryAcquireProbe()
    {
        try
        {
            return _store.TryAcquireProbeAsync(_member.Name, _probeLease, CancellationToken.None);
        }
        catch (Exception e)
        {
            LogStoreFailed(_member.Name, "probe", e);
            return new ValueTask<bool>(true);
        }
    }

    /// <summary>Logs a failed probe-lease request (the caller then probes on its own).</summary>
    public void ProbeFailed(Exception e) => LogStoreFailed(_member.Name, "probe", e);

    /// <summary>Renews the probe lease every third of it while this instance holds it and is half-open.</summary>
    public void StartProbeRenewal()
    {
        TimeSpan period = _probeLease / 3;
        ITimer timer = _time.CreateTimer(static s => ((BreakerFleetLink)s!).RenewProbe(), this, period, period);
        Interlocked.Exchange(ref _renewTimer, timer)?.Dispose();
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _store.Reconnected -= OnStoreReconnected;
        _aliveTimer?.Dispose();
        Interlocked.Exchange(ref _renewTimer, null)?.Dispose();
    }

    private void RenewProbe()
    {
        if (!_member.HoldsProbe)
        {
            Interlocked.Exchange(ref _renewTimer, null)?.Dispose();
            return;
        }

        _ = RenewProbeAsync();
    }

    private async Task RenewProbeAsync()
    {
        try
        {
            if (!await _store.RenewProbeAsync(_member.Name, _probeLease, CancellationToken.None).ConfigureAwait(false) && _member.HoldsProbe)
            {
                LogProbeLost(_member.Name);
            }
        }
        catch (Exception e)
        {
            LogStoreFailed(_member.Name, "probe renewal", e);
        }
    }

    private void Enqueue(BreakerStateSnapshot? snapshot, bool releaseProbe, (BreakerReportKind Kind, BreakerStateSnapshot? Opening)? report)
    {
        lock (_writeLock)
        {
            if (snapshot is not null)
            {
                _pendingWrite = snapshot;
                _pendingRelease |= releaseProbe;
            }

            if (report is { } r && (r.Kind != BreakerReportKind.Alive || _pendingReport is null))
            {
                _pendingReport = r;
            }

            if (_writerRunning)
            {
                return;
            }

            _writerRunning = true;
        }

        // Started on this thread, so the write leaves for Redis at once (the fleet sees the change sooner);
        // the loop yields at the first write that does not complete synchronously.
        _ = WriterLoopAsync();
    }

    private async Task WriterLoopAsync()
    {
        while (true)
        {
            BreakerStateSnapshot? snapshot;
            bool release;
            (BreakerReportKind Kind, BreakerStateSnapshot? Opening)? report;
            lock (_writeLock)
            {
                if (_pendingWrite is null && _pendingReport is null)
                {
                    _writerRunning = false;
                    return;
                }

                snapshot = _pendingWrite;
                release = _pendingRelease;
                report = _pendingReport;
                _pendingWrite = null;
                _pendingRelease = false;
                _pendingReport = null;
            }

            if (report is { } r)
            {
                await SendReportAsync(r.Kind, r.Opening).ConfigureAwait(false);
            }

            if (snapshot is not null)
            {
                try
                {
                    BreakerStateSnapshot written = await _store.WriteAsync(snapshot, release, CancellationToken.None).ConfigureAwait(false);
                    _dirty = false;
                    _member.OnOwnWritten(written);
                }
                catch (Exception e)
                {
                    _dirty = true;
                    LogStoreFailed(_member.Name, "write", e);
                }
            }
        }
    }

    private async Task SendReportAsync(BreakerReportKind kind, BreakerStateSnapshot? opening)
    {
        try
        {
            BreakerQuorumResult result = await _store.ReportAsync(_member.Name, kind, _quorum!, opening, CancellationToken.None).ConfigureAwait(false);
            if (kind != BreakerReportKind.Alive)
            {
                _dirty = false;
            }

            if (result.Opened && opening is not null)
            {
                _member.OnQuorumOpened(opening with { Instance = _store.InstanceId, ChangedAt = result.ReportedAt, RetryAfter = opening.BreakDuration });
            }
            else if (kind == BreakerReportKind.Trip)
            {
                LogTripCounted(_member.Name, result.Trips, result.Required);
            }
        }
        catch (Exception e)
        {
            if (kind != BreakerReportKind.Alive)
            {
                _dirty = true;
            }

            LogStoreFailed(_member.Name, "report", e);
        }
    }

    private void OnStoreReconnected()
    {
        if (_dirty)
        {
            (BreakerStateSnapshot current, bool trip) = _member.Current();
            if (trip)
            {
                Report(BreakerReportKind.Trip, current);
            }
            else
            {
                Write(current, releaseProbe: false);
            }
        }
    }

    private async Task ResyncAsync()
    {
        try
        {
            if (await _store.ReadAsync(_member.Name, CancellationToken.None).ConfigureAwait(false) is { } s && s.Instance != _store.InstanceId)
            {
                _member.ApplyRemote(s);
            }
        }
        catch (Exception e)
        {
            LogStoreFailed(_member.Name, "read", e);
        }
    }

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Circuit breaker '{Breaker}': shared-state {Operation} failed, going on with local state")]
    private partial void LogStoreFailed(string breaker, string operation, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Circuit breaker '{Breaker}' tripped on this instance only: {Trips} of the {Required} trips the fleet quorum needs")]
    private partial void LogTripCounted(string breaker, int trips, int required);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Circuit breaker '{Breaker}': the probe lease could not be renewed; it is no longer held by this instance")]
    private partial void LogProbeLost(string breaker);
}
