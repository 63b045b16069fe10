using System.Globalization;
using System.Text;
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

    /// <summary>
    /// String marker (with a TTL) that a consumer group handled the event with this source and id. The group and the
    /// source carry their UTF-8 byte length in front, so no two (group, source, id) give the same key even when they
    /// contain <c>:</c>.
    /// </summary>
    public string Handled(string stream, string group, string source, string id) =>
        KeySchema.Tagged(prefix, Concern, stream, "handled:" + HandledSuffix(group, source, id));

    /// <summary><c>&lt;groupLength&gt;:&lt;group&gt;:&lt;sourceLength&gt;:&lt;source&gt;:&lt;id&gt;</c>, lengths in UTF-8 bytes.</summary>
    public static string HandledSuffix(string group, string source, string id) =>
        string.Create(CultureInfo.InvariantCulture, $"{Encoding.UTF8.GetByteCount(group)}:{group}:{Encoding.UTF8.GetByteCount(source)}:{source}:{id}");
}
