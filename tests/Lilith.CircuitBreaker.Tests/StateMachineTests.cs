using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>Every transition and threshold of the breaker on a fake clock, process-local state.</summary>
public sealed class StateMachineTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Consecutive_failures_trip_at_the_threshold_and_a_success_resets_the_count()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureThreshold = 3 }, _time);
        await Calls.Fail(p);
        await Calls.Fail(p);
        await Calls.Succeed(p);
        await Calls.Fail(p);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Closed, c.State);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Open_rejects_on_the_outcome_path_with_retry_after_and_throws_on_the_throwing_path()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureThreshold = 1, BreakDuration = TimeSpan.FromSeconds(10) }, _time);
        await Calls.Fail(p);
        _time.Advance(TimeSpan.FromSeconds(4));
        bool ran = false;
        Outcome<int> outcome = await Calls.Run(p, () => { ran = true; return Outcome.FromResultAsValueTask(1); });
        Assert.False(ran);
        var broken = Assert.IsType<BrokenCircuitException>(outcome.Exception);
        Assert.Equal(TimeSpan.FromSeconds(6), broken.RetryAfter);
        Assert.Throws<BrokenCircuitException>(() => { _ = p.Execute<int>(static _ => 1, TestContext.Current.CancellationToken); });
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Failure_ratio_needs_minimum_throughput_within_the_window()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureRatio = 0.5, MinimumThroughput = 4, SamplingDuration = TimeSpan.FromSeconds(10) }, _time);
        await Calls.Fail(p);
        await Calls.Fail(p);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Closed, c.State);

        // The window slides: the three failures fall out, so two failures of four are needed again.
        _time.Advance(TimeSpan.FromSeconds(11));
        await Calls.Succeed(p);
        await Calls.Succeed(p);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Closed, c.State);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Half_open_closes_only_after_the_success_threshold_and_reopens_on_a_probe_failure()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureThreshold = 1, SuccessThreshold = 2, BreakDuration = TimeSpan.FromSeconds(5) }, _time);
        await Calls.Fail(p);
        _time.Advance(TimeSpan.FromSeconds(5));
        await Calls.Succeed(p);
        Assert.Equal(CircuitState.HalfOpen, c.State);
        await Calls.Succeed(p);
        Assert.Equal(CircuitState.Closed, c.State);

        await Calls.Fail(p);
        _time.Advance(TimeSpan.FromSeconds(5));
        await Calls.Succeed(p);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Half_open_admits_at_most_the_probe_limit_of_concurrent_calls()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureThreshold = 1, HalfOpenMaxProbes = 2, SuccessThreshold = 2, BreakDuration = TimeSpan.FromSeconds(1) }, _time);
        await Calls.Fail(p);
        _time.Advance(TimeSpan.FromSeconds(1));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int entered = 0;
        Task<Outcome<int>>[] calls = [.. Enumerable.Range(0, 8).Select(_ => Task.Run(async () => await Calls.Run(p, async () =>
        {
            Interlocked.Increment(ref entered);
            await gate.Task;
            return Outcome.FromResult(1);
        })))];
        await Calls.Until(() => calls.Count(t => t.IsCompleted) == 6, TimeSpan.FromSeconds(5), "six rejections");
        Assert.Equal(2, Volatile.Read(ref entered));
        Assert.All(calls.Where(t => t.IsCompleted), t => Assert.IsType<BrokenCircuitException>(t.Result.Exception));
        gate.SetResult();
        await Task.WhenAll(calls);
        Assert.Equal(CircuitState.Closed, c.State);
    }

    [Fact]
    public async Task Break_duration_grows_on_each_reopening_up_to_the_maximum_and_resets_after_a_close()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions
        {
            FailureThreshold = 1,
            BreakDuration = TimeSpan.FromSeconds(1),
            BreakDurationMultiplier = 2,
            MaxBreakDuration = TimeSpan.FromSeconds(5),
        }, _time);
        List<TimeSpan> breaks = [];
        await Calls.Fail(p);
        foreach (int _ in Enumerable.Range(0, 4))
        {
            var broken = (BrokenCircuitException)(await Calls.Succeed(p)).Exception!;
            breaks.Add(broken.RetryAfter!.Value);
            _time.Advance(broken.RetryAfter.Value);
            await Calls.Fail(p); // the probe fails: reopen with a longer break
        }

        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5)], breaks);
        c.Reset();
        await Calls.Fail(p);
        Assert.Equal(TimeSpan.FromSeconds(1), ((BrokenCircuitException)(await Calls.Succeed(p)).Exception!).RetryAfter);
    }

    [Fact]
    public async Task The_predicate_decides_which_exceptions_and_results_count_as_failures()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions
        {
            FailureThreshold = 2,
            ShouldHandle = new PredicateBuilder().Handle<TimeoutException>().HandleResult(r => r is -1),
        }, _time);
        await Calls.Fail(p, new InvalidOperationException());
        await Calls.Fail(p, new InvalidOperationException());
        await Calls.Fail(p, new OperationCanceledException());
        Assert.Equal(CircuitState.Closed, c.State);
        await Calls.Succeed(p, -1);
        await Calls.Fail(p, new TimeoutException());
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Default_predicate_ignores_cancellation_and_results()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { FailureThreshold = 1 }, _time);
        await Calls.Fail(p, new OperationCanceledException());
        await Calls.Succeed(p, -1);
        Assert.Equal(CircuitState.Closed, c.State);
        await Calls.Fail(p, new InvalidOperationException());
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task Isolate_rejects_until_reset_whatever_the_clock_says()
    {
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { BreakDuration = TimeSpan.FromSeconds(1) }, _time);
        c.Isolate();
        Assert.Equal(CircuitState.Isolated, c.State);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.IsType<IsolatedCircuitException>((await Calls.Succeed(p)).Exception);
        c.Reset();
        Assert.Equal(CircuitState.Closed, c.State);
        Assert.Equal(1, (await Calls.Succeed(p)).Result);
    }

    [Fact]
    public async Task Events_report_opened_half_opened_closed_and_rejected()
    {
        List<string> events = [];
        var options = new LilithCircuitBreakerOptions
        {
            Name = "orders",
            FailureThreshold = 1,
            BreakDuration = TimeSpan.FromSeconds(3),
            OnOpened = a => { events.Add($"opened {a.Name} {a.PreviousState} {a.BreakDuration.TotalSeconds} {a.Exception?.GetType().Name}"); return default; },
            OnHalfOpened = a => { events.Add("half-opened"); return default; },
            OnClosed = a => { events.Add($"closed manual={a.IsManual}"); return default; },
            OnRejected = a => { events.Add($"rejected {a.BreakDuration.TotalSeconds}"); return default; },
        };
        var (p, c) = Calls.Breaker(options, _time);
        await Calls.Fail(p);
        await Calls.Succeed(p);
        _time.Advance(TimeSpan.FromSeconds(3));
        await Calls.Succeed(p);
        c.Isolate();
        c.Reset();
        Assert.Equal(["opened orders Closed 3 TimeoutException", "rejected 3", "half-opened", "closed manual=False", "opened orders Closed 0 ", "closed manual=True"], events);
    }

    [Theory]
    [InlineData("FailureThreshold", "FailureThreshold: 0 is not valid; it must be at least 1.")]
    [InlineData("FailureRatio", "FailureRatio: 1.5 is not valid; it must be greater than 0 and at most 1")]
    [InlineData("BreakDurationMultiplier", "BreakDurationMultiplier: 0.5 is not valid; it must be at least 1")]
    [InlineData("MaxBreakDuration", "MaxBreakDuration: 00:00:01 is not valid; it must be at least BreakDuration (00:00:30).")]
    [InlineData("HalfOpenMaxProbes", "HalfOpenMaxProbes: 0 is not valid; it must be at least 1.")]
    [InlineData("SuccessThreshold", "SuccessThreshold: -1 is not valid; it must be at least 1.")]
    [InlineData("Name", "Name: The breaker name 'a{b}' contains '{'")]
    public void Invalid_options_are_refused_with_a_message_naming_option_and_value(string option, string message)
    {
        var o = new LilithCircuitBreakerOptions();
        switch (option)
        {
            case "FailureThreshold": o.FailureThreshold = 0; break;
            case "FailureRatio": o.FailureRatio = 1.5; break;
            case "BreakDurationMultiplier": o.BreakDurationMultiplier = 0.5; break;
            case "MaxBreakDuration": o.MaxBreakDuration = TimeSpan.FromSeconds(1); break;
            case "HalfOpenMaxProbes": o.HalfOpenMaxProbes = 0; break;
            case "SuccessThreshold": o.SuccessThreshold = -1; break;
            case "Name": o.Name = "a{b}"; break;
        }

        var e = Assert.Throws<ArgumentException>(() => new ResiliencePipelineBuilder().AddLilithCircuitBreaker(o));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
