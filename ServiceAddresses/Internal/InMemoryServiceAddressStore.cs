using Microsoft.Extensions.Logging;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>The single-process store: the same contract as Redis, with expiry on the injected clock.</summary>
internal sealed class InMemoryServiceAddressStore(ClaimPolicy claims, ILogger logger) : IServiceAddressStore
{
    private readonly TimeProvider _time = claims.Time;
    private readonly TimeSpan _claimTtl = claims.Ttl;
    private readonly ILogger _logger = logger;
    private readonly object _gate = new();
    private readonly Dictionary<string, (long Revision, string Json)> _registries = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Environment, string Host, int Port), (string Token, DateTimeOffset Expires)> _claims = [];

    public ValueTask<long> PublishAsync(IServiceAddresses registry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        cancellationToken.ThrowIfCancellationRequested();
        string json = RegistryPayload.From(registry).ToJson();
        lock (_gate)
        {
            string environment = registry.Environment.ToLowerInvariant();
            long revision = _registries.TryGetValue(environment, out var current) ? current.Revision + 1 : 1;
            _registries[environment] = (revision, json);
            return new ValueTask<long>(revision);
        }
    }

    public ValueTask<PublishedRegistry?> LoadAsync(string environment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        cancellationToken.ThrowIfCancellationRequested();
        (long Revision, string Json) stored;
        lock (_gate)
        {
            if (!_registries.TryGetValue(environment.ToLowerInvariant(), out stored))
            {
                return new ValueTask<PublishedRegistry?>((PublishedRegistry?)null);
            }
        }

        return new ValueTask<PublishedRegistry?>(new PublishedRegistry(stored.Revision, RegistryPayload.Parse(stored.Json, $"in-memory registry '{environment}'").ToRegistry()));
    }

    public ValueTask<IPortClaim?> TryClaimPortAsync(string environment, string host, int port, string service, CancellationToken cancellationToken = default)
    {
        ClaimArguments.Check(environment, host, port, service);
        cancellationToken.ThrowIfCancellationRequested();
        var key = (environment.ToLowerInvariant(), ClaimArguments.NormalizeHost(host), port);
        string token = ClaimArguments.NewToken();
        long sentAt = _time.GetTimestamp();
        lock (_gate)
        {
            if (_claims.TryGetValue(key, out var held) && held.Expires > _time.GetUtcNow())
            {
                return new ValueTask<IPortClaim?>((IPortClaim?)null);
            }

            _claims[key] = (token, _time.GetUtcNow() + _claimTtl);
        }

        return new ValueTask<IPortClaim?>(new Claim(this, key, service, token).Start(claims, sentAt));
    }

    private sealed class Claim(InMemoryServiceAddressStore store, (string Environment, string Host, int Port) key, string service, string token)
        : PortClaim(key.Environment, key.Host, key.Port, service, store._logger)
    {
        protected override string Describe => $"{key.Environment}/{key.Host}:{key.Port}";

        protected override ValueTask<bool> RenewCoreAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (store._gate)
            {
                DateTimeOffset now = store._time.GetUtcNow();
                if (store._claims.TryGetValue(key, out var held) && held.Token == token && held.Expires > now)
                {
                    store._claims[key] = (token, now + store._claimTtl);
                    return new ValueTask<bool>(true);
                }

                return new ValueTask<bool>(false);
            }
        }

        protected override ValueTask ReleaseCoreAsync()
        {
            lock (store._gate)
            {
                if (store._claims.TryGetValue(key, out var held) && held.Token == token)
                {
                    store._claims.Remove(key);
                }
            }

            return default;
        }
    }
}

/// <summary>Argument rules shared by both stores.</summary>
internal static class ClaimArguments
{
    public static void Check(string environment, string host, int port, string service)
    {
        Lilith.Common.KeySchema.ValidateName(environment, "environment", nameof(environment));
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, $"port: {port} is not in 1..65535");
        }
    }

    /// <summary>
    /// The host as it stands in a claim key (schema/service-addresses.md, "Keys"): ASCII letters lowercased, one trailing
    /// dot removed, an IPv6 literal without its brackets. No name is resolved: localhost and 127.0.0.1 stay two hosts.
    /// </summary>
    public static string NormalizeHost(string host)
    {
        ReadOnlySpan<char> h = host;
        if (h.Length > 2 && h[0] == '[' && h[^1] == ']')
        {
            h = h[1..^1];
        }

        if (h.Length > 1 && h[^1] == '.')
        {
            h = h[..^1];
        }

        return string.Create(h.Length, h.ToString(), static (span, text) =>
        {
            for (int i = 0; i < text.Length; i++)
            {
                span[i] = text[i] is >= 'A' and <= 'Z' ? (char)(text[i] + ('a' - 'A')) : text[i];
            }
        });
    }

    /// <summary>A value no other claimer writes: machine, process, and a random part.</summary>
    public static string NewToken() => $"{System.Environment.MachineName}/{System.Environment.ProcessId}/{Guid.NewGuid():N}";
}
