namespace Lilith.Conformance.Tests;

/// <summary>What every cross-language scenario class shares: the fixture's Redis and a sibling on a fresh prefix.</summary>
public abstract class ConformanceScenario(RedisFixture redis)
{
    protected RedisFixture Redis => redis;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The Node.js or Python program on the fixture's Redis with a fresh key prefix.</summary>
    private protected Task<Sibling> SiblingAsync(string language) => Sibling.CreateAsync(language, redis);
}
