using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>How a call got through the breaker.</summary>
internal enum Admission
{
    Rejected = 0,
    Allowed = 1,
    Probe = 2,

    /// <summary>This call started taking the fleet-wide probe lease; await <see cref="BreakerController.AcquireAndEnterAsync"/>.</summary>
    Acquiring = 3,
}

/// <summary>What a local transition tells the fleet.</summary>
internal enum FleetAction
{
    None = 0,

    /// <summary>Write the new state as the shared state.</summary>
    Write = 1,

    /// <summary>Report a trip to the quorum (the state stays this instance's own unless the quorum is reached).</summary>
    ReportTrip = 2,

    /// <summary>Report that this instance's own breaker closed again.</summary>
    ReportRecover = 3,
}

/// <summary>
/// The state machine of one breaker. The closed path reads one volatile field before the call and, after a
/// success, writes the failure counter only when it is not already zero; everything else runs under a lock.
/// Everything shared goes through <see cref="BreakerFleetLink"/>, never on the caller's path.
/// </summary>
internal sealed partial class BreakerController : ICircuitBreaker, IFleetMember, IDisposable
{
    private static readonly TimeSpan ProbeRetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long the call that found the break over waits for the probe lease before giving up (rejected).</summary>
    private static readonly TimeSpan ProbeAcquireWait = TimeSpan.FromMilliseconds(250);

    private readonly LilithCircuitBreakerOptions _options;
    private readonly TimeProvider _time;
    private readonly BreakerFleetLink? _link;
    private readonly bool _quorum;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly HealthWindow? _window;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly string _openMessage;
    private readonly string _halfOpenMessage;
    private readonly string _isolatedMessage;
    private int _state;
    private int _consecutiveFailures;
    private DateTimeOffset _blockedUntil;
    private int _opens;
    private int _probesInFlight;
    private int _probeSuccesses;
    private bool _acquiringProbe;
    private bool _ownsProbe;
    private Task _acquiring = Task.CompletedTask;

    /// <summary>With a quorum: true while the open (or half-open) state is the fleet's, false while it is this instance's own.</summary>
    private bool _fleetOpen;

    /// <summary>The newest shared state applied or written.</summary>
    private readonly SharedStateOrder _applied = new();

    public BreakerController(LilithCircuitBreakerOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        Name = options.Name ?? "default";
        _nameTag = new("lilith.circuit_breaker.name", Name);
        _openMessage = $"The circuit breaker '{Name}' is open; calls are rejected until RetryAfter has passed.";
        _halfOpenMessage = $"The circuit breaker '{Name}' is half-open and its probe calls are under way; calls are rejected meanwhile.";
        _isolatedMessage = $"The circuit breaker '{Name}' is isolated; calls are rejected until it is reset.";
        if (options.FailureRatio is not null)
        {
            _window = new HealthWindow(options.SamplingDuration);
        }

        if (options.StateStore is { } store)
        {
            BreakerQuorum? quorum = BreakerQuorumRule.Of(options);
            _quorum = quorum is not null;
            _link = new BreakerFleetLink(this, store, quorum, options.ProbeLease, time, logger);
        }
    }

    public string Name { get; }

    public CircuitState State => (CircuitState)Volatile.Read(ref _state);

    bool IFleetMember.HoldsProbe
    {
        get
        {
            lock (_lock)
            {
                return _ownsProbe && _state == (int)CircuitState.HalfOpen;
            }
        }
    }

    /// <summary>Whether the current open state is shared with the fleet (always, without a quorum).</summary>
    private bool SharedOpenLocked => !_quorum || _fleetOpen;

    /// <summary>Decides whether a call may run. The closed path takes no lock.</summary>
    public Admission Enter(out TimeSpan retryAfter, out bool isolated)
    {
        retryAfter = TimeSpan.Zero;
        isolated = false;
        return Volatile.Read(ref _state) == (int)CircuitState.Closed ? Admission.Allowed : EnterSlow(out retryAfter, out isolated);
    }

