using Lilith.Common;
using Lilith.DistributedLock;
using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers <see cref="IDistributedLockProvider"/>, <see cref="IDistributedSemaphoreProvider"/> and
/// <see cref="IDistributedReaderWriterLockProvider"/> (one provider serves all three).
/// </summary>
public static class DistributedLockServiceCollectionExtensions
{
    /// <summary>
    /// Registers the lock provider with default options: Redis through the registered <c>IConnectionMultiplexer</c>; the
    /// host fails at start when none is registered (name <see cref="DistributedLockBackend.InMemory"/> to lock in this process only).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddDistributedLock(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return AddCore(services);
    }

    /// <summary>Registers the lock provider; options are validated when the host starts.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options, e.g. <c>o =&gt; o.Backend = DistributedLockBackend.Redis</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <example>
    /// <code>
    /// services.AddDistributedLock(o =&gt;
    /// {
    ///     o.Backend = DistributedLockBackend.Redis;
    ///     o.ConnectionString = "redis://localhost:6379";
    /// });
    /// </code>
    /// </example>
    public static IServiceCollection AddDistributedLock(this IServiceCollection services, Action<DistributedLockOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.AddOptions<DistributedLockOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DistributedLockOptions>, DistributedLockOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IDistributedLockProvider>(Create);
        services.TryAddSingleton<IDistributedSemaphoreProvider>(static sp => (IDistributedSemaphoreProvider)sp.GetRequiredService<IDistributedLockProvider>());
        services.TryAddSingleton<IDistributedReaderWriterLockProvider>(static sp => (IDistributedReaderWriterLockProvider)sp.GetRequiredService<IDistributedLockProvider>());
        return services;
    }

    private static LockProvider Create(IServiceProvider services)
    {
        DistributedLockOptions options = services.GetRequiredService<IOptions<DistributedLockOptions>>().Value;
        TimeProvider time = services.GetRequiredService<TimeProvider>();
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger(DistributedLockDefaults.PackageName) ?? NullLogger.Instance;
        ILockBackend backend;
        if (BackendChoice.UseRedis(services, DistributedLockOptionsValidator.AskedForRedis(options), options.ConnectionString, nameof(DistributedLockOptions.Backend)))
        {
            RedisConnectionSource connection = RedisConnectionSource.Resolve(services, options.ConnectionString, DistributedLockDefaults.PackageName);
            BackendChoice.LogRedis(logger, DistributedLockDefaults.PackageName, connection.Description);
            backend = new RedisLockBackend(connection, new LockKeys(options.KeyPrefix), new ReplicaAcknowledgement(options.ReplicaAcknowledgements, options.ReplicaAcknowledgementTimeout));
        }
        else
        {
            BackendChoice.LogInMemory(logger, DistributedLockDefaults.PackageName);
            backend = new InMemoryLockBackend(time);
        }

        return new LockProvider(backend, LockProviderSettings.From(options), time, logger);
    }
}
