namespace Lilith.ServiceAddresses;

/// <summary>One problem found in a service registry: where it is and what is wrong.</summary>
/// <param name="Path">
/// The dotted path of the value (<c>services.api-gateway.port</c>, <c>services.web.dependencies[1]</c>);
/// empty for a document that cannot be read at all.
/// </param>
/// <param name="Message">What is wrong, naming the bad value.</param>
/// <param name="Line">The 1-based line in the file, when the source has lines; else 0.</param>
/// <param name="Column">The 1-based column in the file, when the source has lines; else 0.</param>
public sealed record RegistryError(string Path, string Message, int Line = 0, int Column = 0)
{
    /// <summary>The error as one line: <c>path: message</c>.</summary>
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}