    /// <summary>Counts the outcome of an admitted call.</summary>
    public void Exit(Admission admission, bool failure, Exception? exception)
    {
        if (admission == Admission.Allowed && !failure)
        {
            if (_window is null)
            {
                if (Volatile.Read(ref _consecutiveFailures) != 0)
                {
                    Interlocked.Exchange(ref _consecutiveFailures, 0);
                }

                return;
            }

            lock (_lock)
            {
                _window.Record(false, _time.GetUtcNow());
            }

            return;
        }

        Transition t = default;
        lock (_lock)
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (admission == Admission.Allowed)
            {
                if (_state == (int)CircuitState.Closed && ShouldTrip(now))
                {
                    t = OpenLocked(now, exception);
                }
            }
            else if (_state == (int)CircuitState.HalfOpen)
            {
                _probesInFlight--;
                if (failure)
                {
                    t = OpenLocked(now, exception);
                }
                else if (++_probeSuccesses >= _options.SuccessThreshold)
                {
                    t = CloseLocked(CircuitState.HalfOpen, manual: false);
                }
            }
        }

        Raise(t);
    }

    /// <summary>The exception a rejected call completes with (not thrown on the outcome path).</summary>
    public Exception CreateRejection(TimeSpan retryAfter, bool isolated)
    {
        CircuitState state = State;
        BreakerTelemetry.Rejections.Add(1, _nameTag);
        if (_options.OnRejected is { } onRejected)
        {
            Observe(onRejected(new CircuitBreakerEventArguments(Name, state, state, retryAfter, false, false, null)));
        }

        // Messages are built once per breaker: a rejection allocates only its exception.
        return isolated
            ? new IsolatedCircuitException(_isolatedMessage)
            : new BrokenCircuitException(state == CircuitState.HalfOpen ? _halfOpenMessage : _openMessage, retryAfter);
    }

    public void Isolate()
    {
        Transition t;
        lock (_lock)
        {
            CircuitState from = (CircuitState)_state;
            _fleetOpen = true;
            Volatile.Write(ref _state, (int)CircuitState.Isolated);
            t = new Transition(from, CircuitState.Isolated, TimeSpan.Zero, Manual: true, Remote: false, null, ReleaseProbe: TakeProbeLocked(), FleetAction.Write);
        }

        Raise(t);
    }

    public void Reset()
    {
        Transition t;
        lock (_lock)
        {
            t = CloseLocked((CircuitState)_state, manual: true);
        }

        Raise(t);
    }

    public void Dispose() => _link?.Dispose();

    private Admission EnterSlow(out TimeSpan retryAfter, out bool isolated)
    {
        for (int pass = 0; ; pass++)
        {
            Transition t = default;
            bool acquire = false;
            Admission admission;
            lock (_lock)
            {
                admission = DecideLocked(_time.GetUtcNow(), ref t, out acquire, out retryAfter, out isolated);
            }

            Raise(t);
            if (!acquire)
            {
                return admission;
            }

            ValueTask<bool> acquiring = _link!.TryAcquireProbe();
            if (!acquiring.IsCompleted)
            {
                Volatile.Write(ref _acquiring, CompleteAcquireAsync(acquiring));
                return Admission.Acquiring;
            }

            bool acquired;
            try
            {
                acquired = acquiring.GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                _link.ProbeFailed(e);
                acquired = true;
            }

            OnProbeAcquired(acquired);
            if (pass > 0)
            {
                return admission;
            }
        }
    }

    /// <summary>
    /// For the one call that started taking the probe lease: waits (briefly) for the answer from the store,
    /// then decides again, so that call becomes the probe when this instance won the lease.
    /// </summary>
    public async ValueTask<(Admission Admission, TimeSpan RetryAfter, bool Isolated)> AcquireAndEnterAsync(bool continueOnCapturedContext)
    {
        Task acquiring = Volatile.Read(ref _acquiring);
        await Task.WhenAny(acquiring, Task.Delay(ProbeAcquireWait, TimeProvider.System, CancellationToken.None)).ConfigureAwait(continueOnCapturedContext);
        Admission admission = Enter(out TimeSpan retryAfter, out bool isolated);
        return (admission == Admission.Acquiring ? Admission.Rejected : admission, retryAfter, isolated);
    }

    private Admission DecideLocked(DateTimeOffset now, ref Transition t, out bool acquire, out TimeSpan retryAfter, out bool isolated)
    {
        acquire = false;
        retryAfter = TimeSpan.Zero;
        isolated = false;
        switch ((CircuitState)_state)
        {
            case CircuitState.Closed:
                return Admission.Allowed;
            case CircuitState.Isolated:
                isolated = true;
                return Admission.Rejected;
            case CircuitState.Open:
                if (now < _blockedUntil)
                {
                    retryAfter = _blockedUntil - now;
                    return Admission.Rejected;
                }

                // The fleet's open state has one prober in the fleet; this instance's own open state probes alone.
                if (_link is not null && SharedOpenLocked)
                {
                    if (!_acquiringProbe)
                    {
                        _acquiringProbe = true;
                        acquire = true;
                    }

                    return Admission.Rejected;
                }

                t = HalfOpenLocked();
                goto case CircuitState.HalfOpen;
            case CircuitState.HalfOpen:
                if (_probesInFlight < _options.HalfOpenMaxProbes)
                {
                    _probesInFlight++;
                    return Admission.Probe;
                }

                return Admission.Rejected;
            default:
                throw new UnreachableException();
        }
    }

    private async Task CompleteAcquireAsync(ValueTask<bool> acquiring)
    {
        bool acquired;
        try
        {
            acquired = await acquiring.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _link!.ProbeFailed(e);
            acquired = true;
        }

        OnProbeAcquired(acquired);
    }

    private void OnProbeAcquired(bool acquired)
    {
        Transition t = default;
        lock (_lock)
        {
            _acquiringProbe = false;
            if (_state != (int)CircuitState.Open)
            {
                return;
            }

            if (acquired)
            {
                _ownsProbe = true;
                t = HalfOpenLocked();
            }
            else
            {
                TimeSpan wait = ProbeRetryInterval < _options.ProbeLease ? ProbeRetryInterval : _options.ProbeLease;
                _blockedUntil = _time.GetUtcNow() + wait;
            }
        }

        if (acquired)
        {
            _link!.StartProbeRenewal();
        }

        Raise(t);
    }

    private bool ShouldTrip(DateTimeOffset now)
    {
        if (_window is null)
        {
            return Interlocked.Increment(ref _consecutiveFailures) >= _options.FailureThreshold;
        }

        _window.Record(true, now);
        (int total, int failures) = _window.Totals(now);
        return total >= _options.MinimumThroughput && failures >= _options.FailureRatio!.Value * total;
    }

    private TimeSpan NextBreak()
    {
        double ms = _options.BreakDuration.TotalMilliseconds * Math.Pow(_options.BreakDurationMultiplier, Math.Max(0, _opens - 1));
        return ms >= _options.MaxBreakDuration.TotalMilliseconds ? _options.MaxBreakDuration : TimeSpan.FromMilliseconds(ms);
    }

    private Transition OpenLocked(DateTimeOffset now, Exception? exception)
    {
        CircuitState from = (CircuitState)_state;
        _opens++;
        TimeSpan duration = NextBreak();
        _blockedUntil = now + duration;
        Volatile.Write(ref _state, (int)CircuitState.Open);

        // A failed fleet probe reopens the fleet; any other trip under a quorum is this instance's own until the quorum is reached.
        FleetAction action = SharedOpenLocked ? FleetAction.Write : FleetAction.ReportTrip;
        return new Transition(from, CircuitState.Open, duration, Manual: false, Remote: false, exception, ReleaseProbe: TakeProbeLocked(), action);
    }

    private Transition HalfOpenLocked()
    {
        _probesInFlight = 0;
        _probeSuccesses = 0;
        Volatile.Write(ref _state, (int)CircuitState.HalfOpen);
        return new Transition(CircuitState.Open, CircuitState.HalfOpen, TimeSpan.Zero, Manual: false, Remote: false, null, ReleaseProbe: false,
            SharedOpenLocked ? FleetAction.Write : FleetAction.None);
    }

    private Transition CloseLocked(CircuitState from, bool manual)
    {
        FleetAction action = manual || SharedOpenLocked ? FleetAction.Write : FleetAction.ReportRecover;
        _opens = 0;
        _fleetOpen = false;
        Interlocked.Exchange(ref _consecutiveFailures, 0);
        _window?.Clear();
        Volatile.Write(ref _state, (int)CircuitState.Closed);
        return new Transition(from, CircuitState.Closed, TimeSpan.Zero, manual, Remote: false, null, ReleaseProbe: TakeProbeLocked(), action);
    }

    private bool TakeProbeLocked()
    {
        bool owned = _ownsProbe;
        _ownsProbe = false;
        return owned;
    }

    void IFleetMember.OnOwnWritten(BreakerStateSnapshot written)
    {
        lock (_lock)
        {
            _applied.Advance(written);
        }
    }

    void IFleetMember.OnQuorumOpened(BreakerStateSnapshot opened)
    {
        lock (_lock)
        {
            if (_state == (int)CircuitState.Open)
            {
                // Still open on its own: that open state, with its break, is now the fleet's.
                _applied.Advance(opened);
                _fleetOpen = true;
                return;
            }
        }

        // It closed or went half-open meanwhile: follow the fleet's open state like any other.
        ApplyRemote(opened);
    }

    (BreakerStateSnapshot Snapshot, bool IsTripReport) IFleetMember.Current()
    {
        lock (_lock)
        {
            TimeSpan left = _state == (int)CircuitState.Open ? _blockedUntil - _time.GetUtcNow() : TimeSpan.Zero;
            var current = new BreakerStateSnapshot(Name, (CircuitState)_state, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), _opens, _link!.InstanceId, 0);
            return (current, _quorum && !_fleetOpen && _state == (int)CircuitState.Open);
        }
    }

    public void ApplyRemote(BreakerStateSnapshot s)
    {
        Transition t = default;
        lock (_lock)
        {
            if (!_applied.Advance(s))
            {
                return;
            }

            CircuitState from = (CircuitState)_state;
            DateTimeOffset now = _time.GetUtcNow();
            switch (s.State)
            {
                case CircuitState.Open:
                case CircuitState.HalfOpen:
                    // Another instance holds the probe while half-open: stay open here for its lease.
                    TimeSpan wait = s.State == CircuitState.Open ? s.RetryAfter : _options.ProbeLease;
                    _blockedUntil = now + wait;
                    _opens = Math.Max(s.Opens, 1);
                    _ownsProbe = false;
                    _fleetOpen = true;
                    Volatile.Write(ref _state, (int)CircuitState.Open);
                    if (from != CircuitState.Open)
                    {
                        t = new Transition(from, CircuitState.Open, wait, Manual: false, Remote: true, null, false, FleetAction.None);
                    }

                    break;
                case CircuitState.Closed:
                    // A fleet close does not end this instance's own open state: it probes its own way back.
                    if (from != CircuitState.Closed && SharedOpenLocked)
                    {
                        t = CloseLocked(from, manual: false) with { Remote = true, ReleaseProbe = false };
                    }

                    break;
                case CircuitState.Isolated:
                    _fleetOpen = true;
                    Volatile.Write(ref _state, (int)CircuitState.Isolated);
                    if (from != CircuitState.Isolated)
                    {
                        t = new Transition(from, CircuitState.Isolated, TimeSpan.Zero, Manual: true, Remote: true, null, false, FleetAction.None);
                    }

                    break;
            }
        }

        Raise(t);
    }

    private void Raise(in Transition t)
    {
        if (t.From == t.To)
        {
            return;
        }

        BreakerTelemetry.Transitions.Add(1, _nameTag, new("lilith.circuit_breaker.state", BreakerStatePayload.StateName(t.To)));
        LogTransition(Name, t.From, t.To, t.Remote);
        if (!t.Remote && _link is not null)
        {
            var snapshot = new BreakerStateSnapshot(Name, t.To, t.To == CircuitState.Open ? t.BreakDuration : TimeSpan.Zero, Volatile.Read(ref _opens), _link.InstanceId, 0);
            switch (t.Fleet)
            {
                case FleetAction.Write:
                    _link.Write(snapshot, t.ReleaseProbe);
                    break;
                case FleetAction.ReportTrip:
                    _link.Report(BreakerReportKind.Trip, snapshot);
                    break;
                case FleetAction.ReportRecover:
                    _link.Report(BreakerReportKind.Recover, null);
                    break;
            }
        }

        Func<CircuitBreakerEventArguments, ValueTask>? handler = t.To switch
        {
            CircuitState.Open or CircuitState.Isolated => _options.OnOpened,
            CircuitState.HalfOpen => _options.OnHalfOpened,
            _ => _options.OnClosed,
        };
        if (handler is not null)
        {
            try
            {
                Observe(handler(new CircuitBreakerEventArguments(Name, t.From, t.To, t.BreakDuration, t.Manual, t.Remote, t.Exception)));
            }
            catch (Exception e)
            {
                LogHandlerFailed(Name, e);
            }
        }
    }

    private void Observe(ValueTask pending)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogHandlerFailed(Name, e);
        }
    }

    private readonly record struct Transition(CircuitState From, CircuitState To, TimeSpan BreakDuration, bool Manual, bool Remote, Exception? Exception, bool ReleaseProbe, FleetAction Fleet);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Circuit breaker '{Breaker}' went from {From} to {To} (remote: {Remote})")]
    private partial void LogTransition(string breaker, CircuitState from, CircuitState to, bool remote);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "An event handler of circuit breaker '{Breaker}' failed")]
    private partial void LogHandlerFailed(string breaker, Exception exception);
}
