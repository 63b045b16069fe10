namespace Lilith.ServiceAddresses;

/// <summary>A service registry cannot be used; <see cref="Errors"/> lists every problem, each with its path.</summary>
public sealed class ServiceRegistryException : Exception
{
    /// <summary>Creates the exception for <paramref name="source"/> (a file path or a description) and its errors.</summary>
    public ServiceRegistryException(string source, IReadOnlyList<RegistryError> errors)
        : base(Describe(source, errors))
    {
        ArgumentNullException.ThrowIfNull(errors);
        Source = source;
        Errors = errors;
    }

    /// <summary>Every problem found, in document order.</summary>
    public IReadOnlyList<RegistryError> Errors { get; }

    /// <summary>The file path or description of the registry.</summary>
    public new string Source { get; }

    internal static string Describe(string source, IReadOnlyList<RegistryError> errors) =>
        $"The service registry {source} has {errors.Count} error{(errors.Count == 1 ? "" : "s")}:" + Environment.NewLine +
        string.Join(Environment.NewLine, errors.Select(e => "- " + e));
}
