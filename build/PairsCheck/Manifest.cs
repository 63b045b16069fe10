namespace Lilith.Build.PairsCheck;

/// <summary>One build/pairs/&lt;Folder&gt;.json file.</summary>
internal sealed record Manifest(
    string Package,
    string Folder,
    string Concern,
    string AddExtension,
    Siblings Siblings,
    IReadOnlyList<Pair> Pairs);

/// <summary>The sibling packages' names and versions.</summary>
internal sealed record Siblings(string Typescript, string Python);

/// <summary>
/// One sibling operation or feature, its name in each sibling, the C# member that pairs with it (null: none yet),
/// and what proves the pair: tests (<c>Namespace.Class.Method</c>) or golden vectors (<c>vectors/&lt;concern&gt;.json#&lt;id&gt;</c>).
/// </summary>
internal sealed record Pair(string? Feature, string? Typescript, string? Python, string? Csharp, IReadOnlyList<string>? ProvedBy);
