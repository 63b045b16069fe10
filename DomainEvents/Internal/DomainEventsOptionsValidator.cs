using Lilith.Common;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>Checks <see cref="DomainEventsOptions"/> when the host starts; each message names the option and its value.</summary>
internal sealed class DomainEventsOptionsValidator(EventTypeRegistry registry, IServiceProvider services) : IValidateOptions<DomainEventsOptions>
{
    /// <summary>
    /// The family's backend rule for events: the Transport option when set, else Redis whenever a connection is
    /// configured (ConnectionString, or an IConnectionMultiplexer in DI), else the in-memory transport.
    /// </summary>
    internal static bool UsesRedis(IServiceProvider services, DomainEventsOptions options) =>
        options.Transport is { } transport
            ? transport == DomainEventTransport.Redis
            : BackendChoice.HasConnection(services, options.ConnectionString);

    public ValidateOptionsResult Validate(string? name, DomainEventsOptions options)
    {
        var errors = new List<string>();
        if (KeySchema.DescribePrefixError(options.KeyPrefix, "DomainEventsOptions.KeyPrefix") is { } prefixError)
        {
            errors.Add(prefixError);
        }

        if (options.ServiceName is not null || (UsesRedis(services, options) && StreamConsumerHost.Consumes(options, registry)))
        {
            if (options.ServiceName is null)
            {
                errors.Add("DomainEventsOptions.ServiceName: required when this service consumes events from Redis (handlers or subscriptions are registered); " +
                    "it names the consumer group, and two services sharing a group split each other's events. Set it to this service's name, e.g. \"billing\".");
            }
            else
            {
                Name(options.ServiceName, "service", "DomainEventsOptions.ServiceName", errors);
            }
        }

        Name(options.Stream, "stream", "DomainEventsOptions.Stream", errors);
        foreach (string stream in options.Subscriptions)
        {
            Name(stream, "stream", "DomainEventsOptions.Subscriptions", errors);
        }

        if (options.ConsumerName is not null && (string.IsNullOrWhiteSpace(options.ConsumerName) || options.ConsumerName.Any(char.IsControl)))
        {
            errors.Add($"DomainEventsOptions.ConsumerName: '{options.ConsumerName}' must be a non-empty name without control characters.");
        }

        if (options.Source is not null && (options.Source.Length == 0 || !Uri.TryCreate(options.Source, UriKind.RelativeOrAbsolute, out _)))
        {
            errors.Add($"DomainEventsOptions.Source: '{options.Source}' is not a URI-reference (e.g. /orders-service).");
        }

        Positive(options.MaxStreamLength, "MaxStreamLength", errors);
        Positive(options.MaxDeadLetterLength, "MaxDeadLetterLength", errors);
        if (options.HardMaxStreamLength is { } cap && cap < options.MaxStreamLength)
        {
            errors.Add($"DomainEventsOptions.HardMaxStreamLength: {cap} must be at least DomainEventsOptions.MaxStreamLength ({options.MaxStreamLength}), or null for no hard cap.");
        }

        NotNegative(options.RetentionInterval, "RetentionInterval", errors);
        Positive(options.Concurrency, "Concurrency", errors);
        Positive(options.BatchSize, "BatchSize", errors);
        Positive(options.MaxAttempts, "MaxAttempts", errors);
        Positive(options.PublishAttempts, "PublishAttempts", errors);
        NotNegative(options.RetryDelay, "RetryDelay", errors);
        NotNegative(options.PublishRetryDelay, "PublishRetryDelay", errors);
        NotNegative(options.PollInterval, "PollInterval", errors);
        if (options.ReplicaAcknowledgements < 0)
        {
            errors.Add($"DomainEventsOptions.ReplicaAcknowledgements: {options.ReplicaAcknowledgements} must not be negative.");
        }

        if (options.ReplicaAcknowledgementTimeout < TimeSpan.FromMilliseconds(1) || options.ReplicaAcknowledgementTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"DomainEventsOptions.ReplicaAcknowledgementTimeout: {options.ReplicaAcknowledgementTimeout} must be from 1 ms to 1 minute.");
        }
        if (options.ReadBlockTime < TimeSpan.FromMilliseconds(1) || options.ReadBlockTime > TimeSpan.FromMinutes(5))
        {
            errors.Add($"DomainEventsOptions.ReadBlockTime: {options.ReadBlockTime} must be from 1 ms to 5 minutes.");
        }

        if (options.ClaimIdleTime < TimeSpan.FromMilliseconds(100))
        {
            errors.Add($"DomainEventsOptions.ClaimIdleTime: {options.ClaimIdleTime} must be at least 100 ms: a consumer refreshes the idle time of " +
                "the entries its handlers run (and retry) every third of it, a round trip each time, so that no other consumer claims them.");
        }

        if (options.ConsumerIdleTimeout <= 2 * options.ReadBlockTime)
        {
            errors.Add($"DomainEventsOptions.ConsumerIdleTimeout: {options.ConsumerIdleTimeout} must be more than twice DomainEventsOptions.ReadBlockTime ({options.ReadBlockTime}): " +
                "a live consumer reads at least that often, so only a dead one is idle longer.");
        }

        if (options.ClaimInterval < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"DomainEventsOptions.ClaimInterval: {options.ClaimInterval} must be at least 1 ms.");
        }

        if (options.IdempotencyWindow is { } window && window < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"DomainEventsOptions.IdempotencyWindow: {window} must be at least 1 ms, or null to turn the check off.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Name(string? value, string what, string option, List<string> errors)
    {
        try
        {
            KeySchema.ValidateName(value, what, option);
        }
        catch (ArgumentException e)
        {
            errors.Add($"{option}: {e.Message}");
        }
    }

    private static void Positive(int value, string option, List<string> errors)
    {
        if (value < 1)
        {
            errors.Add($"DomainEventsOptions.{option}: {value} must be at least 1.");
        }
    }

    private static void NotNegative(TimeSpan value, string option, List<string> errors)
    {
        if (value < TimeSpan.Zero)
        {
            errors.Add($"DomainEventsOptions.{option}: {value} must not be negative.");
        }
    }
}
