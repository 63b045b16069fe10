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

    public string ToJson() => JsonSerializer.Serialize(this, PayloadJson.Wire.RegistryPayload);

    /// <summary>
    /// Services of the stored registry that could not be read (schema/README.md, "Reading a payload"): each was skipped
    /// and its neighbours kept. Empty after a clean read; not part of the JSON.
    /// </summary>
    [JsonIgnore]
    public List<RegistryError> Skipped { get; } = [];

    /// <summary>
    /// Reads a stored registry. A payload that is not a JSON object, has no readable <c>v</c>, <c>environment</c> or
    /// <c>services</c>, or a newer <c>v</c>, gives a message naming the key; one unreadable service is skipped and listed
    /// in <see cref="Skipped"/>, and every other service is kept.
    /// </summary>
    public static RegistryPayload Parse(string json, string key)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ServiceRegistryException(key, [new RegistryError("", $"the stored registry is not readable JSON: {e.Message}")]);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ServiceRegistryException(key, [new RegistryError("", "the stored registry is not a JSON object")]);
            }

            if (!WireRead.TryInteger(root, "v", 1, int.MaxValue, out long? v, out string? why) || v is null)
            {
                throw new ServiceRegistryException(key, [new RegistryError("v", why ?? "v: required")]);
            }

            if (v > KeySchema.Version)
            {
                throw new ServiceRegistryException(key,
                    [new RegistryError("v", $"schema version {v} is not known to this reader, which knows {KeySchema.Version}")]);
            }

            if (!WireRead.TryString(root, "environment", nonEmpty: true, out string? environment, out why) || environment is null)
            {
                throw new ServiceRegistryException(key, [new RegistryError("environment", why ?? "environment: required")]);
            }

            if (!root.TryGetProperty("services", out JsonElement services) || services.ValueKind != JsonValueKind.Array)
            {
                throw new ServiceRegistryException(key, [new RegistryError("services", "services: required, an array")]);
            }

            var payload = new RegistryPayload { V = (int)v, Environment = environment };
            int index = 0;
            foreach (JsonElement service in services.EnumerateArray())
            {
                if (ServicePayload.TryRead(service, out ServicePayload? read, out why))
                {
                    payload.Services.Add(read);
                }
                else
                {
                    payload.Skipped.Add(new RegistryError($"services[{index}]", why!));
                }

                index++;
            }

            return payload;
        }
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

    /// <summary>One element of <c>services</c> by the reading rule; false with the reason when it is unreadable.</summary>
    public static bool TryRead(JsonElement element, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServicePayload? service, out string? why)
    {
        service = null;
        if (element.ValueKind != JsonValueKind.Object)
        {
            why = "not a JSON object";
            return false;
        }

        if (!WireRead.TryString(element, "name", nonEmpty: true, out string? name, out why)
            || !WireRead.TryString(element, "host", nonEmpty: true, out string? host, out why)
            || !WireRead.TryInteger(element, "port", 1, 65535, out long? port, out why)
            || !WireRead.TryString(element, "scheme", nonEmpty: true, out string? scheme, out why)
            || !WireRead.TryIntegerMap(element, "endpoints", 1, 65535, out Dictionary<string, int>? endpoints, out why)
            || !WireRead.TryStrings(element, "dependencies", out List<string>? dependencies, out why)
            || !WireRead.TryStrings(element, "tags", out List<string>? tags, out why))
        {
            return false;
        }

        if (name is null || host is null || port is null || scheme is null)
        {
            why = "needs name, host, scheme and a port in 1..65535";
            return false;
        }

        service = new ServicePayload
        {
            Name = name, Host = host, Port = (int)port, Scheme = scheme, Endpoints = endpoints, Dependencies = dependencies, Tags = tags,
        };
        return true;
    }
}

/// <summary>The <c>claim</c> payload: who holds a host:port.</summary>
internal sealed class ClaimPayload
{
    public int V { get; set; } = KeySchema.Version;

    public string Service { get; set; } = "";

    public string Owner { get; set; } = "";

    public string ToJson() => JsonSerializer.Serialize(this, PayloadJson.Wire.ClaimPayload);

    public static ClaimPayload? Parse(string json) => JsonSerializer.Deserialize(json, PayloadJson.Default.ClaimPayload);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(RegistryPayload))]
[JsonSerializable(typeof(ClaimPayload))]
internal sealed partial class PayloadJson : JsonSerializerContext
{
    /// <summary>The generated metadata with the wire's text encoder (the attribute cannot name an encoder).</summary>
    /// <remarks>Made on first use: a static initializer here would run before the generated <see cref="Default"/> exists.</remarks>
    public static PayloadJson Wire => field ??= new(new JsonSerializerOptions(Default.Options) { Encoder = WireTextEncoder.Instance });
}
