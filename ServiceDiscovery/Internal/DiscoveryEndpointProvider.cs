using System.Diagnostics.CodeAnalysis;
using System.Net;
using Lilith.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// Serves Microsoft.Extensions.ServiceDiscovery queries (<c>http://api-gateway</c>, <c>https+http://api-gateway</c>,
/// <c>http://_grpc.api-gateway</c>) from the discovery client's cache. Host names that cannot be service names
/// (IP addresses, names the key schema refuses) are left to the other providers.
/// </summary>
internal sealed class DiscoveryEndpointProviderFactory : IServiceEndpointProviderFactory
{
    private readonly DiscoveryClient _client;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;

    public DiscoveryEndpointProviderFactory(IServiceProvider services)
    {
        _client = services.GetService<DiscoveryClient>() ?? throw new InvalidOperationException(
            "AddLilithServiceEndpointProvider() needs Lilith service discovery: call services.AddServiceDiscovery(o => ...) " +
            "or services.AddInMemoryServiceDiscovery() of Lilith.ServiceDiscovery as well.");
        _time = services.GetRequiredService<TimeProvider>();
        _lifetime = services.GetRequiredService<IOptions<DiscoveryOptions>>().Value.RefreshInterval;
    }

    public bool TryCreateProvider(ServiceEndpointQuery query, [NotNullWhen(true)] out IServiceEndpointProvider? provider)
    {
        provider = null;
        if (IPAddress.TryParse(query.ServiceName, out _) || !IsServiceName(query.ServiceName))
        {
            return false;
        }

        provider = new DiscoveryEndpointProvider(_client, query, _time, _lifetime);
        return true;
    }

    private static bool IsServiceName(string name)
    {
        try
        {
            KeySchema.ValidateName(name, "service");
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>
/// One query's provider. Its change token fires on the next change of the service (registered, deregistered, expired,
/// health-changed, or a reload that found a difference) and in any case after <see cref="DiscoveryOptions.RefreshInterval"/>,
/// so Microsoft's watcher never keeps a stale list longer than the cache's own safety net.
/// </summary>
internal sealed class DiscoveryEndpointProvider : IServiceEndpointProvider
{
    private readonly DiscoveryClient _client;
    private readonly string _service;
    private readonly IReadOnlyList<string> _schemes;
    private readonly InstanceFilter? _filter;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private CancellationTokenSource? _expiry;

    public DiscoveryEndpointProvider(DiscoveryClient client, ServiceEndpointQuery query, TimeProvider time, TimeSpan lifetime)
    {
        _client = client;
        _service = query.ServiceName;
        _schemes = query.IncludedSchemes;

        // A named endpoint (http://_grpc.api-gateway) selects the instances carrying that tag. One filter object per
        // provider: the snapshot memoizes filter results by reference.
        _filter = string.IsNullOrEmpty(query.EndpointName) ? null : new InstanceFilter { Tags = [query.EndpointName] };
        _time = time;
        _lifetime = lifetime;
    }

    public async ValueTask PopulateAsync(IServiceEndpointBuilder endpoints, CancellationToken cancellationToken)
    {
        // An earlier provider (configuration, as an override) answered already.
        if (endpoints.Endpoints.Count != 0)
        {
            return;
        }

        (ServiceInstance[] instances, CancellationToken changed) =
            await _client.ResolveWithChangeTokenAsync(_service, _filter, cancellationToken).ConfigureAwait(false);
        var expiry = new CancellationTokenSource(_lifetime, _time);

        // The watcher drops its registration on the previous token before it populates again.
        Interlocked.Exchange(ref _expiry, expiry)?.Dispose();
        endpoints.AddChangeToken(new CancellationChangeToken(changed));
        endpoints.AddChangeToken(new CancellationChangeToken(expiry.Token));

        string? scheme = PreferredScheme(instances);
        foreach (ServiceInstance instance in instances)
        {
            if (scheme is null || string.Equals(instance.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
            {
                ServiceEndpoint endpoint = ServiceEndpoint.Create(new UriEndPoint(instance.ToUri()));
                endpoint.Features.Set<IServiceEndpointProvider>(this);
                endpoint.Features.Set(instance);
                endpoints.Endpoints.Add(endpoint);
            }
        }
    }

    /// <summary>
    /// The first scheme of the query (<c>https+http</c>: https, then http) that some instance uses; null when the query
    /// names no scheme (every instance). A scheme no instance uses yields no endpoint.
    /// </summary>
    private string? PreferredScheme(ServiceInstance[] instances)
    {
        if (_schemes.Count == 0)
        {
            return null;
        }

        foreach (string scheme in _schemes)
        {
            foreach (ServiceInstance instance in instances)
            {
                if (string.Equals(instance.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
                {
                    return scheme;
                }
            }
        }

        return _schemes[0];
    }

    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _expiry, null)?.Dispose();
        return default;
    }

    public override string ToString() => "Lilith.ServiceDiscovery";
}
