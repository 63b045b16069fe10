using System.Net;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>The retry presets and the backoff kinds the TypeScript and Python siblings offer.</summary>
public sealed class RetryPresetsTests
{
    [Theory]
    [InlineData(DelayBackoffType.Constant, new[] { 4, 4, 4 })]
    [InlineData(DelayBackoffType.Linear, new[] { 4, 8, 12 })]
    [InlineData(DelayBackoffType.Exponential, new[] { 4, 8, 16 })]
    public async Task Create_retries_with_the_chosen_backoff_and_gives_up_after_the_attempts(DelayBackoffType backoff, int[] expectedMs)
    {
        RetryStrategyOptions options = RetryPresets.Create(backoff, 3, TimeSpan.FromMilliseconds(4), TimeSpan.FromSeconds(1), useJitter: false);
        var delays = new List<TimeSpan>();
        options.OnRetry = args =>
        {
            delays.Add(args.RetryDelay);
            return default;
        };
        int attempts = 0;
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddRetry(options).Build();

        await Assert.ThrowsAsync<TimeoutException>(() => pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            throw new TimeoutException("down");
        }, TestContext.Current.CancellationToken).AsTask());

        Assert.Equal(4, attempts);
        Assert.Equal(expectedMs.Select(ms => TimeSpan.FromMilliseconds(ms)), delays);
    }

    [Fact]
    public async Task Jitter_varies_the_delay_and_max_delay_caps_it()
    {
        RetryStrategyOptions options = RetryPresets.Create(DelayBackoffType.Exponential, 6, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(10));
        var delays = new List<TimeSpan>();
        options.OnRetry = args =>
        {
            delays.Add(args.RetryDelay);
            return default;
        };
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddRetry(options).Build();

        await Assert.ThrowsAsync<TimeoutException>(() => pipeline.ExecuteAsync(_ => throw new TimeoutException("down"), TestContext.Current.CancellationToken).AsTask());

        Assert.Equal(6, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromMilliseconds(10)));
        Assert.True(options.UseJitter);
    }

    [Fact]
    public async Task Database_preset_retries_timeouts_three_times_exponentially_and_not_programming_errors()
    {
        RetryStrategyOptions preset = RetryPresets.Database();
        Assert.Equal((DelayBackoffType.Exponential, 3, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), true), Backoff(preset));
        Assert.True(await Handles(preset, new TimeoutException()));
        Assert.True(await Handles(preset, new TimeoutRejectedException()));
        Assert.False(await Handles(preset, new InvalidOperationException()));
        Assert.False(await Handles(preset, new ArgumentException()));
    }

    [Fact]
    public async Task Http_preset_retries_network_errors_timeouts_429_and_5xx_but_not_other_answers()
    {
        RetryStrategyOptions preset = RetryPresets.HttpApi();
        Assert.Equal((DelayBackoffType.Exponential, 3, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), true), Backoff(preset));
        Assert.True(await Handles(preset, new HttpRequestException()));
        Assert.True(await Handles(preset, new TimeoutRejectedException()));
        foreach (HttpStatusCode retried in new[] { HttpStatusCode.RequestTimeout, HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError, HttpStatusCode.ServiceUnavailable })
        {
            using var response = new HttpResponseMessage(retried);
            Assert.True(await Handles(preset, response), $"{retried} should be retried");
        }

        foreach (HttpStatusCode kept in new[] { HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.BadRequest })
        {
            using var response = new HttpResponseMessage(kept);
            Assert.False(await Handles(preset, response), $"{kept} should not be retried");
        }

        Assert.False(await Handles(preset, new InvalidOperationException()));
    }

    private static (DelayBackoffType, int, TimeSpan, TimeSpan?, bool) Backoff(RetryStrategyOptions o) =>
        (o.BackoffType, o.MaxRetryAttempts, o.Delay, o.MaxDelay, o.UseJitter);

    private static ValueTask<bool> Handles(RetryStrategyOptions options, Exception exception) =>
        options.ShouldHandle(new RetryPredicateArguments<object>(ResilienceContextPool.Shared.Get(), Outcome.FromException<object>(exception), 0));

    private static ValueTask<bool> Handles(RetryStrategyOptions options, HttpResponseMessage result) =>
        options.ShouldHandle(new RetryPredicateArguments<object>(ResilienceContextPool.Shared.Get(), Outcome.FromResult<object>(result), 0));
}
