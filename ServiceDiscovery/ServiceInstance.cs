namespace Lilith.ServiceDiscovery;

/// <summary>One running instance of a service: where it listens and how it describes itself.</summary>
public sealed record ServiceInstance
{
    /// <summary>Unique id of the instance within its service (for example <c>api-gateway-7f3c</c>).</summary>
    public required string Id { get; init; }

    /// <summary>Host name or IP address the instance listens on.</summary>
    public required string Host { get; init; }

    /// <summary>TCP port the instance listens on (1 to 65535).</summary>
    public required int Port { get; init; }

    /// <summary>URI scheme, <c>http</c> unless set.</summary>
    public string Scheme { get; init; } = "http";

    /// <summary>Relative weight for weighted load balancing (1 or more), 1 unless set.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>Free-form tags, indexed for filtering.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Free-form string metadata (not indexed).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EmptyMetadata;

    /// <summary>Availability zone, indexed for filtering; null when not set.</summary>
    public string? Zone { get; init; }

    /// <summary>Version of the running build, indexed for filtering; null when not set.</summary>
    public string? Version { get; init; }

    /// <summary>Health of the instance, <see cref="InstanceHealth.Passing"/> unless set.</summary>
    public InstanceHealth Health { get; init; } = InstanceHealth.Passing;

    /// <summary>The instance's base address, <c>scheme://host:port</c>.</summary>
    public Uri ToUri() => new UriBuilder(Scheme, Host, Port).Uri;

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata =
        new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(new Dictionary<string, string>());
}
