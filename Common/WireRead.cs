using System.Text.Json;

namespace Lilith.Common;

/// <summary>
/// Reads members of a payload by the schema's one reading rule (schema/README.md, "Reading a payload"): a member that
/// is absent or JSON <c>null</c> counts as absent; a member present with any other value must have its documented type
/// and range, else the payload is unreadable (nothing is coerced: <c>"8080"</c> is not a port). An integer is a JSON
/// number with a whole value: <c>8080</c>, <c>8080.0</c> and <c>8.08e3</c> alike. Each method returns false when the
/// member is present but wrong, with the reason in <c>why</c>.
/// </summary>
internal static class WireRead
{
    /// <summary>A string member; null when absent. <paramref name="nonEmpty"/> refuses <c>""</c>.</summary>
    public static bool TryString(JsonElement payload, string name, bool nonEmpty, out string? value, out string? why)
    {
        value = null;
        why = null;
        if (!TryGet(payload, name, out JsonElement member))
        {
            return true;
        }

        if (member.ValueKind != JsonValueKind.String || (nonEmpty && member.GetString()!.Length == 0))
        {
            why = $"{name}: must be {(nonEmpty ? "a non-empty" : "a")} string, not {Describe(member)}";
            return false;
        }

        value = member.GetString();
        return true;
    }

    /// <summary>An integer member in <paramref name="min"/>..<paramref name="max"/>; null when absent.</summary>
    public static bool TryInteger(JsonElement payload, string name, long min, long max, out long? value, out string? why)
    {
        value = null;
        why = null;
        if (!TryGet(payload, name, out JsonElement member))
        {
            return true;
        }

        if (!TryWholeNumber(member, min, max, out long number))
        {
            why = $"{name}: must be a whole number in {min}..{max}, not {Describe(member)}";
            return false;
        }

        value = number;
        return true;
    }

    /// <summary>An array-of-strings member; null when absent.</summary>
    public static bool TryStrings(JsonElement payload, string name, out List<string>? value, out string? why)
    {
        value = null;
        why = null;
        if (!TryGet(payload, name, out JsonElement member))
        {
            return true;
        }

        if (member.ValueKind != JsonValueKind.Array || member.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            why = $"{name}: must be an array of strings, not {Describe(member)}";
            return false;
        }

        value = member.EnumerateArray().Select(e => e.GetString()!).ToList();
        return true;
    }

    /// <summary>An object member whose values are integers in <paramref name="min"/>..<paramref name="max"/>; null when absent.</summary>
    public static bool TryIntegerMap(JsonElement payload, string name, long min, long max, out Dictionary<string, int>? value, out string? why)
    {
        value = null;
        why = null;
        if (!TryGet(payload, name, out JsonElement member))
        {
            return true;
        }

        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        if (member.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty entry in member.EnumerateObject())
            {
                if (!TryWholeNumber(entry.Value, min, max, out long number))
                {
                    why = $"{name}.{entry.Name}: must be a whole number in {min}..{max}, not {Describe(entry.Value)}";
                    return false;
                }

                map[entry.Name] = checked((int)number);
            }

            value = map;
            return true;
        }

        why = $"{name}: must be an object, not {Describe(member)}";
        return false;
    }

    /// <summary>A JSON number with a whole value in range (<c>8080</c>, <c>8080.0</c>, <c>8.08e3</c>).</summary>
    public static bool TryWholeNumber(JsonElement member, long min, long max, out long number)
    {
        number = 0;
        if (member.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        if (!member.TryGetInt64(out number))
        {
            if (!member.TryGetDouble(out double d) || Math.Floor(d) != d || d < min || d > max)
            {
                return false;
            }

            number = (long)d;
        }

        return number >= min && number <= max;
    }

    private static bool TryGet(JsonElement payload, string name, out JsonElement member) =>
        payload.TryGetProperty(name, out member) && member.ValueKind != JsonValueKind.Null;

    private static string Describe(JsonElement member) => member.ValueKind switch
    {
        JsonValueKind.String => $"the string {Shorten(member.GetRawText())}",
        JsonValueKind.Number => $"the number {Shorten(member.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {member.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => member.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
