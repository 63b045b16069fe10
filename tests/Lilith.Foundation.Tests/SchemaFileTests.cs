using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lilith.Foundation.Tests;

/// <summary>The schema folder is consistent: every concern has its document and vectors, and the document shows every key.</summary>
public sealed partial class SchemaFileTests
{
    private static string SchemaDir => Path.Combine(GoldenVectors.RepositoryRoot, "schema");

    private static JsonElement Schema { get; } = JsonDocument.Parse(File.ReadAllText(Path.Combine(SchemaDir, "redis-schema.json"))).RootElement;

    [Fact]
    public void Every_concern_has_a_document_and_vectors_and_every_vectors_file_a_concern()
    {
        var concerns = Schema.GetProperty("concerns").EnumerateObject().Select(c => c.Name).ToHashSet();
        Assert.Equal(["circuit-breaker", "distributed-lock", "domain-events", "service-addresses", "service-discovery"], concerns.Order());
        foreach (JsonProperty concern in Schema.GetProperty("concerns").EnumerateObject())
        {
            Assert.True(File.Exists(Path.Combine(SchemaDir, concern.Value.GetProperty("document").GetString()!)), $"{concern.Name}: document missing");
            Assert.True(File.Exists(Path.Combine(SchemaDir, "vectors", concern.Name + ".json")), $"{concern.Name}: vectors missing");
        }

        var vectorFiles = Directory.GetFiles(Path.Combine(SchemaDir, "vectors"), "*.json").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        vectorFiles.Remove("conventions");
        Assert.Subset(concerns, vectorFiles!);
    }

    [Fact]
    public void Every_key_follows_the_layout_and_appears_in_its_document()
    {
        var problems = new List<string>();
        foreach (JsonProperty concern in Schema.GetProperty("concerns").EnumerateObject())
        {
            string document = File.ReadAllText(Path.Combine(SchemaDir, concern.Value.GetProperty("document").GetString()!));
            foreach (JsonProperty key in concern.Value.GetProperty("keys").EnumerateObject())
            {
                string pattern = key.Value.GetProperty("pattern").GetString()!;
                if (!Layout().IsMatch(pattern))
                {
                    problems.Add($"{concern.Name}.{key.Name}: '{pattern}' does not follow <prefix>:<concern>:{{<tag>}}[:<suffix>] or <prefix>:<concern>:<suffix>");
                }

                if (!document.Contains(pattern, StringComparison.Ordinal))
                {
                    problems.Add($"{concern.Name}.{key.Name}: '{pattern}' is not shown in its document");
                }

                if (!key.Value.TryGetProperty("type", out JsonElement type) || type.GetString() is not ("string" or "hash" or "set" or "zset" or "stream" or "list" or "channel"))
                {
                    problems.Add($"{concern.Name}.{key.Name}: missing or unknown type");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Schema_version_is_one_everywhere()
    {
        Assert.Equal(1, Schema.GetProperty("schemaVersion").GetInt32());
        foreach (string file in Directory.GetFiles(Path.Combine(SchemaDir, "vectors"), "*.json"))
        {
            using JsonDocument vectors = JsonDocument.Parse(File.ReadAllText(file));
            Assert.True(vectors.RootElement.GetProperty("schemaVersion").GetInt32() == 1, $"{file}: schemaVersion is not 1");
        }
    }

    [GeneratedRegex(@"^<prefix>:[a-z]+:(\{<[a-z]+>\}(:[a-z0-9<>:-]+)?|[a-z-]+)$")]
    private static partial Regex Layout();
}
