using System.Text.Json;
using System.Text.Json.Serialization;
using Lilith.Common;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>The <c>registry</c> payload (schema/service-addresses.md), members in write order.</summary>
internal sealed class RegistryPayload
{
    public int V { get; set; } = KeySchema.Version;

    public string Environment { get; set; } = "";

    public List<ServicePayload> Services { get; set; } = [];

    public static RegistryPayload From(IServiceAddresses registry) => new()
    {
        Environment = registry.Environment,
        Services = registry.Services.Select(s => new ServicePayload
        {
            Name = s.Name,
            Host = s.Host,
            Port = s.Port,
            Scheme = s.Scheme,
            Endpoints = new Dictionary<string, int>(s.Endpoints),
            Dependencies = s.Dependencies.ToList(),
            Tags = s.Tags.ToList(),
        }).ToList(),
    };

    public ServiceRegistry ToRegistry() => new(Environment, Services.Select(s => new ServiceAddress(
        s.Name, s.Host, s.Port, s.Scheme,
        s.Endpoints is { Count: > 0 } e ? e : new Dictionary<string, int>(StringComparer.Ordinal) { [s.Scheme] = s.Port },
        s.Dependencies ?? [], s.Tags ?? [])).ToList());

    public string ToJson() => JsonSerializer.Serialize(this, PayloadJson.Default.RegistryPayload);

    /// <summary>Reads a stored registry; a wrong version or unreadable JSON gives a message naming the key.</summary>
    public static RegistryPayload Parse(string json, string key)
    {
        RegistryPayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize(json, PayloadJson.Default.RegistryPayload);
        }
        catch (JsonException e)
        {
            throw new ServiceRegistryException(key, [new RegistryError("", $"the stored registry is not readable JSON: {e.Message}")]);
        }

        if (payload is null)
        {
            throw new ServiceRegistryException(key, [new RegistryError("", "the stored registry is null")]);
        }

        if (payload.V > KeySchema.Version)
        {
            throw new ServiceRegistryException(key,
                [new RegistryError("v", $"schema version {payload.V} is not known to this reader, which knows {KeySchema.Version}")]);
        }

        var errors = new List<RegistryError>();
        for (int i = 0; i < payload.Services.Count; i++)
        {
            ServicePayload s = payload.Services[i];
            if (string.IsNullOrEmpty(s.Name) || string.IsNullOrEmpty(s.Host) || s.Port is < 1 or > 65535 || string.IsNullOrEmpty(s.Scheme))
            {
                errors.Add(new RegistryError($"services[{i}]", "needs name, host, scheme and a port in 1..65535"));
            }
        }

        return errors.Count == 0 ? payload : throw new ServiceRegistryException(key, errors);
    }
}

internal sealed class ServicePayload
{
    public string Name { get; set; } = "";

    public string Host { get; set; } = "";

    public int Port { get; set; }

    public string Scheme { get; set; } = "";

    public Dictionary<string, int>? Endpoints { get; set; }

    public List<string>? Dependencies { get; set; }

    public List<string>? Tags { get; set; }
}

/// <summary>The <c>claim</c> payload: who holds a host:port.</summary>
internal sealed class ClaimPayload
{
    public int V { get; set; } = KeySchema.Version;

    public string Service { get; set; } = "";

    public string Owner { get; set; } = "";

    public string ToJson() => JsonSerializer.Serialize(this, PayloadJson.Default.ClaimPayload);

    public static ClaimPayload? Parse(string json) => JsonSerializer.Deserialize(json, PayloadJson.Default.ClaimPayload);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(RegistryPayload))]
[JsonSerializable(typeof(ClaimPayload))]
internal sealed partial class PayloadJson : JsonSerializerContext;
