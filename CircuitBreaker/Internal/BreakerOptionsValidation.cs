using Lilith.Common;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>Checks breaker options; every message names the option and the bad value.</summary>
internal static class BreakerOptionsValidation
{
    public static List<string> Describe(LilithCircuitBreakerOptions o, string path = "")
    {
        List<string> errors = [];
        if (o.FailureThreshold < 1)
        {
            errors.Add($"{path}FailureThreshold: {o.FailureThreshold} is not valid; it must be at least 1.");
        }

        if (o.FailureRatio is { } ratio && (double.IsNaN(ratio) || ratio <= 0 || ratio > 1))
        {
            errors.Add($"{path}FailureRatio: {ratio} is not valid; it must be greater than 0 and at most 1 (or null to trip on consecutive failures).");
        }

        if (o.FailureRatio is not null && o.MinimumThroughput < 2)
        {
            errors.Add($"{path}MinimumThroughput: {o.MinimumThroughput} is not valid; it must be at least 2.");
        }

        if (o.FailureRatio is not null && o.SamplingDuration < TimeSpan.FromMilliseconds(10))
        {
            errors.Add($"{path}SamplingDuration: {o.SamplingDuration} is not valid; it must be at least 10 ms.");
        }

        if (o.BreakDuration < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"{path}BreakDuration: {o.BreakDuration} is not valid; it must be at least 1 ms.");
        }

        if (double.IsNaN(o.BreakDurationMultiplier) || o.BreakDurationMultiplier < 1)
        {
            errors.Add($"{path}BreakDurationMultiplier: {o.BreakDurationMultiplier} is not valid; it must be at least 1 (1 keeps the break fixed).");
        }

        if (o.MaxBreakDuration < o.BreakDuration)
        {
            errors.Add($"{path}MaxBreakDuration: {o.MaxBreakDuration} is not valid; it must be at least BreakDuration ({o.BreakDuration}).");
        }

        if (o.HalfOpenMaxProbes < 1)
        {
            errors.Add($"{path}HalfOpenMaxProbes: {o.HalfOpenMaxProbes} is not valid; it must be at least 1.");
        }

        if (o.SuccessThreshold < 1)
        {
            errors.Add($"{path}SuccessThreshold: {o.SuccessThreshold} is not valid; it must be at least 1.");
        }

        if (o.ProbeLease < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"{path}ProbeLease: {o.ProbeLease} is not valid; it must be at least 1 ms.");
        }

        if (!Enum.IsDefined(o.FleetPolicy))
        {
            errors.Add($"{path}FleetPolicy: {o.FleetPolicy} is not valid; use AnyInstance or Quorum.");
        }

        if (o.FleetPolicy == BreakerFleetPolicy.Quorum)
        {
            if (o.QuorumInstances < 1)
            {
                errors.Add($"{path}QuorumInstances: {o.QuorumInstances} is not valid; it must be at least 1.");
            }

            if (o.QuorumFraction is { } fraction && (double.IsNaN(fraction) || fraction <= 0 || fraction > 1))
            {
                errors.Add($"{path}QuorumFraction: {fraction} is not valid; it must be greater than 0 and at most 1 (or null to count instances only).");
            }

            if (o.QuorumWindow < TimeSpan.FromMilliseconds(100))
            {
                errors.Add($"{path}QuorumWindow: {o.QuorumWindow} is not valid; it must be at least 100 ms.");
            }
        }

        if (o.ShouldHandle is null)
        {
            errors.Add($"{path}ShouldHandle: null is not valid; give a predicate.");
        }

        try
        {
            KeySchema.ValidateName(o.Name, "breaker", $"{path}Name");
        }
        catch (ArgumentException e)
        {
            errors.Add($"{path}Name: {e.Message}");
        }

        return errors;
    }
}
