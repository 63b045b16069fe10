using Lilith.Common;
using Microsoft.Extensions.Options;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>Validates the shared options at start.</summary>
internal sealed class CircuitBreakerOptionsValidator : IValidateOptions<CircuitBreakerOptions>
{
    public ValidateOptionsResult Validate(string? name, CircuitBreakerOptions options)
    {
        List<string> errors = [];
        if (KeySchema.DescribePrefixError(options.KeyPrefix, "CircuitBreaker:KeyPrefix") is { } prefix)
        {
            errors.Add(prefix);
        }

        if (options.SyncInterval < TimeSpan.FromMilliseconds(10))
        {
            errors.Add($"CircuitBreaker:SyncInterval: {options.SyncInterval} is not valid; it must be at least 10 ms.");
        }

        if (options.StateTtl < TimeSpan.FromSeconds(1))
        {
            errors.Add($"CircuitBreaker:StateTtl: {options.StateTtl} is not valid; it must be at least 1 s.");
        }

        if (!Enum.IsDefined(options.Backend))
        {
            errors.Add($"CircuitBreaker:Backend: {options.Backend} is not valid; use InMemory or Redis.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates each adapter's options at start; messages start with <c>CircuitBreaker:&lt;name&gt;:</c>.</summary>
internal sealed class CircuitBreakerAdapterOptionsValidator : IValidateOptions<CircuitBreakerAdapterOptions>
{
    public ValidateOptionsResult Validate(string? name, CircuitBreakerAdapterOptions options)
    {
        string path = $"CircuitBreaker:{name}:";
        if (options.Breaker is null)
        {
            return ValidateOptionsResult.Fail($"{path}Breaker: null is not valid.");
        }

        string? original = options.Breaker.Name;
        options.Breaker.Name = name;
        List<string> errors = BreakerOptionsValidation.Describe(options.Breaker, path + "Breaker:");
        options.Breaker.Name = original;
        if (options.Timeout is { } t && t <= TimeSpan.Zero)
        {
            errors.Add($"{path}Timeout: {t} is not valid; it must be positive (or null for none).");
        }

        if (options.Retry is { MaxRetryAttempts: < 1 } r)
        {
            errors.Add($"{path}Retry:MaxRetryAttempts: {r.MaxRetryAttempts} is not valid; it must be at least 1.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
