using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Lilith.CircuitBreaker;

/// <summary>
/// Ready retry options (Polly's <see cref="RetryStrategyOptions"/>) with documented values, plus a factory for
/// exponential, linear or constant backoff with jitter.
/// </summary>
public static class RetryPresets
{
    /// <summary>
    /// For databases: 3 retries, exponential backoff from 100 ms, at most 2 s between attempts, with jitter; retries
    /// <see cref="TimeoutException"/>, Polly's <see cref="TimeoutRejectedException"/> and transient
    /// <see cref="System.Data.Common.DbException"/>s (<c>IsTransient</c>).
    /// </summary>
    public static RetryStrategyOptions Database() => Create(DelayBackoffType.Exponential, 3, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), useJitter: true,
        new PredicateBuilder()
            .Handle<TimeoutException>()
            .Handle<TimeoutRejectedException>()
            .Handle<System.Data.Common.DbException>(e => e.IsTransient));

    /// <summary>
    /// For HTTP APIs: 3 retries, exponential backoff from 200 ms, at most 5 s between attempts, with jitter; retries
    /// <see cref="HttpRequestException"/>, <see cref="TimeoutRejectedException"/> and responses 408, 429 and 5xx.
    /// </summary>
    public static RetryStrategyOptions HttpApi() => Create(DelayBackoffType.Exponential, 3, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), useJitter: true,
        new PredicateBuilder()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => r is HttpResponseMessage { StatusCode: System.Net.HttpStatusCode.RequestTimeout or System.Net.HttpStatusCode.TooManyRequests or >= System.Net.HttpStatusCode.InternalServerError }));

    /// <summary>Retry options with the given backoff (<see cref="DelayBackoffType.Exponential"/>, <see cref="DelayBackoffType.Linear"/> or <see cref="DelayBackoffType.Constant"/>).</summary>
    /// <param name="backoff">How the delay grows.</param>
    /// <param name="maxRetryAttempts">Retries after the first attempt (at least 1).</param>
    /// <param name="delay">The base delay.</param>
    /// <param name="maxDelay">The largest delay between attempts.</param>
    /// <param name="useJitter">Spread the delays randomly so a fleet does not retry in step.</param>
    /// <param name="shouldHandle">Which outcomes to retry; null for every exception except cancellation.</param>
    public static RetryStrategyOptions Create(DelayBackoffType backoff, int maxRetryAttempts, TimeSpan delay, TimeSpan maxDelay, bool useJitter = true, PredicateBuilder<object>? shouldHandle = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetryAttempts, 1);
        var options = new RetryStrategyOptions
        {
            BackoffType = backoff,
            MaxRetryAttempts = maxRetryAttempts,
            Delay = delay,
            MaxDelay = maxDelay,
            UseJitter = useJitter,
        };
        if (shouldHandle is not null)
        {
            options.ShouldHandle = shouldHandle;
        }

        return options;
    }
}
