using System.Globalization;
using System.Text.Json;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// The event payload (schema/service-discovery.md, "event"): v, type, service, id, revision, at, instance (registered
/// and health-changed only). The Lua scripts build the same text by concatenation; <see cref="Write"/> mirrors them.
/// </summary>
internal static class EventCodec
{
    public static string TypeText(DiscoveryEventKind kind) => kind switch
    {
        DiscoveryEventKind.Registered => "registered",
        DiscoveryEventKind.Deregistered => "deregistered",
        DiscoveryEventKind.Expired => "expired",
        _ => "health-changed",
    };

    public static string Write(DiscoveryEventKind kind, string service, string id, long revision, long atMs, string? instanceJson) =>
        "{\"v\":1,\"type\":\"" + TypeText(kind) + "\",\"service\":" + JsonString(service) + ",\"id\":" + JsonString(id) +
        ",\"revision\":" + revision.ToString(CultureInfo.InvariantCulture) + ",\"at\":" + atMs.ToString(CultureInfo.InvariantCulture) +
        (instanceJson is null ? string.Empty : ",\"instance\":" + instanceJson) + "}";

    public static string JsonString(string value) => JsonSerializer.Serialize(value);

    /// <summary>
    /// Reads an event payload by the rule every discovery member follows (<see cref="PayloadMembers"/>); <c>instance</c> is
    /// required for registered and health-changed and its id must be the event's id; on the other types it is not read.
    /// </summary>
    public static DiscoveryEvent? Read(string json, out string? error)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "not a JSON object";
                return null;
            }

            var m = new PayloadMembers(root);
            m.Version();
            string? type = m.String("type", required: true);
            DiscoveryEventKind? kind = type switch
            {
                "registered" => DiscoveryEventKind.Registered,
                "deregistered" => DiscoveryEventKind.Deregistered,
                "expired" => DiscoveryEventKind.Expired,
                "health-changed" => DiscoveryEventKind.HealthChanged,
                _ => null,
            };
            if (type is not null && kind is null && m.TryGet("type", out JsonElement typeElement))
            {
                m.Fail<string>("type", "registered, deregistered, expired or health-changed", typeElement);
            }

            string? service = m.String("service", required: true, nonEmpty: true);
            string? id = m.String("id", required: true, nonEmpty: true);
            long? revision = m.Integer("revision", required: true, 1, long.MaxValue);
            long? at = m.Integer("at", required: true, 0, MaxInstantMs);
            ServiceInstance? instance = null;
            if (kind is DiscoveryEventKind.Registered or DiscoveryEventKind.HealthChanged && !m.Failed)
            {
                if (!m.TryGet("instance", out JsonElement instanceElement))
                {
                    error = $"required member instance of a {type} event is missing or null";
                    return null;
                }

                instance = InstanceCodec.Read(instanceElement, id, out error);
                if (instance is null)
                {
                    error = "member instance: " + error;
                    return null;
                }
            }

            if (m.Failed)
            {
                error = m.Error;
                return null;
            }

            error = null;
            return new DiscoveryEvent(kind!.Value, service!, id!, revision!.Value, DateTimeOffset.FromUnixTimeMilliseconds(at!.Value), instance);
        }
        catch (JsonException e)
        {
            error = $"not JSON ({e.Message})";
            return null;
        }
    }

    /// <summary>The largest instant a reader accepts: the end of year 9999 (what DateTimeOffset holds), in Unix milliseconds.</summary>
    public const long MaxInstantMs = 253_402_300_799_999;
}
