using System.Buffers;
using System.Text;
using System.Text.Json;
using Lilith.Common;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>
/// The <c>state</c> payload (schema/circuit-breaker.md): members v, breaker, state, changedAt, breakDurationMs,
/// opens, instance, in that order; breakDurationMs only for open, instance only when known.
/// </summary>
internal static class BreakerStatePayload
{
    public static string StateName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half-open",
        CircuitState.Isolated => "isolated",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown breaker state."),
    };

    public static string Write(BreakerStateSnapshot s)
    {
        var buffer = new ArrayBufferWriter<byte>(192);
        using (var w = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("v", KeySchema.Version);
            w.WriteString("breaker", s.Breaker);
            w.WriteString("state", StateName(s.State));
            w.WriteNumber("changedAt", s.ChangedAt);
            if (s.State == CircuitState.Open)
            {
                w.WriteNumber("breakDurationMs", (long)s.BreakDuration.TotalMilliseconds);
            }

            w.WriteNumber("opens", s.Opens);
            if (s.Instance is not null)
            {
                w.WriteString("instance", s.Instance);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Splits the payload around the changedAt number, so the write script can put the Redis server's clock there:
    /// head ends with <c>"changedAt":</c>, tail starts with the comma after the number.
    /// </summary>
    public static (string Head, string Tail) SplitForScript(BreakerStateSnapshot s)
    {
        string json = Write(s with { ChangedAt = 0 });
        const string Marker = "\"changedAt\":0";
        int at = json.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length - 1;
        return (json[..at], json[(at + 1)..]);
    }

    /// <summary>Reads a payload; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static BreakerStateSnapshot Read(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("the payload is not a JSON object");
            }

            int v = Required(root, "v").GetInt32();
            if (v > KeySchema.Version)
            {
                throw new FormatException($"schema version {v} is not known to this reader, which knows {KeySchema.Version}");
            }

            string breaker = Required(root, "breaker").GetString() ?? throw new FormatException("'breaker' is null");
            CircuitState state = Required(root, "state").GetString() switch
            {
                "closed" => CircuitState.Closed,
                "open" => CircuitState.Open,
                "half-open" => CircuitState.HalfOpen,
                "isolated" => CircuitState.Isolated,
                var other => throw new FormatException($"'state' is '{other}', expected closed, open, half-open or isolated"),
            };
            long changedAt = Required(root, "changedAt").GetInt64();
            long breakMs = root.TryGetProperty("breakDurationMs", out JsonElement b) ? b.GetInt64() : 0;
            int opens = root.TryGetProperty("opens", out JsonElement o) ? o.GetInt32() : 0;
            string? instance = root.TryGetProperty("instance", out JsonElement i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            if (state == CircuitState.Open && breakMs <= 0)
            {
                throw new FormatException("an open state needs a positive 'breakDurationMs'");
            }

            return new BreakerStateSnapshot(breaker, state, TimeSpan.FromMilliseconds(breakMs), opens, instance, changedAt);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static JsonElement Required(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) ? value : throw new FormatException($"the member '{name}' is missing");
}
