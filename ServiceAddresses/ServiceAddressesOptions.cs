using Microsoft.Extensions.Configuration;

namespace Lilith.ServiceAddresses;

/// <summary>Which store shares registries and port claims.</summary>
public enum ServiceAddressesBackend
{
    /// <summary>This process only (development, tests, single-process services).</summary>
    InMemory,

    /// <summary>Redis, shared with every process and language of the fleet.</summary>
    Redis,
}

/// <summary>Options of Lilith.ServiceAddresses (configuration section <c>ServiceAddresses</c>).</summary>
public sealed class ServiceAddressesOptions
{
    /// <summary>The configuration section the options are read from by default.</summary>
    public const string SectionName = "ServiceAddresses";

    /// <summary>The registry file (<c>.yaml</c>, <c>.yml</c> or <c>.json</c>). Needed unless the registry is given in configuration.</summary>
    public string? RegistryPath { get; set; }

    /// <summary>The environment; null means <c>DOTNET_ENVIRONMENT</c>, else <c>ASPNETCORE_ENVIRONMENT</c>, else <c>production</c>.</summary>
    public string? Environment { get; set; }

    /// <summary>At start, also check that every port of this machine's services (localhost, loopback) is free.</summary>
    public bool CheckPortsFree { get; set; }

    /// <summary>
    /// Last-word overrides per service, applied after the file's environment overrides (configuration:
    /// <c>ServiceAddresses:Overrides:api-gateway:Port</c>, or the environment variable
    /// <c>ServiceAddresses__Overrides__api-gateway__Port</c>).
    /// </summary>
    public IDictionary<string, ServiceOverride> Overrides { get; } = new Dictionary<string, ServiceOverride>(StringComparer.Ordinal);

    /// <summary>
    /// The store for published registries and port claims. Null (the default): Redis when <see cref="ConnectionString"/>
    /// is set or an <c>IConnectionMultiplexer</c> is registered; with neither, resolving the store fails and says how to
    /// choose. In-memory only when set to <see cref="ServiceAddressesBackend.InMemory"/>: a claim there is seen by this
    /// process alone. The registry itself (<see cref="IServiceAddresses"/>) needs no store.
    /// </summary>
    public ServiceAddressesBackend? Backend { get; set; }

    /// <summary>Redis connection string (<c>redis://host:6379</c> or a StackExchange.Redis string); null uses the registered IConnectionMultiplexer.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The key prefix (default <c>lilith</c>).</summary>
    public string KeyPrefix { get; set; } = "lilith";

    /// <summary>How long a port claim lasts unless renewed (default 30 s).</summary>
    public TimeSpan ClaimTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a port claim renews itself every third of <see cref="ClaimTtl"/> until it is disposed (default true).
    /// When a renewal finds the claim gone, or no renewal succeeds within the TTL less a tenth of it (counted from when
    /// the last successful one was sent), <see cref="IPortClaim.Lost"/> fires, before another process can take the port.
    /// </summary>
    public bool AutoRenewClaims { get; set; } = true;

    /// <summary>A configuration section holding the registry itself (members services, environments), instead of a file.</summary>
    internal IConfiguration? RegistrySection { get; set; }

    /// <summary>Problems met while reading these options from configuration, reported by validation.</summary>
    internal List<RegistryError> BindErrors { get; } = [];

    /// <summary>The registry loaded and validated at start by the options validator.</summary>
    internal ServiceRegistry? Loaded { get; set; }
}

/// <summary>What the configuration changes for one service.</summary>
public sealed class ServiceOverride
{
    /// <summary>A new host, or null to keep it.</summary>
    public string? Host { get; set; }

    /// <summary>A new primary port, or null to keep it.</summary>
    public int? Port { get; set; }

    /// <summary>A new primary scheme, or null to keep it.</summary>
    public string? Scheme { get; set; }
}
