using Lilith.Common;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>Keys and channels of the circuit-breaker concern (schema/circuit-breaker.md).</summary>
internal sealed class BreakerKeys(string prefix)
{
    public const string Concern = "breaker";

    /// <summary>String, JSON: the shared state of one breaker, with a TTL.</summary>
    public string State(string breaker) => KeySchema.Tagged(prefix, Concern, breaker, "state");

    /// <summary>String: the id of the one instance allowed to probe during half-open, with a TTL.</summary>
    public string Probe(string breaker) => KeySchema.Tagged(prefix, Concern, breaker, "probe");

    /// <summary>Sorted set: instance ids scored by the Redis time of their last trip report (quorum opening).</summary>
    public string Trips(string breaker) => KeySchema.Tagged(prefix, Concern, breaker, "trips");

    /// <summary>Sorted set: instance ids scored by the Redis time of their last report of any kind (quorum opening).</summary>
    public string Members(string breaker) => KeySchema.Tagged(prefix, Concern, breaker, "members");

    /// <summary>Pub/sub channel announcing every state change of any breaker under the prefix.</summary>
    public string ChangedChannel() => KeySchema.Plain(prefix, Concern, "changed");
}
