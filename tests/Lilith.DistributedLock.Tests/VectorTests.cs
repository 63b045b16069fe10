using Lilith.DistributedLock.Internal;

namespace Lilith.DistributedLock.Tests;

/// <summary>The C# key builders against schema/vectors/distributed-lock.json.</summary>
public sealed class VectorTests
{
    [Fact]
    public void Keys_match_the_golden_vectors() => GoldenVectors.AssertKeys("distributed-lock", new Dictionary<string, Func<IReadOnlyDictionary<string, string>, string>>
    {
        ["lock"] = i => new LockKeys(i["prefix"]).Lock(i["name"]),
        ["fence"] = i => new LockKeys(i["prefix"]).Fence(i["name"]),
        ["released-channel"] = i => new LockKeys(i["prefix"]).ReleasedChannel(i["name"]),
        ["semaphore-holders"] = i => new LockKeys(i["prefix"]).SemaphoreHolders(i["name"]),
        ["semaphore-fence"] = i => new LockKeys(i["prefix"]).SemaphoreFence(i["name"]),
        ["semaphore-released-channel"] = i => new LockKeys(i["prefix"]).SemaphoreReleasedChannel(i["name"]),
        ["rw-readers"] = i => new LockKeys(i["prefix"]).Readers(i["name"]),
        ["rw-writer"] = i => new LockKeys(i["prefix"]).Writer(i["name"]),
        ["rw-writer-intent"] = i => new LockKeys(i["prefix"]).WriterIntent(i["name"]),
        ["rw-fence"] = i => new LockKeys(i["prefix"]).ReaderWriterFence(i["name"]),
        ["rw-released-channel"] = i => new LockKeys(i["prefix"]).ReaderWriterReleasedChannel(i["name"]),
    });
}

/// <summary>The scripts the siblings copy from schema/distributed-lock.md are the ones C# runs.</summary>
public sealed class SchemaDocumentTests
{
    [Theory]
    [InlineData(nameof(LockScripts.Acquire), LockScripts.Acquire)]
    [InlineData(nameof(LockScripts.Renew), LockScripts.Renew)]
    [InlineData(nameof(LockScripts.Release), LockScripts.Release)]
    [InlineData("Semaphore" + nameof(SemaphoreScripts.Acquire), SemaphoreScripts.Acquire)]
    [InlineData("Semaphore" + nameof(SemaphoreScripts.Renew), SemaphoreScripts.Renew)]
    [InlineData("Semaphore" + nameof(SemaphoreScripts.Release), SemaphoreScripts.Release)]
    [InlineData(nameof(ReaderWriterScripts.AcquireRead), ReaderWriterScripts.AcquireRead)]
    [InlineData(nameof(ReaderWriterScripts.AcquireWrite), ReaderWriterScripts.AcquireWrite)]
    public void Every_script_appears_verbatim_in_the_schema_document(string name, string script)
    {
        string document = File.ReadAllText(Path.Combine(GoldenVectors.RepositoryRoot, "schema", "distributed-lock.md")).ReplaceLineEndings("\n");
        Assert.True(document.Contains("```lua\n" + script.ReplaceLineEndings("\n") + "\n```", StringComparison.Ordinal), $"script {name} differs from schema/distributed-lock.md");
    }
}
