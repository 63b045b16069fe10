namespace Lilith.Conformance.Tests;

/// <summary>The Node.js and Python programs check every golden vector from schema/ alone.</summary>
public sealed class GoldenVectorTests
{
    [Fact]
    public async Task Node_reproduces_every_golden_vector()
    {
        Assert.True(Directory.Exists(Path.Combine(SiblingProgram.Folder, "node", "node_modules", "ioredis")),
            "tests/conformance/node has no node_modules: run 'npm ci --prefix tests/conformance/node' (build/test.sh does).");
        (int exit, string output) = await SiblingProgram.RunAsync(
            SiblingProgram.Node, ["node/vectors.mjs"], TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(exit == 0, output);
        Assert.Matches(@"node vectors: [1-9]\d* passed, 0 failed", output);
    }

    [Fact]
    public async Task Python_reproduces_every_golden_vector()
    {
        (int exit, string output) = await SiblingProgram.RunAsync(
            SiblingProgram.Python, ["python/vectors.py"], TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(exit == 0, output);
        Assert.Matches(@"python vectors: [1-9]\d* passed, 0 failed", output);
    }
}
