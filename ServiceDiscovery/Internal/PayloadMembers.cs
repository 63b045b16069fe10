using System.Text.Json;
using Lilith.Common;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// The one reading rule for every member of every discovery payload (schema/service-discovery.md, "Reading a payload"):
/// a member that is absent or JSON null counts as absent, so an optional one takes its default and a required one makes
/// the payload unreadable; a member present with any other value must have its documented type and range, or the whole
/// payload is unreadable. The first failure is kept in <see cref="Error"/>; later reads then return defaults.
/// </summary>
internal struct PayloadMembers(JsonElement root)
{
    /// <summary>Why the payload cannot be read, or null while every member read so far was fine.</summary>
    public string? Error { get; private set; }

    public readonly bool Failed => Error is not null;

    /// <summary>The member's value when it is present and not null.</summary>
    public readonly bool TryGet(string name, out JsonElement value) =>
        root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public string? String(string name, bool required, bool nonEmpty = false)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return Missing(name, required);
        }

        if (e.ValueKind != JsonValueKind.String || (nonEmpty && e.GetString()!.Length == 0))
        {
            return Fail<string>(name, nonEmpty ? "a non-empty string" : "a string", e);
        }

        return e.GetString();
    }

    public long? Integer(string name, bool required, long min, long max)
    {
        if (!TryGet(name, out JsonElement e))
        {
            Missing(name, required);
            return null;
        }

        if (!TryWhole(e, out long value) || value < min || value > max)
        {
            Fail<string>(name, $"an integer from {min} to {max}", e);
            return null;
        }

        return value;
    }

    /// <summary>An array of strings; null when absent (and optional) or unreadable.</summary>
    public List<string>? Strings(string name)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return null;
        }

        if (e.ValueKind == JsonValueKind.Array)
        {
            var list = new List<string>(e.GetArrayLength());
            foreach (JsonElement item in e.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    return Fail<List<string>>(name, "an array of strings", e);
                }

                list.Add(item.GetString()!);
            }

            return list;
        }

        return Fail<List<string>>(name, "an array of strings", e);
    }

    /// <summary>An object of string values; null when absent (and optional) or unreadable.</summary>
    public Dictionary<string, string>? StringMap(string name)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return null;
        }

        if (e.ValueKind == JsonValueKind.Object)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty pair in e.EnumerateObject())
            {
                if (pair.Value.ValueKind != JsonValueKind.String)
                {
                    return Fail<Dictionary<string, string>>(name, "an object of string values", e);
                }

                map[pair.Name] = pair.Value.GetString()!;
            }

            return map;
        }

        return Fail<Dictionary<string, string>>(name, "an object of string values", e);
    }

    /// <summary>The required <c>v</c> member: an integer from 1 to the schema version this reader knows.</summary>
    public bool Version()
    {
        if (Integer("v", required: true, 1, long.MaxValue) is not { } version)
        {
            return false;
        }

        if (version > KeySchema.Version)
        {
            Error ??= $"schema version {version} is not known to this reader, which knows {KeySchema.Version}";
            return false;
        }

        return true;
    }

    /// <summary>Records a failure of the caller's own check (an enum value, a cross-member rule).</summary>
    public T? Fail<T>(string name, string expected, JsonElement found)
        where T : class
    {
        Error ??= $"member {name} is not {expected} (found {Describe(found)})";
        return null;
    }

    private string? Missing(string name, bool required)
    {
        if (required)
        {
            Error ??= $"required member {name} is missing or null";
        }

        return null;
    }

    /// <summary>A JSON number with a whole value: 8080, 8080.0 and 8.08e3 alike (what every JSON library can tell).</summary>
    private static bool TryWhole(JsonElement e, out long value)
    {
        value = 0;
        if (e.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        if (e.TryGetInt64(out value))
        {
            return true;
        }

        if (e.TryGetDouble(out double d) && double.IsInteger(d) && d is >= -9.007199254740992e15 and <= 9.007199254740992e15)
        {
            value = (long)d;
            return true;
        }

        return false;
    }

    private static string Describe(JsonElement e)
    {
        string text = e.ValueKind switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "the number " + e.GetRawText(),
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            _ => e.ValueKind.ToString(),
        };
        return text.Length > 64 ? text[..64] + "..." : text;
    }
}
