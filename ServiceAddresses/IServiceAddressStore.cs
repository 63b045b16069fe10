namespace Lilith.ServiceAddresses;

/// <summary>
/// Where effective registries are shared and ports are claimed: Redis (shared with the TypeScript and Python
/// siblings, schema/service-addresses.md) or in-memory (one process). Both pass the same contract tests.
/// </summary>
public interface IServiceAddressStore
{
    /// <summary>
    /// Publishes <paramref name="registry"/> as its environment's effective registry, replacing the previous one,
    /// and announces it; returns the new revision (1, 2, 3 ... per environment).
    /// </summary>
    ValueTask<long> PublishAsync(IServiceAddresses registry, CancellationToken cancellationToken = default);

    /// <summary>The registry last published for <paramref name="environment"/>, or null when none was.</summary>
    /// <exception cref="ServiceRegistryException">The stored registry cannot be read (the message says why).</exception>
    ValueTask<PublishedRegistry?> LoadAsync(string environment, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims <paramref name="host"/>:<paramref name="port"/> in <paramref name="environment"/> for
    /// <paramref name="service"/>, atomically across every process that uses the same store: null when someone
    /// else holds it. The claim lasts <see cref="ServiceAddressesOptions.ClaimTtl"/> and renews itself until disposed
    /// (<see cref="ServiceAddressesOptions.AutoRenewClaims"/>); <see cref="IPortClaim.Lost"/> fires if it is lost anyway.
    /// Dispose it to release it.
    /// </summary>
    ValueTask<IPortClaim?> TryClaimPortAsync(string environment, string host, int port, string service, CancellationToken cancellationToken = default);
}

/// <summary>A held claim on one host:port; disposing releases it (only if it is still this claim).</summary>
public interface IPortClaim : IAsyncDisposable
{
    /// <summary>The environment the claim is in.</summary>
    string Environment { get; }

    /// <summary>The claimed host.</summary>
    string Host { get; }

    /// <summary>The claimed port.</summary>
    int Port { get; }

    /// <summary>The service that claimed it.</summary>
    string Service { get; }

    /// <summary>
    /// Fires when the claim is lost while held: a renewal found it expired or taken by someone else, or no renewal
    /// succeeded in time. In the holder's view the claim ends a tenth of <see cref="ServiceAddressesOptions.ClaimTtl"/>
    /// before it can end in Redis, counted from when the last successful claim or renewal was <em>sent</em>, and this
    /// fires then even while a renewal is in flight (the renewal is cancelled): it fires before another process can
    /// take the port. It does not fire when the claim is disposed.
    /// </summary>
    CancellationToken Lost { get; }

    /// <summary>
    /// Extends the claim by the claim TTL from now; false when it was lost (expired, taken by someone else), which also
    /// fires <see cref="Lost"/>. A lost claim is never re-created by renewing. Claims renew themselves unless
    /// <see cref="ServiceAddressesOptions.AutoRenewClaims"/> is off.
    /// </summary>
    ValueTask<bool> RenewAsync(CancellationToken cancellationToken = default);
}

/// <summary>A registry read back from a store.</summary>
/// <param name="Revision">The revision it was published as.</param>
/// <param name="Registry">The registry.</param>
public sealed record PublishedRegistry(long Revision, IServiceAddresses Registry);
