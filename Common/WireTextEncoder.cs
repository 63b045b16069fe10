using System.Text.Encodings.Web;

namespace Lilith.Common;

/// <summary>
/// Writes JSON text the way the siblings do (schema/README.md, "Payloads"): as JavaScript's <c>JSON.stringify</c> and
/// Python's <c>json.dumps(ensure_ascii=False)</c>, escaping only <c>"</c>, <c>\</c> and the control characters
/// U+0000 to U+001F (<c>\n \r \t \b \f</c>, else <c>\u00xx</c> in lowercase hex). Everything else, non-ASCII and
/// characters outside the BMP included, is written as it is, UTF-8 encoded; the built-in encoders escape those.
/// </summary>
internal sealed class WireTextEncoder : JavaScriptEncoder
{
    /// <summary>The one instance.</summary>
    public static readonly WireTextEncoder Instance = new();

    private WireTextEncoder()
    {
    }

    /// <inheritdoc />
    public override int MaxOutputCharactersPerInputCharacter => 6; // \u00xx

    /// <inheritdoc />
    public override bool WillEncode(int unicodeScalar) => unicodeScalar is < 0x20 or '"' or '\\';

    /// <inheritdoc />
    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (int i = 0; i < textLength; i++)
        {
            char c = text[i];
            if (c is < (char)0x20 or '"' or '\\')
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < textLength && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i; // a lone surrogate: the writer replaces it, as UTF-8 cannot carry it
            }
        }

        return -1;
    }

    /// <inheritdoc />
    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        ReadOnlySpan<char> escaped = unicodeScalar switch
        {
            '\n' => @"\n",
            '\r' => @"\r",
            '\t' => @"\t",
            '\b' => @"\b",
            '\f' => @"\f",
            '"' => "\\\"",
            '\\' => @"\\",
            _ => default,
        };
        var destination = new Span<char>(buffer, bufferLength);
        if (escaped.IsEmpty)
        {
            if (unicodeScalar >= 0x20)
            {
                return new System.Text.Rune(unicodeScalar).TryEncodeToUtf16(destination, out numberOfCharactersWritten);
            }

            return destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"\\u{unicodeScalar:x4}", out numberOfCharactersWritten);
        }

        numberOfCharactersWritten = escaped.Length;
        return escaped.TryCopyTo(destination);
    }
}
