using Lilith.CircuitBreaker;
using Lilith.DistributedLock;
using Lilith.DomainEvents;
using Lilith.ServiceAddresses;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.Topology.Tests;

/// <summary>
/// Every package as an ACL user whose keys and channels are limited to its prefix, over plain TCP (the package's own
/// ConnectionString option) and over TLS (a certificate made at test time); no log line ever holds the password.
/// </summary>
[Trait("Redis", "own-servers")]
public sealed class SecurityTests(RedisFixture redis)
{
    private const string User = "lilith-app";
    private const string Password = "pw-Q7x!secret-9c1e";
    private const string WrongPassword = "pw-WRONG-4b2d-guess";
    private const string AdminPassword = "admin-pw-61f0";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Packages.All), MemberType = typeof(Packages))]
    public async Task Every_package_works_as_an_ACL_user_limited_to_its_prefix(string package)
    {
        string prefix = RedisFixture.NewPrefix();
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await CreateUsersAsync(server.ConnectionString, prefix);
        var logs = new CollectingLoggerProvider();

        await Packages.RoundTripAsync(package, RedisAccess.Option($"redis://{User}:{Uri.EscapeDataString(Password)}@127.0.0.1:{server.Port}"), prefix, logs);

        AssertNoSecret(logs.Lines, []);
        await AssertKeysOnlyUnderAsync(server.ConnectionString, prefix);
    }

    [Theory]
    [MemberData(nameof(Packages.All), MemberType = typeof(Packages))]
    public async Task Every_package_works_over_TLS_as_an_ACL_user(string package)
    {
        string prefix = RedisFixture.NewPrefix();
        using RedisTlsFiles tls = RedisTlsFiles.Create();
        RedisServerProcess server = await redis.StartOwnedTlsServerAsync(tls);
        await CreateUsersAsync(server.ConnectionString, prefix, tls);
        // A CA of one's own is trusted through StackExchange.Redis options, so the user registers the multiplexer.
        ConfigurationOptions options = ConfigurationOptions.Parse($"{server.ConnectionString},user={User},password={Password}");
        options.TrustIssuer(tls.CaCertificate);
        options.AbortOnConnectFail = false;
        // The Sentinel failover tests run beside this one on two cores; the first TLS handshake may wait on them.
        options.ConnectTimeout = 15_000;
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options);
        Assert.True(connection.IsConnected);
        var logs = new CollectingLoggerProvider();

        await Packages.RoundTripAsync(package, RedisAccess.Registered(connection), prefix, logs);

        AssertNoSecret(logs.Lines, []);
        await AssertKeysOnlyUnderAsync(server.ConnectionString, prefix, tls);
    }

    [Theory]
    [MemberData(nameof(Packages.All), MemberType = typeof(Packages))]
    public async Task No_log_line_or_error_holds_the_password_when_authentication_fails(string package)
    {
        string prefix = RedisFixture.NewPrefix();
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await CreateUsersAsync(server.ConnectionString, prefix);
        var logs = new CollectingLoggerProvider();
        var errors = new List<string>();

        // Both connection string forms a user writes: the URL and the StackExchange.Redis configuration string.
        foreach (string connectionString in new[]
                 {
                     $"redis://{User}:{Uri.EscapeDataString(WrongPassword)}@127.0.0.1:{server.Port}",
                     $"127.0.0.1:{server.Port},user={User},password={WrongPassword},connectTimeout=1000,asyncTimeout=1000",
                 })
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bounded.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                using IHost host = await Packages.StartAsync(package, RedisAccess.Option(connectionString), prefix, logs, cancellationToken: bounded.Token);
                await FailingCallAsync(package, host, bounded.Token);
                errors.Add($"{package} did not fail with a wrong password");
            }
            catch (Exception e) when (e is RedisException or OperationCanceledException or TimeoutException or DistributedLockException
                                          or DomainEventPublishException or ServiceDiscoveryException or InvalidOperationException)
            {
                errors.Add(e.ToString());
            }
        }

        Assert.DoesNotContain(errors, e => e.StartsWith(package + " did not fail", StringComparison.Ordinal));
        Assert.NotEmpty(logs.Lines.Concat(errors));
        AssertNoSecret(logs.Lines, errors);
        // The right password in the same run is not logged either.
        await Packages.RoundTripAsync(package, RedisAccess.Option($"redis://{User}:{Uri.EscapeDataString(Password)}@127.0.0.1:{server.Port}"), prefix, logs);
        AssertNoSecret(logs.Lines, errors);
    }

    private static async Task FailingCallAsync(string package, IHost host, CancellationToken cancellationToken)
    {
        IServiceProvider services = host.Services;
        switch (package)
        {
            case Packages.ServiceAddresses:
                await services.GetRequiredService<IServiceAddressStore>().LoadAsync("development", cancellationToken);
                break;
            case Packages.ServiceDiscovery:
                // Resolving names the backend in its error and its outage log line: the password must be redacted there.
                await services.GetRequiredService<IServiceResolver>().ResolveAsync("orders", cancellationToken: cancellationToken);
                break;
            case Packages.CircuitBreaker:
                // Without Redis a breaker goes on with its local state and never throws for it: wait for its sync to be refused.
                services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").Isolate();
                await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
                throw new TimeoutException("The breaker ran on its local state.");
            case Packages.DistributedLock:
                await services.GetRequiredService<IDistributedLockProvider>().AcquireAsync("orders", TimeSpan.FromSeconds(2), cancellationToken: cancellationToken);
                break;
            case Packages.DomainEvents:
                await services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new Ping("p"), cancellationToken: cancellationToken);
                break;
        }
    }

    private static void AssertNoSecret(IEnumerable<string> lines, IEnumerable<string> errors)
    {
        foreach (string line in lines.Concat(errors))
        {
            foreach (string secret in new[] { Password, WrongPassword, Uri.EscapeDataString(Password), Uri.EscapeDataString(WrongPassword) })
            {
                Assert.False(line.Contains(secret, StringComparison.Ordinal), $"A log line or error holds a password:{Environment.NewLine}{line}");
            }
        }
    }

    /// <summary>An admin user, the application user limited to <paramref name="prefix"/>'s keys and channels, and the default user off.</summary>
    private static async Task CreateUsersAsync(string connectionString, string prefix, RedisTlsFiles? tls = null)
    {
        await using ConnectionMultiplexer connection = await ConnectAsync(connectionString, null, tls);
        IServer server = connection.GetServer(connection.GetEndPoints()[0]);
        await server.ExecuteAsync("ACL", "SETUSER", "admin", "on", ">" + AdminPassword, "~*", "&*", "+@all");
        // Redis checks a PSUBSCRIBE pattern literally against the user's channel patterns: discovery's watcher subscribes
        // to <prefix>:discovery:{*}:events, so that exact pattern is granted too (README, security options).
        await server.ExecuteAsync("ACL", "SETUSER", User, "reset", "on", ">" + Password, $"~{prefix}:*", $"&{prefix}:*", $"&{prefix}:discovery:{{*}}:events",
            "+@all", "-@dangerous", "+info");
        await server.ExecuteAsync("ACL", "SETUSER", "default", "off");

        // The limits bite: outside the prefix the user is refused, and a client without credentials is refused.
        await using ConnectionMultiplexer app = await ConnectAsync(connectionString, $"user={User},password={Password}", tls);
        RedisServerException refused = await Assert.ThrowsAsync<RedisServerException>(() => app.GetDatabase().StringSetAsync("elsewhere:key", "1"));
        Assert.Contains("NOPERM", refused.Message, StringComparison.Ordinal);
        await using ConnectionMultiplexer anonymous = await ConnectAsync(connectionString, null, tls);
        Assert.False(anonymous.IsConnected && await CanPingAsync(anonymous), "a client without credentials was served");
    }

    private static async Task AssertKeysOnlyUnderAsync(string connectionString, string prefix, RedisTlsFiles? tls = null)
    {
        await using ConnectionMultiplexer admin = await ConnectAsync(connectionString, $"user=admin,password={AdminPassword}", tls);
        var keys = new List<string>();
        await foreach (RedisKey key in admin.GetServer(admin.GetEndPoints()[0]).KeysAsync(pattern: "*"))
        {
            keys.Add(key.ToString());
        }

        Assert.NotEmpty(keys);
        Assert.All(keys, k => Assert.StartsWith(prefix + ":", k, StringComparison.Ordinal));
    }

    private static async Task<bool> CanPingAsync(IConnectionMultiplexer connection)
    {
        try
        {
            await connection.GetDatabase().PingAsync();
            return true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string connectionString, string? credentials, RedisTlsFiles? tls)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(credentials is null ? connectionString : $"{connectionString},{credentials}");
        options.AbortOnConnectFail = false;
        options.AllowAdmin = true;
        options.ConnectTimeout = 3000;
        if (tls is not null)
        {
            options.TrustIssuer(tls.CaCertificate);
        }

        return await ConnectionMultiplexer.ConnectAsync(options);
    }
}
