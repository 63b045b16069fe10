using Lilith.Common;
using Microsoft.Extensions.Options;

namespace Lilith.DistributedLock.Internal;

/// <summary>Checks <see cref="DistributedLockOptions"/> when the host starts; each message names the option and its value.</summary>
internal sealed class DistributedLockOptionsValidator(IServiceProvider services) : IValidateOptions<DistributedLockOptions>
{
    public ValidateOptionsResult Validate(string? name, DistributedLockOptions options)
    {
        var failures = new List<string>();
        if (KeySchema.DescribePrefixError(options.KeyPrefix, nameof(DistributedLockOptions.KeyPrefix)) is { } prefixError)
        {
            failures.Add(prefixError);
        }

        if (options.Backend is { } backend && !Enum.IsDefined(backend))
        {
            failures.Add($"{nameof(DistributedLockOptions.Backend)}: '{backend}' is not a backend; use InMemory or Redis.");
        }

        if (BackendChoice.Validate(services, AskedForRedis(options), options.ConnectionString, nameof(DistributedLockOptions.Backend)) is { } noChoice)
        {
            failures.Add(noChoice);
        }

        if (options.Backend == DistributedLockBackend.InMemory && !string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{nameof(DistributedLockOptions.ConnectionString)} is set but {nameof(DistributedLockOptions.Backend)} is InMemory: set Backend to Redis to lock in Redis, or remove the connection string.");
        }

        if (options.DefaultTtl < DistributedLockDefaults.MinTtl || options.DefaultTtl > DistributedLockDefaults.MaxTtl)
        {
            failures.Add($"{nameof(DistributedLockOptions.DefaultTtl)}: {options.DefaultTtl} is outside {DistributedLockDefaults.MinTtl} .. {DistributedLockDefaults.MaxTtl}.");
        }

        if (options.MaxPollInterval < TimeSpan.FromMilliseconds(1) || options.MaxPollInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{nameof(DistributedLockOptions.MaxPollInterval)}: {options.MaxPollInterval} is outside 00:00:00.001 .. 00:01:00.");
        }

        if (options.ReplicaAcknowledgements < 0)
        {
            failures.Add($"{nameof(DistributedLockOptions.ReplicaAcknowledgements)}: {options.ReplicaAcknowledgements} must not be negative.");
        }

        if (options.ReplicaAcknowledgementTimeout < TimeSpan.FromMilliseconds(1) || options.ReplicaAcknowledgementTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{nameof(DistributedLockOptions.ReplicaAcknowledgementTimeout)}: {options.ReplicaAcknowledgementTimeout} is outside 00:00:00.001 .. 00:01:00.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The Backend option as the family's rule reads it: true Redis, false in-memory, null not chosen.</summary>
    internal static bool? AskedForRedis(DistributedLockOptions options) =>
        options.Backend is { } backend ? backend == DistributedLockBackend.Redis : null;
}
