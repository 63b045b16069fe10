namespace Lilith.ServiceAddresses.Internal;

/// <summary>
/// A format-neutral tree of a registry document (YAML, JSON or configuration), each node with the line and
/// column it came from, so one reader builds the model and names positions for every format alike.
/// </summary>
internal abstract class RawNode(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    public abstract string Kind { get; }
}

internal sealed class RawScalar(string? value, int line, int column) : RawNode(line, column)
{
    /// <summary>The text of the scalar; null for YAML/JSON null.</summary>
    public string? Value { get; } = value;

    public override string Kind => "a scalar";
}

internal sealed class RawSequence(List<RawNode> items, int line, int column) : RawNode(line, column)
{
    public List<RawNode> Items { get; } = items;

    public override string Kind => "a list";
}

internal sealed record RawEntry(string Key, int Line, int Column, RawNode Value);

internal sealed class RawMapping(List<RawEntry> entries, int line, int column) : RawNode(line, column)
{
    /// <summary>Entries in document order, duplicates kept (the model reader reports them).</summary>
    public List<RawEntry> Entries { get; } = entries;

    public override string Kind => "a mapping";
}
