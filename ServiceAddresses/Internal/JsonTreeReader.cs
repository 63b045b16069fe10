using System.Text;
using System.Text.Json;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>
/// Reads JSON into a <see cref="RawNode"/> tree with <see cref="Utf8JsonReader"/>, keeping duplicate members
/// (a JsonDocument would hide them) and computing each token's line and column from its byte offset.
/// </summary>
internal static class JsonTreeReader
{
    public static RawNode Read(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                lineStarts.Add(i + 1);
            }
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!reader.Read())
        {
            return new RawMapping([], 1, 1);
        }

        RawNode root = ReadValue(ref reader, lineStarts);
        if (reader.Read())
        {
            (int line, int column) = Position(lineStarts, (int)reader.TokenStartIndex);
            throw new JsonException($"'{(char)utf8[reader.TokenStartIndex]}' after the end of the document", null, line - 1, column - 1);
        }

        return root;
    }

    private static RawNode ReadValue(ref Utf8JsonReader reader, List<int> lineStarts)
    {
        (int line, int column) = Position(lineStarts, (int)reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var entries = new List<RawEntry>();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    (int keyLine, int keyColumn) = Position(lineStarts, (int)reader.TokenStartIndex);
                    string key = reader.GetString()!;
                    reader.Read();
                    entries.Add(new RawEntry(key, keyLine, keyColumn, ReadValue(ref reader, lineStarts)));
                }

                return new RawMapping(entries, line, column);
            case JsonTokenType.StartArray:
                var items = new List<RawNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadValue(ref reader, lineStarts));
                }

                return new RawSequence(items, line, column);
            case JsonTokenType.String:
                return new RawScalar(reader.GetString(), line, column);
            case JsonTokenType.Null:
                return new RawScalar(null, line, column);
            default:
                // Numbers and booleans keep their JSON text, as YAML plain scalars do.
                return new RawScalar(Encoding.UTF8.GetString(reader.ValueSpan), line, column);
        }
    }

    private static (int Line, int Column) Position(List<int> lineStarts, int offset)
    {
        int index = lineStarts.BinarySearch(offset);
        int line = index >= 0 ? index : ~index - 1;
        return (line + 1, offset - lineStarts[line] + 1);
    }
}
