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

        if (!PayloadVersion.Check(root, out error))
        {
            return null;
        }

        string? id = String(root, "id");
        string? host = String(root, "host");
        if (id is null || host is null || !root.TryGetProperty("port", out JsonElement portElement) ||
            !portElement.TryGetInt32(out int port) || port is < 1 or > 65535)
        {
            error = "member id, host or port is missing or of the wrong type";
            return null;
        }

        if (expectedId is not null && id != expectedId)
        {
            error = $"the payload's id '{id}' differs from its field '{expectedId}'";
            return null;
        }

        int weight = 1;
        if (root.TryGetProperty("weight", out JsonElement weightElement) && (!weightElement.TryGetInt32(out weight) || weight < 0))
        {
            error = "member weight is not a non-negative integer";
            return null;
        }

        var health = InstanceHealth.Passing;
        if (root.TryGetProperty("health", out JsonElement healthElement) &&
            (healthElement.ValueKind != JsonValueKind.String || !TryParseHealth(healthElement.GetString(), out health)))
        {
            error = $"member health '{healthElement}' is not passing, warning or critical";
            return null;
        }

        var tags = new List<string>();
        if (root.TryGetProperty("tags", out JsonElement tagsElement))
        {
            if (tagsElement.ValueKind != JsonValueKind.Array)
            {
                error = "member tags is not an array";
                return null;
            }

            foreach (JsonElement tag in tagsElement.EnumerateArray())
            {
                if (tag.ValueKind != JsonValueKind.String)
                {
                    error = "member tags holds a value that is not a string";
                    return null;
                }

                tags.Add(tag.GetString()!);
            }
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("metadata", out JsonElement metadataElement))
        {
            if (metadataElement.ValueKind != JsonValueKind.Object)
            {
                error = "member metadata is not an object";
                return null;
            }

            foreach (JsonProperty pair in metadataElement.EnumerateObject())
            {
                if (pair.Value.ValueKind != JsonValueKind.String)
                {
                    error = $"metadata member '{pair.Name}' is not a string";
                    return null;
                }

                metadata[pair.Name] = pair.Value.GetString()!;
            }
        }

        error = null;
        return new ServiceInstance
        {
            Id = id,
            Host = host,
            Port = port,
            Scheme = String(root, "scheme") ?? "http",
            Weight = weight,
            Tags = tags,
            Metadata = metadata,
            Zone = String(root, "zone"),
            Version = String(root, "version"),
            Health = health,
        };
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

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
}

/// <summary>The <c>v</c> member check every payload reader does.</summary>
internal static class PayloadVersion
{
    public static bool Check(JsonElement root, out string? error)
    {
        if (!root.TryGetProperty("v", out JsonElement v) || !v.TryGetInt32(out int version))
        {
            error = "member v (schema version) is missing or not an integer";
            return false;
        }

        if (version > KeySchema.Version)
        {
            error = $"schema version {version} is not known to this reader, which knows {KeySchema.Version}";
            return false;
        }

        error = null;
        return true;
    }
}
