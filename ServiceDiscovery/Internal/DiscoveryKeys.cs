using Lilith.Common;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>Keys and channels of the service-discovery concern (schema/service-discovery.md).</summary>
internal sealed class DiscoveryKeys(string prefix)
{
    public const string Concern = "discovery";

    /// <summary>Hash: instance id -> instance JSON.</summary>
    public string Instances(string service) => KeySchema.Tagged(prefix, Concern, service, "instances");

    /// <summary>Sorted set: instance id -> expiry instant (ms, Redis server clock).</summary>
    public string Expiry(string service) => KeySchema.Tagged(prefix, Concern, service, "expiry");

    /// <summary>String counter bumped on every change of the service's instances.</summary>
    public string Revision(string service) => KeySchema.Tagged(prefix, Concern, service, "revision");

    /// <summary>Set of instance ids with one value of one indexed dimension (tag, zone, version).</summary>
    public string Index(string service, string dimension, string value) =>
        KeySchema.Tagged(prefix, Concern, service, $"index:{dimension}:{value}");

    /// <summary>Sorted set of known service names (untagged; written outside the per-service scripts).</summary>
    public string Services() => KeySchema.Plain(prefix, Concern, "services");

    /// <summary>String lease naming the one client that sweeps this prefix (untagged; its own one-key script).</summary>
    public string Sweeper() => KeySchema.Plain(prefix, Concern, "sweeper");

    /// <summary>Pub/sub channel carrying the service's change events.</summary>
    public string EventsChannel(string service) => KeySchema.Tagged(prefix, Concern, service, "events");

    /// <summary>What surrounds the service name in <see cref="EventsChannel"/>: every service's channel is Head + name + Tail.</summary>
    public (string Head, string Tail) EventsChannelAroundName()
    {
        const string Sample = "service";
        string channel = EventsChannel(Sample);
        int at = channel.IndexOf("{" + Sample + "}", StringComparison.Ordinal) + 1;
        return (channel[..at], channel[(at + Sample.Length)..]);
    }
}
