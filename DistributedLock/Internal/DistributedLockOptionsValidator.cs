using Lilith.Common;
using Microsoft.Extensions.Options;

namespace Lilith.DistributedLock.Internal;

/// <summary>Checks <see cref="DistributedLockOptions"/> when the host starts; each message names the option and its value.</summary>
internal sealed class DistributedLockOptionsValidator : IValidateOptions<DistributedLockOptions>
{
    public ValidateOptionsResult Validate(string? name, DistributedLockOptions options)
    {
        var failures = new List<string>();
        if (KeySchema.DescribePrefixError(options.KeyPrefix, nameof(DistributedLockOptions.KeyPrefix)) is { } prefixError)
        {
            failures.Add(prefixError);
        }

        if (!Enum.IsDefined(options.Backend))
        {
            failures.Add($"{nameof(DistributedLockOptions.Backend)}: '{options.Backend}' is not a backend; use InMemory or Redis.");
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
}
