using System.Diagnostics.CodeAnalysis;

namespace Lilith.ServiceAddresses;

/// <summary>
/// The effective service registry of one environment: where every service listens and what it depends on.
/// Lookups are plain dictionary reads (no I/O, no allocation).
/// </summary>
/// <example>
/// <code>
/// int port = addresses.GetPort("api-gateway");
/// Uri url = addresses.GetUrl("api-gateway", "https");
/// </code>
/// </example>
public interface IServiceAddresses
{
    /// <summary>The environment this registry is effective for (lowercase, <c>production</c>).</summary>
    string Environment { get; }

    /// <summary>Every service, in file order.</summary>
    IReadOnlyList<ServiceAddress> Services { get; }

    /// <summary>The service named <paramref name="service"/>.</summary>
    /// <exception cref="UnknownServiceException">No such service; the message names the closest known ones.</exception>
    ServiceAddress GetService(string service);

    /// <summary>The service named <paramref name="service"/>, or false.</summary>
    bool TryGetService(string service, [NotNullWhen(true)] out ServiceAddress? address);

    /// <summary>The port of the service's primary endpoint.</summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    int GetPort(string service);

    /// <summary>The port of the service's endpoint with <paramref name="scheme"/>.</summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    /// <exception cref="KeyNotFoundException">The service has no such endpoint.</exception>
    int GetPort(string service, string scheme);

    /// <summary>The port of the service's primary endpoint, or false.</summary>
    bool TryGetPort(string service, out int port);

    /// <summary>The service's host.</summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    string GetHost(string service);

    /// <summary>The service's host, or false.</summary>
    bool TryGetHost(string service, [NotNullWhen(true)] out string? host);

    /// <summary>The URL of the service's endpoint with <paramref name="scheme"/> (the primary one when null).</summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    /// <exception cref="KeyNotFoundException">The service has no such endpoint.</exception>
    Uri GetUrl(string service, string? scheme = null);

    /// <summary>The URL of the service's endpoint with <paramref name="scheme"/>, or false.</summary>
    bool TryGetUrl(string service, string? scheme, [NotNullWhen(true)] out Uri? url);

    /// <summary>The service's dependencies: direct ones in file order, or (transitive) every one, dependencies first.</summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    IReadOnlyList<string> GetDependencies(string service, bool transitive = false);

    /// <summary>Every service in an order where each one comes after all of its dependencies.</summary>
    IReadOnlyList<string> GetStartOrder();

    /// <summary>
    /// The start order of <paramref name="service"/> and everything it needs: its transitive dependencies,
    /// each after its own, then the service itself.
    /// </summary>
    /// <exception cref="UnknownServiceException">No such service.</exception>
    IReadOnlyList<string> GetStartOrder(string service);
}
