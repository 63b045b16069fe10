namespace Lilith.ServiceAddresses;

/// <summary>One service of the effective registry: where it listens in the current environment.</summary>
public sealed class ServiceAddress
{
    internal ServiceAddress(string name, string host, int port, string scheme, IReadOnlyDictionary<string, int> endpoints,
        IReadOnlyList<string> dependencies, IReadOnlyList<string> tags)
    {
        Name = name;
        Host = host;
        Port = port;
        Scheme = scheme;
        Endpoints = endpoints;
        Dependencies = dependencies;
        Tags = tags;
    }

    /// <summary>The service's name (<c>api-gateway</c>).</summary>
    public string Name { get; }

    /// <summary>The host it listens on.</summary>
    public string Host { get; }

    /// <summary>The port of its primary endpoint.</summary>
    public int Port { get; }

    /// <summary>The scheme of its primary endpoint (<c>http</c> unless the file says otherwise).</summary>
    public string Scheme { get; }

    /// <summary>Every endpoint, scheme -> port, the primary one included.</summary>
    public IReadOnlyDictionary<string, int> Endpoints { get; }

    /// <summary>The services it depends on directly, in file order.</summary>
    public IReadOnlyList<string> Dependencies { get; }

    /// <summary>Free-form tags.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>The URL of the endpoint with <paramref name="scheme"/> (the primary one when null).</summary>
    /// <exception cref="KeyNotFoundException">The service has no endpoint with that scheme.</exception>
    public Uri GetUrl(string? scheme = null)
    {
        scheme ??= Scheme;
        return Endpoints.TryGetValue(scheme, out int port)
            ? new Uri($"{scheme}://{FormatHost(Host)}:{port}/")
            : throw new KeyNotFoundException(
                $"Service '{Name}' has no '{scheme}' endpoint; it has {string.Join(", ", Endpoints.Keys.Select(k => $"'{k}'"))}.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Scheme}://{FormatHost(Host)}:{Port}";

    internal static string FormatHost(string host) => host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
}
