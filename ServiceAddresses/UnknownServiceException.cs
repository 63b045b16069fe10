namespace Lilith.ServiceAddresses;

/// <summary>A service name the registry does not know; the message names it and the closest known names.</summary>
public sealed class UnknownServiceException : KeyNotFoundException
{
    /// <summary>Creates the exception for <paramref name="service"/> with the suggested names.</summary>
    public UnknownServiceException(string service, string environment, IReadOnlyList<string> suggestions)
        : base(Describe(service, environment, suggestions))
    {
        Service = service;
        Environment = environment;
        Suggestions = suggestions;
    }

    /// <summary>The name that was asked for.</summary>
    public string Service { get; }

    /// <summary>The registry's environment.</summary>
    public string Environment { get; }

    /// <summary>The closest known names, best first (may be empty).</summary>
    public IReadOnlyList<string> Suggestions { get; }

    private static string Describe(string service, string environment, IReadOnlyList<string> suggestions) =>
        $"Unknown service '{service}' in the service registry (environment '{environment}')." +
        (suggestions.Count == 0 ? "" : $" Did you mean {string.Join(" or ", suggestions.Select(s => $"'{s}'"))}?");
}
