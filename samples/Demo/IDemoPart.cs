using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Demo;

/// <summary>Which backend the demo runs on.</summary>
/// <param name="RedisConnectionString">Null for the in-memory backends, else the Redis to use.</param>
public sealed record DemoBackend(string? RedisConnectionString)
{
    /// <summary>True when the demo talks to a real Redis.</summary>
    public bool IsRedis => RedisConnectionString is not null;
}

/// <summary>
/// One package's part of the demo. Every non-abstract implementation in this assembly is found and run, in
/// <see cref="Order"/>; a package adds its part by adding one file under Parts/.
/// </summary>
public interface IDemoPart
{
    /// <summary>Position in the run (lower first).</summary>
    int Order { get; }

    /// <summary>What the part shows, as its heading.</summary>
    string Title { get; }

    /// <summary>Registers the package with <c>AddXxx</c>, for the chosen backend.</summary>
    void Configure(IServiceCollection services, DemoBackend backend);

    /// <summary>Shows the package working; writes what happens to <paramref name="output"/>.</summary>
    Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken);
}
