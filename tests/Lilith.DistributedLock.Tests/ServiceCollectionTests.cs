using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>AddDistributedLock: registration, backend choice, validation at start.</summary>
public sealed class ServiceCollectionTests(RedisFixture redis)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task In_memory_when_named_and_registers_once()
    {
        var services = new ServiceCollection();
        services.AddDistributedLock(o => o.Backend = DistributedLockBackend.InMemory).AddDistributedLock();
        await using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Single(services, d => d.ServiceType == typeof(IDistributedLockProvider));
        var locks = (LockProvider)provider.GetRequiredService<IDistributedLockProvider>();
        Assert.IsType<InMemoryLockBackend>(locks.Backend);
        Assert.Same(locks, provider.GetRequiredService<IDistributedSemaphoreProvider>());
        Assert.Same(locks, provider.GetRequiredService<IDistributedReaderWriterLockProvider>());
        await using IDistributedLockHandle handle = await locks.AcquireAsync("di", TimeSpan.Zero, cancellationToken: Ct);
        Assert.True(handle.FencingToken > 0);
    }

    [Fact]
    public async Task Redis_backend_uses_the_registered_multiplexer_and_the_prefix()
    {
        string prefix = RedisFixture.NewPrefix();
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        var services = new ServiceCollection();
        services.AddSingleton(connection);
        services.AddDistributedLock(o =>
        {
            o.Backend = DistributedLockBackend.Redis;
            o.KeyPrefix = prefix;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        await using IDistributedLockHandle handle = await provider.GetRequiredService<IDistributedLockProvider>().AcquireAsync("di", TimeSpan.Zero, cancellationToken: Ct);
        Assert.True(await connection.GetDatabase().KeyExistsAsync($"{prefix}:lock:{{di}}"));
    }

    [Fact]
    public async Task A_registered_multiplexer_and_no_backend_option_give_the_redis_backend()
    {
        string prefix = RedisFixture.NewPrefix();
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(connection);
        builder.Services.AddDistributedLock(o => o.KeyPrefix = prefix);
        using IHost host = builder.Build();
        await host.StartAsync(Ct);

        await using IDistributedLockHandle handle = await host.Services.GetRequiredService<IDistributedLockProvider>().AcquireAsync("di", TimeSpan.Zero, cancellationToken: Ct);
        Assert.True(await connection.GetDatabase().KeyExistsAsync($"{prefix}:lock:{{di}}"), "the lock was taken in memory although Redis was configured");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task No_connection_and_no_backend_fail_the_host_start_saying_how_to_choose()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddDistributedLock();
        using IHost host = builder.Build();

        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));
        Assert.Contains("Backend: no backend is chosen and no Redis connection is configured.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redis_backend_connects_with_a_connection_string()
    {
        string prefix = RedisFixture.NewPrefix();
        string connectionString = await redis.GetConnectionStringAsync();
        var services = new ServiceCollection();
        services.AddDistributedLock(o =>
        {
            o.Backend = DistributedLockBackend.Redis;
            o.ConnectionString = connectionString;
            o.KeyPrefix = prefix;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        await using IDistributedLockHandle handle = await provider.GetRequiredService<IDistributedLockProvider>().AcquireAsync("by-string", TimeSpan.Zero, cancellationToken: Ct);
        Assert.True(handle.FencingToken > 0);
    }

    [Theory]
    [InlineData("KeyPrefix", "KeyPrefix: '{bad}'")]
    [InlineData("DefaultTtl", "DefaultTtl: 00:00:00.0050000")]
    [InlineData("MaxPollInterval", "MaxPollInterval: 00:00:00")]
    [InlineData("ConnectionString", "ConnectionString is set but Backend is InMemory")]
    [InlineData("ReplicaAcknowledgements", "ReplicaAcknowledgements: -1 must not be negative")]
    [InlineData("ReplicaAcknowledgementTimeout", "ReplicaAcknowledgementTimeout: 00:00:00 is outside")]
    public async Task Bad_options_fail_the_host_start_naming_option_and_value(string option, string expected)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddDistributedLock(o =>
        {
            o.Backend ??= DistributedLockBackend.InMemory;
            switch (option)
            {
                case "KeyPrefix": o.KeyPrefix = "{bad}"; break;
                case "DefaultTtl": o.DefaultTtl = TimeSpan.FromMilliseconds(5); break;
                case "MaxPollInterval": o.MaxPollInterval = TimeSpan.Zero; break;
                case "ReplicaAcknowledgements": o.ReplicaAcknowledgements = -1; break;
                case "ReplicaAcknowledgementTimeout": o.ReplicaAcknowledgementTimeout = TimeSpan.Zero; break;
                default: o.ConnectionString = "localhost:6379"; o.Backend = DistributedLockBackend.InMemory; break;
            }
        });
        using IHost host = builder.Build();

        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Redis_without_a_connection_says_how_to_configure_one()
    {
        var services = new ServiceCollection();
        services.AddDistributedLock(o => o.Backend = DistributedLockBackend.Redis);
        using ServiceProvider provider = services.BuildServiceProvider();

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IDistributedLockProvider>());
        Assert.Contains("ConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_arguments_are_refused()
    {
        Assert.Throws<ArgumentNullException>(() => DistributedLockServiceCollectionExtensions.AddDistributedLock(null!));
        Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddDistributedLock(null!));
    }
}
