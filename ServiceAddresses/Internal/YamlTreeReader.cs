using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>Reads YAML into a <see cref="RawNode"/> tree with YamlDotNet's parser (events keep positions).</summary>
internal static class YamlTreeReader
{
    public static RawNode Read(TextReader text)
    {
        var parser = new Parser(text);
        var anchors = new Dictionary<string, RawNode>(StringComparer.Ordinal);
        parser.Consume<StreamStart>();
        if (parser.TryConsume<StreamEnd>(out _))
        {
            return new RawMapping([], 1, 1);
        }

        parser.Consume<DocumentStart>();
        RawNode root = ReadNode(parser, anchors);
        parser.Consume<DocumentEnd>();
        if (!parser.TryConsume<StreamEnd>(out _) && parser.Current is { } next)
        {
            throw new YamlException(next.Start, next.End, "the registry must be a single YAML document, but a second one starts here");
        }

        return root;
    }

    private static RawNode ReadNode(IParser parser, Dictionary<string, RawNode> anchors)
    {
        if (parser.TryConsume<AnchorAlias>(out AnchorAlias? alias))
        {
            return anchors.TryGetValue(alias.Value.Value, out RawNode? target)
                ? target
                : throw new YamlException(alias.Start, alias.End, $"the alias *{alias.Value.Value} names no anchor defined before it");
        }

        RawNode node;
        string? anchor;
        if (parser.TryConsume<Scalar>(out Scalar? scalar))
        {
            bool isNull = scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";
            node = new RawScalar(isNull ? null : scalar.Value, Line(scalar.Start), Column(scalar.Start));
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
        }
        else if (parser.TryConsume<SequenceStart>(out SequenceStart? sequenceStart))
        {
            var items = new List<RawNode>();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                items.Add(ReadNode(parser, anchors));
            }

            node = new RawSequence(items, Line(sequenceStart.Start), Column(sequenceStart.Start));
            anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
        }
        else
        {
            MappingStart mappingStart = parser.Consume<MappingStart>();
            var entries = new List<RawEntry>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                ParsingEvent keyEvent = parser.Current!;
                RawNode key = ReadNode(parser, anchors);
                if (key is not RawScalar { Value: { } keyText })
                {
                    throw new YamlException(keyEvent.Start, keyEvent.End, "a mapping key must be a plain text scalar");
                }

                entries.Add(new RawEntry(keyText, key.Line, key.Column, ReadNode(parser, anchors)));
            }

            node = new RawMapping(entries, Line(mappingStart.Start), Column(mappingStart.Start));
            anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
        }

        if (anchor is not null)
        {
            anchors[anchor] = node;
        }

        return node;
    }

    private static int Line(Mark mark) => (int)mark.Line;

    private static int Column(Mark mark) => (int)mark.Column;
}
