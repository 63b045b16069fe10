using System.Text.RegularExpressions;

namespace Lilith.Common;

/// <summary>
/// The conventions every key of the shared Redis schema follows (schema/README.md, "Keys"):
/// <c>&lt;prefix&gt;:&lt;concern&gt;:{&lt;tag&gt;}[:&lt;suffix&gt;]</c>. The part in braces is the Redis Cluster
/// hash tag, so all keys one script touches land in one slot.
/// </summary>
internal static partial class KeySchema
{
    /// <summary>The schema version this build reads and writes.</summary>
    public const int Version = 1;

    /// <summary>The prefix used when none is configured.</summary>
    public const string DefaultPrefix = "lilith";

    /// <summary>Longest accepted name (lock name, service name, stream name ...), in Unicode code points.</summary>
    public const int MaxNameLength = 256;

    /// <summary>Checks a key prefix and returns it; the message names the option and the bad value.</summary>
    /// <exception cref="ArgumentException">The prefix breaks the schema's prefix rule.</exception>
    public static string ValidatePrefix(string? prefix, string optionName = "KeyPrefix") =>
        DescribePrefixError(prefix, optionName) is { } error ? throw new ArgumentException(error, optionName) : prefix!;

    /// <summary>Returns null when <paramref name="prefix"/> is valid, else the reason it is not, naming the option and the value.</summary>
    public static string? DescribePrefixError(string? prefix, string optionName = "KeyPrefix") =>
        prefix is not null && PrefixRule().IsMatch(prefix)
            ? null
            : $"{optionName}: '{prefix}' is not a valid key prefix. A prefix is 1 to 64 characters of " +
              "letters, digits, '.', '_', '-' or ':', starting and ending with a letter or digit.";

    /// <summary>
    /// Checks a name that becomes a hash tag (lock, service, breaker, stream, environment) and returns it: 1 to
    /// <see cref="MaxNameLength"/> Unicode code points (a character outside the BMP counts once, as in Python's
    /// <c>len</c> and JavaScript's <c>[...s].length</c>), no brace, no control character (category Cc), and valid
    /// Unicode (no lone surrogate, which UTF-8 cannot encode). Braces would move the Redis Cluster hash tag and control
    /// characters break logs and channels.
    /// </summary>
    /// <exception cref="ArgumentException">The name breaks the rule.</exception>
    public static string ValidateName(string? name, string what, string paramName = "name")
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"The {what} name must not be empty.", paramName);
        }

        int codePoints = 0;
        for (int i = 0; i < name.Length; i++, codePoints++)
        {
            char c = name[i];
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }

            if (c is '{' or '}' || char.IsControl(c) || char.IsSurrogate(c))
            {
                string shown = c is '{' or '}' ? c.ToString() : $"\\u{(int)c:x4}";
                throw new ArgumentException(
                    $"The {what} name '{name}' contains '{shown}', which the key schema does not allow in a name " +
                    "(no braces, no control characters, no lone surrogates).", paramName);
            }
        }

        if (codePoints > MaxNameLength)
        {
            throw new ArgumentException(
                $"The {what} name '{name[..32]}...' is {codePoints} code points long; the limit is {MaxNameLength}.", paramName);
        }

        return name;
    }

    /// <summary>Builds <c>&lt;prefix&gt;:&lt;concern&gt;:{&lt;tag&gt;}</c>.</summary>
    public static string Tagged(string prefix, string concern, string tag) => $"{prefix}:{concern}:{{{tag}}}";

    /// <summary>Builds <c>&lt;prefix&gt;:&lt;concern&gt;:{&lt;tag&gt;}:&lt;suffix&gt;</c>.</summary>
    public static string Tagged(string prefix, string concern, string tag, string suffix) =>
        $"{prefix}:{concern}:{{{tag}}}:{suffix}";

    /// <summary>Builds an untagged key or channel <c>&lt;prefix&gt;:&lt;concern&gt;:&lt;suffix&gt;</c>.</summary>
    public static string Plain(string prefix, string concern, string suffix) => $"{prefix}:{concern}:{suffix}";

    // \A and \z, not ^ and $: .NET's $ also matches before a final newline, which would let "lilith\n" through.
    [GeneratedRegex(@"\A[A-Za-z0-9](?:[A-Za-z0-9._:-]{0,62}[A-Za-z0-9])?\z", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixRule();
}
