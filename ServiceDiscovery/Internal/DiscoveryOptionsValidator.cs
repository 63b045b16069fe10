using Lilith.Common;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>Checks <see cref="DiscoveryOptions"/> at host start; each message names the option and the value.</summary>
internal sealed class DiscoveryOptionsValidator : IValidateOptions<DiscoveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DiscoveryOptions options)
    {
        var failures = new List<string>();
        if (KeySchema.DescribePrefixError(options.KeyPrefix, "DiscoveryOptions.KeyPrefix") is { } prefixError)
        {
            failures.Add(prefixError);
        }

        if (options.Ttl < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"DiscoveryOptions.Ttl: '{options.Ttl}' is shorter than the minimum of 100 ms.");
        }

        if (options.HeartbeatInterval is { } heartbeat && (heartbeat <= TimeSpan.Zero || heartbeat >= options.Ttl))
        {
            failures.Add($"DiscoveryOptions.HeartbeatInterval: '{heartbeat}' must be positive and shorter than Ttl ({options.Ttl}).");
        }

        if (options.SweepInterval <= TimeSpan.Zero)
        {
            failures.Add($"DiscoveryOptions.SweepInterval: '{options.SweepInterval}' must be positive.");
        }

        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            failures.Add($"DiscoveryOptions.RefreshInterval: '{options.RefreshInterval}' must be positive.");
        }

        if (!Enum.IsDefined(options.LoadBalancing))
        {
            failures.Add($"DiscoveryOptions.LoadBalancing: '{options.LoadBalancing}' is not a known strategy.");
        }

        if (options.ServiceName is not null)
        {
            try
            {
                KeySchema.ValidateName(options.ServiceName, "service", "DiscoveryOptions.ServiceName");
            }
            catch (ArgumentException e)
            {
                failures.Add("DiscoveryOptions.ServiceName: " + e.Message);
            }

            if (options.Instance is null)
            {
                failures.Add($"DiscoveryOptions.Instance: null, but ServiceName is '{options.ServiceName}'; set the instance to register.");
            }
            else if (options.Instance.Port is < 1 or > 65535)
            {
                failures.Add($"DiscoveryOptions.Instance.Port: '{options.Instance.Port}' is not between 1 and 65535.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
