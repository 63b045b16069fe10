using Lilith.Common;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>Keys and channels of the service-addresses concern (schema/service-addresses.md).</summary>
internal sealed class AddressKeys(string prefix)
{
    public const string Concern = "addresses";

    /// <summary>The effective registry published for one environment (string, JSON).</summary>
    public string Registry(string environment) => KeySchema.Tagged(prefix, Concern, environment, "registry");

    /// <summary>One claimed host:port in one environment (string, JSON, with a TTL).</summary>
    public string Claim(string environment, string host, int port) =>
        KeySchema.Tagged(prefix, Concern, environment, $"claim:{host}:{port}");

    /// <summary>The revision counter of the published registry (string, integer, never expires).</summary>
    public string Revision(string environment) => KeySchema.Tagged(prefix, Concern, environment, "revision");

    /// <summary>Pub/sub channel announcing a newly published registry.</summary>
    public string ChangedChannel(string environment) => KeySchema.Tagged(prefix, Concern, environment, "changed");
}
