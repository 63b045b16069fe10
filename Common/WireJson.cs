using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lilith.Common;

/// <summary>
/// JSON conventions of the wire contract (schema/README.md, "Payloads"): camelCase members, compact output,
/// null members left out, enums as lowercase kebab-case strings, unknown members ignored on read, text escaped only
/// where JSON requires it (<see cref="WireTextEncoder"/>).
/// </summary>
internal static class WireJson
{
    /// <summary>Serializer options every payload of the schema is written and read with.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Options for a <see cref="Utf8JsonWriter"/> that writes a payload of the schema by hand.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = WireTextEncoder.Instance };

    /// <summary>Builds a fresh copy of the options, for callers that add a type resolver.</summary>
    public static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            NumberHandling = JsonNumberHandling.Strict,
            WriteIndented = false,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
            Encoder = WireTextEncoder.Instance,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
