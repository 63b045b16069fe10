using Lilith.Common;

namespace Lilith.DomainEvents.Internal;

/// <summary>Keys of the domain-events concern (schema/domain-events.md).</summary>
internal sealed class EventKeys(string prefix)
{
    public const string Concern = "events";

    /// <summary>Stream of CloudEvents; one consumer group per subscribing service.</summary>
    public string Stream(string stream) => KeySchema.Tagged(prefix, Concern, stream);

    /// <summary>Stream of entries that could not be handled, with the reason.</summary>
    public string DeadLetter(string stream) => KeySchema.Tagged(prefix, Concern, stream, "dead-letter");

    /// <summary>String marker (with a TTL) that a consumer group handled the event with this source and id.</summary>
    public string Handled(string stream, string group, string source, string id) =>
        KeySchema.Tagged(prefix, Concern, stream, $"handled:{group}:{source}:{id}");
}
