using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lilith.DomainEvents;

/// <summary>
/// A CloudEvents 1.0 envelope in structured mode (the CloudEvents JSON format): the attributes, the
/// <c>traceparent</c> extension, any other extension (kept as read) and the data. This is what travels on a
/// stream, byte-compatible with the TypeScript and Python siblings (schema/domain-events.md).
/// </summary>
/// <example><code>
/// var e = new CloudEvent { Id = "1", Source = "/orders", Type = "com.example.order.placed.v1" };
/// string json = e.ToJson();
/// CloudEvent back = CloudEvent.Parse(json);
/// </code></example>
public sealed class CloudEvent
{
    /// <summary>The only CloudEvents version this type reads and writes.</summary>
    public const string SpecVersion10 = "1.0";

    // Written as JSON.stringify and json.dumps(ensure_ascii=False) write text: no \u0027 for ' or \u002B for +.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string? _lastValidSource;

    private static readonly string[] Known =
        ["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "traceparent", "data", "data_base64"];

    // In-process dispatch needs an id unique in this process only: a per-process prefix and a counter, formatted
    // only when a handler reads it (most never do), so a dispatch allocates no id string.
    private static readonly string LocalIdPrefix = Guid.NewGuid().ToString("N")[..12] + "-";
    private static long _localIdCounter;
    private readonly long _localId;
    private string? _id;

    /// <summary>Creates an event; set at least <see cref="Id"/>, <see cref="Source"/> and <see cref="Type"/>.</summary>
    public CloudEvent()
    {
    }

    /// <summary>An envelope for in-process dispatch, its id drawn from a process-wide counter.</summary>
    [SetsRequiredMembers]
#pragma warning disable CS8618 // Id is formatted from the counter when read.
    internal CloudEvent(string source, string type, DateTimeOffset time, string? traceParent)
    {
        _localId = Interlocked.Increment(ref _localIdCounter);
        Source = source;
        Type = type;
        Time = time;
        TraceParent = traceParent;
    }
#pragma warning restore CS8618

    /// <summary>Required: identifies the event; unique per <see cref="Source"/>.</summary>
    public required string Id
    {
        get => _id ?? (_localId == 0 ? null! : _id = LocalIdPrefix + _localId.ToString(CultureInfo.InvariantCulture));
        init => _id = value;
    }

    /// <summary>Required: URI-reference of the context that produced the event (<c>/orders-service</c>).</summary>
    public required string Source { get; init; }

    /// <summary>Required: the event type, versioned (<c>com.example.order.placed.v1</c>).</summary>
    public required string Type { get; init; }

    /// <summary>The CloudEvents version; always <c>1.0</c>.</summary>
    public string SpecVersion => SpecVersion10;

    /// <summary>Media type of <see cref="Data"/>; <c>application/json</c> when the publisher wrote JSON data.</summary>
    public string? DataContentType { get; init; }

    /// <summary>URI of the schema <see cref="Data"/> adheres to.</summary>
    public Uri? DataSchema { get; init; }

    /// <summary>The subject of the event in the context of the source (an aggregate id, say).</summary>
    public string? Subject { get; init; }

    /// <summary>When the occurrence happened.</summary>
    public DateTimeOffset? Time { get; init; }

    /// <summary>W3C trace context of the publisher (the Distributed Tracing extension), linking publish and handle spans.</summary>
    public string? TraceParent { get; init; }

    /// <summary>JSON data (written as the <c>data</c> member); null when the event has none or carries <see cref="DataBase64"/>.</summary>
    public JsonElement? Data { get; init; }

    /// <summary>Binary data (written as <c>data_base64</c>).</summary>
    public ReadOnlyMemory<byte>? DataBase64 { get; init; }

    /// <summary>Extension attributes other than <c>traceparent</c>, kept as read (string, number or boolean values).</summary>
    public IReadOnlyDictionary<string, JsonElement> Extensions { get; init; } = System.Collections.ObjectModel.ReadOnlyDictionary<string, JsonElement>.Empty;

    /// <summary>Checks the required attributes and the form of the optional ones.</summary>
    /// <exception cref="CloudEventFormatException">An attribute is missing or malformed; the message names it and its value.</exception>
    public void Validate()
    {
        Require(Id, "id");
        Require(Source, "source");
        Require(Type, "type");
        // A service publishes with one source: remember the last one that passed (Uri parsing dominates the cost).
        if (!ReferenceEquals(Source, _lastValidSource) && !Uri.TryCreate(Source, UriKind.RelativeOrAbsolute, out _))
        {
            throw new CloudEventFormatException($"CloudEvent attribute 'source' must be a URI-reference; '{Source}' is not.");
        }

        _lastValidSource = Source;
        if (Data is not null && DataBase64 is not null)
        {
            throw new CloudEventFormatException($"CloudEvent '{Id}' has both 'data' and 'data_base64'; at most one is allowed.");
        }

        foreach (string name in Extensions.Count == 0 ? [] : Extensions.Keys)
        {
            if (name.Length is 0 or > 20 || !name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9') || Array.IndexOf(Known, name) >= 0)
            {
                throw new CloudEventFormatException(
                    $"CloudEvent extension name '{name}' is not valid: extension names are 1 to 20 lowercase letters or digits and not a standard attribute.");
            }
        }
    }

    /// <summary>Writes the event in structured mode, compact, attributes first and data last.</summary>
    /// <param name="writer">Where to write.</param>
    /// <exception cref="CloudEventFormatException">The event is not valid.</exception>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Validate();
        writer.WriteStartObject();
        writer.WriteString("specversion", SpecVersion10);
        writer.WriteString("id", Id);
        writer.WriteString("source", Source);
        writer.WriteString("type", Type);
        WriteIfSet(writer, "datacontenttype", DataContentType);
        WriteIfSet(writer, "dataschema", DataSchema?.OriginalString);
        WriteIfSet(writer, "subject", Subject);
        if (Time is { } time)
        {
            Span<char> text = stackalloc char[32];
            time.UtcDateTime.TryFormat(text, out int written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            writer.WriteString("time", text[..written]);
        }

        WriteIfSet(writer, "traceparent", TraceParent);
        foreach (KeyValuePair<string, JsonElement> extension in Extensions)
        {
            writer.WritePropertyName(extension.Key);
            extension.Value.WriteTo(writer);
        }

        if (Data is { } data)
        {
            writer.WritePropertyName("data");
            data.WriteTo(writer);
        }
        else if (DataBase64 is { } bytes)
        {
            writer.WriteBase64String("data_base64", bytes.Span);
        }

        writer.WriteEndObject();
    }

    /// <summary>The structured-mode JSON as UTF-8 bytes.</summary>
    /// <exception cref="CloudEventFormatException">The event is not valid.</exception>
    public byte[] ToUtf8Json()
    {
        // One buffer and one writer per thread, reset for each event: the only allocation is the returned array.
        ArrayBufferWriter<byte> buffer = _buffer ??= new ArrayBufferWriter<byte>(512);
        Utf8JsonWriter writer = _writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            WriteTo(writer);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (buffer.Capacity > 64 * 1024)
            {
                // A large event does not keep its buffer alive on the thread.
                _buffer = null;
                _writer = null;
            }
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _writer;

    /// <summary>The structured-mode JSON text.</summary>
    /// <exception cref="CloudEventFormatException">The event is not valid.</exception>
    public string ToJson() => Encoding.UTF8.GetString(ToUtf8Json());

    /// <summary>Reads a structured-mode CloudEvent.</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="CloudEventFormatException">Not JSON, not an object, another spec version, or a required attribute missing.</exception>
    public static CloudEvent Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Reads a structured-mode CloudEvent from UTF-8 bytes.</summary>
    /// <param name="utf8Json">The JSON bytes.</param>
    /// <exception cref="CloudEventFormatException">Not JSON, not an object, another spec version, or a required attribute missing.</exception>
    public static CloudEvent Parse(ReadOnlyMemory<byte> utf8Json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException e)
        {
            throw new CloudEventFormatException($"The CloudEvent is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new CloudEventFormatException($"A structured CloudEvent is a JSON object; this is a JSON {root.ValueKind.ToString().ToLowerInvariant()}.");
            }

            string? specVersion = ReadString(root, "specversion");
            if (specVersion is null)
            {
                throw new CloudEventFormatException("The CloudEvent has no 'specversion' attribute.");
            }

            if (specVersion != SpecVersion10)
            {
                throw new CloudEventFormatException($"CloudEvents specversion '{specVersion}' is not known to this reader, which knows '{SpecVersion10}'.");
            }

            var extensions = new Dictionary<string, JsonElement>();
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (Array.IndexOf(Known, property.Name) < 0)
                {
                    // Extension values are CloudEvents scalars; null counts as absent (schema/README.md, "Reading a payload").
                    switch (property.Value.ValueKind)
                    {
                        case JsonValueKind.Null:
                            break;
                        case JsonValueKind.Object or JsonValueKind.Array:
                            throw new CloudEventFormatException(
                                $"CloudEvent extension '{property.Name}' must be a string, number or boolean; it is an {property.Value.ValueKind.ToString().ToLowerInvariant()}.");
                        default:
                            extensions[property.Name] = property.Value.Clone();
                            break;
                    }
                }
            }

            string? time = ReadString(root, "time");
            DateTimeOffset? parsedTime = null;
            if (time is not null)
            {
                parsedTime = DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t)
                    ? t
                    : throw new CloudEventFormatException($"CloudEvent attribute 'time' must be an RFC 3339 timestamp; '{time}' is not.");
            }

            string? dataSchema = ReadString(root, "dataschema");
            byte[]? dataBase64 = null;
            if (root.TryGetProperty("data_base64", out JsonElement b64) && b64.ValueKind != JsonValueKind.Null)
            {
                dataBase64 = b64.ValueKind == JsonValueKind.String && b64.TryGetBytesFromBase64(out byte[]? bytes)
                    ? bytes
                    : throw new CloudEventFormatException("CloudEvent member 'data_base64' is not a base64 string.");
            }

            var cloudEvent = new CloudEvent
            {
                Id = ReadString(root, "id") ?? string.Empty,
                Source = ReadString(root, "source") ?? string.Empty,
                Type = ReadString(root, "type") ?? string.Empty,
                DataContentType = ReadString(root, "datacontenttype"),
                DataSchema = dataSchema is null ? null : new Uri(dataSchema, UriKind.RelativeOrAbsolute),
                Subject = ReadString(root, "subject"),
                Time = parsedTime,
                TraceParent = ReadString(root, "traceparent"),
                Data = root.TryGetProperty("data", out JsonElement data) && data.ValueKind != JsonValueKind.Null ? data.Clone() : null,
                DataBase64 = dataBase64 is null ? default(ReadOnlyMemory<byte>?) : new ReadOnlyMemory<byte>(dataBase64),
                Extensions = extensions,
            };
            cloudEvent.Validate();
            return cloudEvent;
        }
    }

    private static string? ReadString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new CloudEventFormatException($"CloudEvent attribute '{name}' must be a string; it is {value.GetRawText()}.");
    }

    private static void Require(string? value, string name)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new CloudEventFormatException($"CloudEvent attribute '{name}' is required and must be a non-empty string.");
        }
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
