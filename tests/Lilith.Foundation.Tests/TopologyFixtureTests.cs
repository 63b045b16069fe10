using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace Lilith.Foundation.Tests;

/// <summary>
/// The fixture starts the topologies the packages are checked on: a 3-master cluster, a Sentinel setup, a TLS-only server. Tests that start
/// servers of their own carry the trait Redis=own-servers, so the cluster pass of build/test.sh leaves them out.
/// </summary>
public sealed class TopologyFixtureTests(RedisFixture redis)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(null, RedisTopology.Standalone)]
    [InlineData("", RedisTopology.Standalone)]
    [InlineData("standalone", RedisTopology.Standalone)]
    [InlineData(" Cluster ", RedisTopology.Cluster)]
    public void Topology_is_read_from_the_environment_value(string? value, RedisTopology expected) =>
        Assert.Equal(expected, RedisFixture.ReadTopology(value));

    [Fact]
    public void An_unknown_topology_is_refused_with_the_value()
    {
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => RedisFixture.ReadTopology("sentinel-ish"));
        Assert.Contains("LILITH_TEST_TOPOLOGY='sentinel-ish'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_shared_server_has_the_topology_the_run_asked_for()
    {
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        bool isCluster = connection.GetServer(connection.GetEndPoints()[0]).ServerType == ServerType.Cluster;
        if (redis.Source == RedisSource.External)
        {
            Assert.Skip("REDIS_URL names the server; its topology is the user's.");
        }

        Assert.Equal(RedisFixture.Topology == RedisTopology.Cluster, isCluster);
        if (isCluster)
        {
            Assert.Equal(3, redis.OwnedCluster!.Nodes.Count);
        }
    }

    [Fact]
    [Trait("Redis", "own-servers")]
    public async Task Cluster_spreads_slots_over_three_masters_and_refuses_cross_slot_commands()
    {
        RedisClusterProcesses cluster = await redis.StartOwnedClusterAsync();
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(cluster.ConnectionString);
        ClusterConfiguration? nodes = connection.GetServer(connection.GetEndPoints()[0]).ClusterConfiguration;
        Assert.NotNull(nodes);
        Assert.Equal(3, nodes.Nodes.Count(n => !n.IsReplica && n.Slots.Count > 0));

        IDatabase db = connection.GetDatabase();
        string prefix = RedisFixture.NewPrefix();
        // Two keys without a shared hash tag land in different slots (b and c do): a multi-key command is refused
        // (StackExchange.Redis refuses it before sending; the server would answer CROSSSLOT).
        Assert.NotEqual(connection.HashSlot($"{prefix}:b"), connection.HashSlot($"{prefix}:c"));
        RedisCommandException crossSlot = await Assert.ThrowsAsync<RedisCommandException>(() =>
            db.ScriptEvaluateAsync("return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", [$"{prefix}:b", $"{prefix}:c"]));
        Assert.Contains("Multi-key operations must involve a single slot", crossSlot.Message, StringComparison.Ordinal);
        IServer node = connection.GetServer(connection.GetEndPoints()[0]);
        RedisServerException serverSays = await Assert.ThrowsAsync<RedisServerException>(() => node.ExecuteAsync("MSET", $"{{x}}{prefix}:b", "1", $"{{y}}{prefix}:c", "2"));
        Assert.Contains("CROSSSLOT", serverSays.Message, StringComparison.Ordinal);
        // With one hash tag they share a slot and the same command works.
        await db.ScriptEvaluateAsync("return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", [$"{prefix}:{{t}}:b", $"{prefix}:{{t}}:c"]);
        Assert.Equal(2, (int)await db.StringGetAsync($"{prefix}:{{t}}:c"));
    }

    [Fact]
    [Trait("Redis", "own-servers")]
    public async Task Sentinel_set_serves_the_master_through_the_sentinels_and_fails_over()
    {
        RedisSentinelSet set = await redis.StartOwnedSentinelSetAsync();
        int before = await set.MasterPortAsync();
        Assert.Equal(set.DataNodes[0].Port, before);
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(set.ConnectionString);
        IDatabase db = connection.GetDatabase();
        string key = RedisFixture.NewPrefix() + ":sentinel";
        await db.StringSetAsync(key, "before");

        int after = await set.FailoverAsync(Ct);

        Assert.NotEqual(before, after);
        Assert.Equal(after, await set.MasterPortAsync());
        // The same multiplexer follows the switch by itself: it sends the key to the new master, where the write lands.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await db.IdentifyEndpointAsync(key) is not System.Net.IPEndPoint { Port: var port } || port != after)
        {
            await Task.Delay(100, deadline.Token);
        }

        await db.StringSetAsync(key, "after");

        await using IConnectionMultiplexer direct = await RedisFixture.ConnectAsync($"127.0.0.1:{after}");
        Assert.Equal("after", (string?)await direct.GetDatabase().StringGetAsync(key));
    }

    [Fact]
    [Trait("Redis", "own-servers")]
    public async Task Tls_server_accepts_a_client_that_trusts_the_test_authority_and_refuses_one_that_does_not()
    {
        using RedisTlsFiles tls = RedisTlsFiles.Create();
        RedisServerProcess server = await redis.StartOwnedTlsServerAsync(tls);
        Assert.Contains("ssl=true", server.ConnectionString, StringComparison.Ordinal);

        ConfigurationOptions trusting = ConfigurationOptions.Parse(server.ConnectionString);
        trusting.TrustIssuer(tls.CaCertificate);
        await using (ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(trusting))
        {
            Assert.True(connection.IsConnected);
            Assert.True(await connection.GetDatabase().PingAsync() > TimeSpan.Zero);
        }

        // Without the authority the certificate chain does not validate: no connection.
        ConfigurationOptions untrusting = ConfigurationOptions.Parse(server.ConnectionString);
        untrusting.AbortOnConnectFail = true;
        untrusting.ConnectTimeout = 2000;
        RemoteCertificateValidationCallback? seen = null;
        untrusting.CertificateValidation += seen = (_, _, _, errors) => errors == SslPolicyErrors.None;
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(untrusting));
        Assert.NotNull(seen);

        // A plain (non-TLS) client is not served either.
        ConfigurationOptions plain = ConfigurationOptions.Parse($"127.0.0.1:{server.Port}");
        plain.AbortOnConnectFail = true;
        plain.ConnectTimeout = 2000;
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(plain));
        using var ca = X509CertificateLoader.LoadCertificateFromFile(tls.CaCertificateFile);
        Assert.Equal(tls.CaCertificate.Thumbprint, ca.Thumbprint);
    }
}
