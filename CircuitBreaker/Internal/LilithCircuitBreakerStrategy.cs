using Polly;
using Polly.CircuitBreaker;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>The Polly strategy: asks the controller, runs the call, reports the outcome. Rejections are outcomes, never throws.</summary>
internal sealed class LilithCircuitBreakerStrategy(BreakerController controller, Func<CircuitBreakerPredicateArguments<object>, ValueTask<bool>> shouldHandle)
    : ResilienceStrategy, IDisposable, ICircuitBreakerSource
{
    public BreakerController Controller => controller;

    protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
    {
        Admission admission = controller.Enter(out TimeSpan retryAfter, out bool isolated);
        if (admission == Admission.Acquiring)
        {
            (admission, retryAfter, isolated) = await controller.AcquireAndEnterAsync(context.ContinueOnCapturedContext).ConfigureAwait(context.ContinueOnCapturedContext);
        }

        if (admission == Admission.Rejected)
        {
            return Outcome.FromException<TResult>(controller.CreateRejection(retryAfter, isolated));
        }

        Outcome<TResult> outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
        bool failure = ReferenceEquals(shouldHandle, LilithCircuitBreakerOptions.DefaultPredicate)
            ? outcome.Exception is not null and not OperationCanceledException
            : await shouldHandle(new CircuitBreakerPredicateArguments<object>(context, AsObject(outcome))).ConfigureAwait(context.ContinueOnCapturedContext);
        controller.Exit(admission, failure, outcome.Exception);
        return outcome;
    }

    public void Dispose() => controller.Dispose();

    // Boxes a value-type result: only custom predicates pay it (Polly's non-generic breaker does the same).
    private static Outcome<object> AsObject<TResult>(Outcome<TResult> outcome) =>
        outcome.Exception is { } e ? Outcome.FromException<object>(e) : Outcome.FromResult<object>(outcome.Result!);
}
