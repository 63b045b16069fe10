using System.Text.Json;
using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.Foundation.Tests;

/// <summary>The key conventions of schema/README.md against schema/vectors/conventions.json.</summary>
public sealed class ConventionsTests(RedisFixture redis)
{
    private static JsonElement Vectors { get; } =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "vectors", "conventions.json"))).RootElement;

    public static TheoryData<string> ValidPrefixes => Strings("prefixes", "valid");

    public static TheoryData<string> InvalidPrefixes => Strings("prefixes", "invalid");

    public static TheoryData<string> ValidNames => Strings("names", "valid");

    public static TheoryData<string> InvalidNames => Strings("names", "invalid");

    [Theory]
    [MemberData(nameof(ValidPrefixes))]
    public void Valid_prefixes_are_accepted(string prefix) => Assert.Equal(prefix, KeySchema.ValidatePrefix(prefix));

    [Theory]
    [MemberData(nameof(InvalidPrefixes))]
    public void Invalid_prefixes_are_refused_with_the_option_and_value_named(string prefix)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => KeySchema.ValidatePrefix(prefix, "LockOptions.KeyPrefix"));
        Assert.StartsWith($"LockOptions.KeyPrefix: '{prefix}' is not a valid key prefix.", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Valid_names_are_accepted(string name) => Assert.Equal(name, KeySchema.ValidateName(name, "lock"));

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Invalid_names_are_refused_with_a_reason(string name)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => KeySchema.ValidateName(name, "lock"));
        Assert.Contains("lock name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_long_names_are_refused_with_the_length()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => KeySchema.ValidateName(new string('x', 257), "service"));
        Assert.Contains("is 257 code points long; the limit is 256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_are_valid_unicode_without_lone_surrogates()
    {
        foreach (string name in new[] { "bad\ud800", "\udc00bad", "a\ud83d" })
        {
            ArgumentException e = Assert.Throws<ArgumentException>(() => KeySchema.ValidateName(name, "stream"));
            Assert.Contains("no lone surrogates", e.Message, StringComparison.Ordinal);
        }
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Hash_slots_of_the_vectors_are_those_Redis_computes()
    {
        // CLUSTER KEYSLOT needs a cluster-enabled server; it computes the slot without any slot being assigned.
        string configFile = Path.Combine(Path.GetTempPath(), $"lilith-nodes-{Guid.NewGuid():N}.conf");
        await using RedisServerProcess server = await redis.StartOwnedServerAsync(["--cluster-enabled", "yes", "--cluster-config-file", configFile]);
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        IServer node = connection.GetServer(connection.GetEndPoints()[0]);
        foreach (JsonElement vector in Vectors.GetProperty("hashSlots").EnumerateArray())
        {
            string key = vector.GetProperty("key").GetString()!;
            RedisResult slot = await node.ExecuteAsync("CLUSTER", "KEYSLOT", key);
            Assert.True(vector.GetProperty("slot").GetInt32() == (int)slot, $"{key}: vector says slot {vector.GetProperty("slot").GetInt32()}, Redis says {(int)slot}");
        }

        File.Delete(configFile);
    }

    [Fact]
    public void Keys_built_from_one_name_share_a_hash_tag()
    {
        string a = KeySchema.Tagged("lilith", "lock", "orders");
        string b = KeySchema.Tagged("lilith", "lock", "orders", "fence");
        Assert.Equal("lilith:lock:{orders}", a);
        Assert.Equal("lilith:lock:{orders}:fence", b);
        Assert.Equal("lilith:lock:released", KeySchema.Plain("lilith", "lock", "released"));
    }

    private static TheoryData<string> Strings(string group, string kind)
    {
        var data = new TheoryData<string>();
        foreach (JsonElement item in Vectors.GetProperty(group).GetProperty(kind).EnumerateArray())
        {
            data.Add(item.GetString()!);
        }

        return data;
    }
}
