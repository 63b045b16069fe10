using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.Common;

/// <summary>
/// The family's rule for a coordination package's backend (README, "Conventions"): Redis when asked for, or when
/// nothing was asked for and a connection is configured for the package (its ConnectionString option, or an
/// <see cref="IConnectionMultiplexer"/> registered in DI); in-memory only when asked for by name. A package never falls
/// back to memory silently: with nothing asked for and no connection, the host fails at start and says how to choose.
/// </summary>
internal static partial class BackendChoice
{
    /// <summary>Says once, when the backend is made, that the package coordinates through Redis, and where (no secrets).</summary>
    [LoggerMessage(EventId = 900, Level = LogLevel.Information, Message = "{Package} uses the Redis backend ({Connection})")]
    public static partial void LogRedis(ILogger logger, string package, string connection);

    /// <summary>Says once, when the backend is made, that the package coordinates within this process only.</summary>
    [LoggerMessage(EventId = 901, Level = LogLevel.Information, Message = "{Package} uses the in-memory backend: nothing is shared with other processes")]
    public static partial void LogInMemory(ILogger logger, string package);

    /// <summary>
    /// True for Redis, false for in-memory. <paramref name="askedForRedis"/> is the package's Backend option: true for
    /// Redis, false for in-memory, null when not set.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing was asked for and no connection is configured.</exception>
    public static bool UseRedis(IServiceProvider services, bool? askedForRedis, string? connectionString, string backendPath) =>
        askedForRedis ?? (HasConnection(services, connectionString) ? true : throw new InvalidOperationException(NoChoiceMessage(backendPath)));

    /// <summary>
    /// Null when the options make a choice possible, else the reason, naming <paramref name="backendPath"/>: for the
    /// package's options validator, so a host without a choice fails at start.
    /// </summary>
    public static string? Validate(IServiceProvider services, bool? askedForRedis, string? connectionString, string backendPath) =>
        askedForRedis is null && !HasConnection(services, connectionString) ? NoChoiceMessage(backendPath) : null;

    /// <summary>Whether a Redis connection is configured: a connection string, or a registered multiplexer (not created here).</summary>
    public static bool HasConnection(IServiceProvider services, string? connectionString) =>
        !string.IsNullOrWhiteSpace(connectionString)
        || (services.GetService<IServiceProviderIsService>() is { } isService
            ? isService.IsService(typeof(IConnectionMultiplexer))
            : services.GetService<IConnectionMultiplexer>() is not null);

    private static string NoChoiceMessage(string backendPath) =>
        $"{backendPath}: no backend is chosen and no Redis connection is configured. Set the ConnectionString option or " +
        "register an IConnectionMultiplexer to coordinate through Redis, or set the backend to InMemory for a single process " +
        "(development and tests; nothing is shared with other processes).";
}
