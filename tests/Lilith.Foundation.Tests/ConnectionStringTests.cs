using Lilith.Common;
using StackExchange.Redis;

namespace Lilith.Foundation.Tests;

public sealed class ConnectionStringTests
{
    [Fact]
    public void Reads_redis_urls_like_the_siblings()
    {
        ConfigurationOptions options = RedisConnectionString.Parse("rediss://app:s3cr%40t@cache.internal:6380/2");
        Assert.True(options.Ssl);
        Assert.Equal("app", options.User);
        Assert.Equal("s3cr@t", options.Password);
        Assert.Equal(2, options.DefaultDatabase);
        Assert.Equal("cache.internal:6380", options.EndPoints[0].ToString()!.Replace("Unspecified/", string.Empty, StringComparison.Ordinal));
    }

    [Fact]
    public void Reads_stackexchange_configuration_strings()
    {
        ConfigurationOptions options = RedisConnectionString.Parse("127.0.0.1:7000,password=pw,ssl=true");
        Assert.True(options.Ssl);
        Assert.Equal("pw", options.Password);
    }

    [Theory]
    [InlineData("redis://app:s3cret@cache:6379", "s3cret")]
    [InlineData("cache:6379,password=s3cret", "s3cret")]
    public void Redaction_never_shows_the_password(string connectionString, string password) =>
        Assert.DoesNotContain(password, RedisConnectionString.Redact(connectionString), StringComparison.Ordinal);

    [Fact]
    public void A_bad_database_is_named()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => RedisConnectionString.Parse("redis://cache:6379/zero"));
        Assert.Contains("names database 'zero'", e.Message, StringComparison.Ordinal);
    }
}
