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

            if (!PayloadVersion.Check(root, out error))
            {
                return null;
            }

            string? type = root.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            DiscoveryEventKind? kind = type switch
            {
                "registered" => DiscoveryEventKind.Registered,
                "deregistered" => DiscoveryEventKind.Deregistered,
                "expired" => DiscoveryEventKind.Expired,
                "health-changed" => DiscoveryEventKind.HealthChanged,
                _ => null,
            };
            if (kind is null ||
                !root.TryGetProperty("service", out JsonElement s) || s.ValueKind != JsonValueKind.String ||
                !root.TryGetProperty("id", out JsonElement i) || i.ValueKind != JsonValueKind.String ||
                !root.TryGetProperty("revision", out JsonElement r) || !r.TryGetInt64(out long revision) ||
                !root.TryGetProperty("at", out JsonElement a) || !a.TryGetInt64(out long at))
            {
                error = $"type '{type}', service, id, revision or at is missing or of the wrong type";
                return null;
            }

            ServiceInstance? instance = null;
            if (root.TryGetProperty("instance", out JsonElement ie) && ie.ValueKind == JsonValueKind.Object)
            {
                instance = InstanceCodec.Read(ie, i.GetString(), out error);
                if (instance is null)
                {
                    error = "instance: " + error;
                    return null;
                }
            }

            error = null;
            return new DiscoveryEvent(kind.Value, s.GetString()!, i.GetString()!, revision, DateTimeOffset.FromUnixTimeMilliseconds(at), instance);
        }
        catch (JsonException e)
        {
            error = $"not JSON ({e.Message})";
            return null;
        }
    }
}
