using System.Buffers;
using System.Text;
using System.Text.Json;
using Lilith.Common;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// The instance payload (schema/service-discovery.md, "instance"): members v, id, host, port, scheme, weight,
/// tags, metadata, zone, version, health, in that order; zone and version left out when null.
/// </summary>
internal static class InstanceCodec
{
    public static string Write(ServiceInstance instance)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", KeySchema.Version);
            w.WriteString("id", instance.Id);
            w.WriteString("host", instance.Host);
            w.WriteNumber("port", instance.Port);
            w.WriteString("scheme", instance.Scheme);
            w.WriteNumber("weight", instance.Weight);
            w.WriteStartArray("tags");
            foreach (string tag in instance.Tags)
            {
                w.WriteStringValue(tag);
            }

            w.WriteEndArray();
            w.WriteStartObject("metadata");
            foreach (KeyValuePair<string, string> pair in instance.Metadata)
            {
                w.WriteString(pair.Key, pair.Value);
            }

            w.WriteEndObject();
            if (instance.Zone is not null)
            {
                w.WriteString("zone", instance.Zone);
            }

            if (instance.Version is not null)
            {
                w.WriteString("version", instance.Version);
            }

            w.WriteString("health", HealthText(instance.Health));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string HealthText(InstanceHealth health) => health switch
    {
        InstanceHealth.Passing => "passing",
        InstanceHealth.Warning => "warning",
        _ => "critical",
    };

    public static bool TryParseHealth(string? text, out InstanceHealth health)
    {
        switch (text)
        {
            case "passing": health = InstanceHealth.Passing; return true;
            case "warning": health = InstanceHealth.Warning; return true;
            case "critical": health = InstanceHealth.Critical; return true;
            default: health = default; return false;
        }
    }

    /// <summary>
    /// The stored JSON with only the value of its top-level <c>health</c> member replaced (or the member added before the
    /// closing brace), every other byte kept: what the set-health script does in Redis. Null when it is not a JSON object.
    /// </summary>
    public static string? WithHealth(string json, InstanceHealth health)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(json);
        string value = "\"" + HealthText(health) + "\"";
        try
        {
            var reader = new Utf8JsonReader(utf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            int found = -1, foundEnd = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isHealth = reader.ValueTextEquals("health"u8);
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isHealth)
                {
                    (found, foundEnd) = (start, (int)reader.BytesConsumed);
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0)
            {
                return null;
            }

            if (found >= 0)
            {
                return Encoding.UTF8.GetString(utf8, 0, found) + value + Encoding.UTF8.GetString(utf8, foundEnd, utf8.Length - foundEnd);
            }

            int closing = (int)reader.TokenStartIndex;
            string before = Encoding.UTF8.GetString(utf8, 0, closing);
            string separator = before.TrimEnd().EndsWith('{') ? string.Empty : ",";
            return before + separator + "\"health\":" + value + Encoding.UTF8.GetString(utf8, closing, utf8.Length - closing);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads an instance payload; returns null and a reason when it cannot be used.</summary>
    public static ServiceInstance? Read(string json, string? expectedId, out string? error)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            return Read(doc.RootElement, expectedId, out error);
        }
        catch (JsonException e)
        {
            error = $"not JSON ({e.Message})";
            return null;
        }
    }

    public static ServiceInstance? Read(JsonElement root, string? expectedId, out string? error)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "not a JSON object";
            return null;
        }

        // One rule for every member (PayloadMembers): absent or null = absent; present = of the documented type, or the entry is skipped.
        var m = new PayloadMembers(root);
        m.Version();
        string? id = m.String("id", required: true, nonEmpty: true);
        string? host = m.String("host", required: true, nonEmpty: true);
        long? port = m.Integer("port", required: true, 1, 65535);
        string? scheme = m.String("scheme", required: false, nonEmpty: true);
        long? weight = m.Integer("weight", required: false, 0, int.MaxValue);
        List<string>? tags = m.Strings("tags");
        Dictionary<string, string>? metadata = m.StringMap("metadata");
        string? zone = m.String("zone", required: false);
        string? version = m.String("version", required: false);
        string? healthText = m.String("health", required: false);
        var health = InstanceHealth.Passing;
        if (healthText is not null && !TryParseHealth(healthText, out health) && m.TryGet("health", out JsonElement healthElement))
        {
            m.Fail<string>("health", "passing, warning or critical", healthElement);
        }

        if (m.Failed)
        {
            error = m.Error;
            return null;
        }

        if (expectedId is not null && id != expectedId)
        {
            error = $"the payload's id '{id}' differs from its field '{expectedId}'";
            return null;
        }

        error = null;
        return new ServiceInstance
        {
            Id = id!,
            Host = host!,
            Port = (int)port!.Value,
            Scheme = scheme ?? "http",
            Weight = (int)(weight ?? 1),
            Tags = tags ?? [],
            Metadata = metadata ?? new Dictionary<string, string>(StringComparer.Ordinal),
            Zone = zone,
            Version = version,
            Health = health,
        };
    }

    /// <summary>
    /// The index sets a stored entry names, read leniently (every string in <c>tags</c>, a string <c>zone</c> and
    /// <c>version</c>), so removing an entry that cannot be read as an instance still takes it out of its index sets.
    /// </summary>
    public static IReadOnlyList<(string Dimension, string Value)> IndexEntries(string json)
    {
        if (json.Length == 0)
        {
            return [];
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return [];
            }

            var entries = new List<(string, string)>();
            if (root.TryGetProperty("tags", out JsonElement tags) && tags.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement tag in tags.EnumerateArray())
                {
                    if (tag.ValueKind == JsonValueKind.String && !entries.Contains(("tag", tag.GetString()!)))
                    {
                        entries.Add(("tag", tag.GetString()!));
                    }
                }
            }

            foreach (string dimension in (ReadOnlySpan<string>)["zone", "version"])
            {
                if (root.TryGetProperty(dimension, out JsonElement value) && value.ValueKind == JsonValueKind.String)
                {
                    entries.Add((dimension, value.GetString()!));
                }
            }

            return entries;
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>The (dimension, value) pairs of the instance's secondary index sets.</summary>
    public static IEnumerable<(string Dimension, string Value)> IndexEntries(ServiceInstance instance)
    {
        foreach (string tag in instance.Tags.Distinct(StringComparer.Ordinal))
        {
            yield return ("tag", tag);
        }

        if (instance.Zone is not null)
        {
            yield return ("zone", instance.Zone);
        }

        if (instance.Version is not null)
        {
            yield return ("version", instance.Version);
        }
    }
}
