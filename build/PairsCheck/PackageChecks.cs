using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lilith.Build.PairsCheck;

/// <summary>The checks one package must pass once it exports any public type.</summary>
internal sealed partial class PackageChecks(string root, string? resultsDirectory)
{
    private readonly Lazy<string> _results = new(() => ReadResults(resultsDirectory));

    /// <summary>Loads the package's assembly (referenced by this tool, so present in its output folder).</summary>
    public static Assembly Load(Manifest manifest) => Assembly.Load(new AssemblyName(manifest.Package));

    /// <summary>Null when <paramref name="csharp"/> names an existing public type or member, else why not.</summary>
    public static string? Resolve(Assembly assembly, string? csharp)
    {
        if (string.IsNullOrWhiteSpace(csharp))
        {
            return "no C# pair";
        }

        string[] parts = csharp.Split('.');
        for (int split = parts.Length; split > 0; split--)
        {
            Type? type = assembly.GetType(string.Join('.', parts[..split]), throwOnError: false);
            if (type is null || !(type.IsPublic || type.IsNestedPublic))
            {
                continue;
            }

            if (split == parts.Length)
            {
                return null;
            }

            string member = string.Join('.', parts[split..]);
            IEnumerable<Type> searched = type.IsInterface ? [type, .. type.GetInterfaces()] : [type];
            const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.FlattenHierarchy;
            return searched.Any(t => t.GetMember(member, flags).Length > 0)
                ? null
                : $"{type.FullName} has no public member '{member}'";
        }

        return $"no public type in {assembly.GetName().Name} matches '{csharp}'";
    }

    /// <summary>Null when the entry names the feature in both siblings and in C# and says what proves it, else what is missing.</summary>
    public string? EntryProblem(Pair pair)
    {
        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(pair.Feature))
        {
            missing.Add("feature");
        }

        if (string.IsNullOrWhiteSpace(pair.Typescript))
        {
            missing.Add("TypeScript name");
        }

        if (string.IsNullOrWhiteSpace(pair.Python))
        {
            missing.Add("Python name");
        }

        if (pair.ProvedBy is not { Count: > 0 })
        {
            missing.Add("provedBy (the test or vector that proves the pair)");
        }

        return missing.Count == 0 ? null : "no " + string.Join(", no ", missing);
    }

    /// <summary>
    /// Null when <paramref name="proof"/> exists (a golden vector id in schema/vectors, or a test method declared under
    /// tests/) and, when test results were given, passed; else why not.
    /// </summary>
    public string? ProofProblem(string proof)
    {
        Match vector = VectorProof().Match(proof);
        if (vector.Success)
        {
            string path = Path.Combine(root, "schema", "vectors", vector.Groups["concern"].Value + ".json");
            if (!File.Exists(path))
            {
                return $"{proof}: schema/vectors/{vector.Groups["concern"].Value}.json does not exist";
            }

            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            string id = vector.Groups["id"].Value;
            bool found = new[] { ("keys", "key"), ("payloads", "payload") }.Any(section =>
                doc.RootElement.TryGetProperty(section.Item1, out JsonElement items) &&
                items.EnumerateArray().Any(item => item.TryGetProperty(section.Item2, out JsonElement name) && name.GetString() == id));
            return found ? null : $"{proof}: no key or payload vector '{id}'";
        }

        int method = proof.LastIndexOf('.');
        int type = method > 0 ? proof.LastIndexOf('.', method - 1) : -1;
        if (type <= 0)
        {
            return $"'{proof}' is neither vectors/<concern>.json#<id> nor Namespace.Class.Method";
        }

        string project = Path.Combine(root, "tests", proof[..type]);
        string className = proof[(type + 1)..method];
        string methodName = proof[(method + 1)..];
        string source = Directory.Exists(project)
            ? string.Concat(Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) &&
                            !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Select(File.ReadAllText))
            : string.Empty;
        if (!Regex.IsMatch(source, $@"\bclass {Regex.Escape(className)}\b") ||
            !Regex.IsMatch(source, $@"public (async Task|void) {Regex.Escape(methodName)}\("))
        {
            return $"{proof}: no test {className}.{methodName} under tests/{proof[..type]}";
        }

        if (resultsDirectory is null)
        {
            return null;
        }

        var outcomes = TestResult().Matches(_results.Value)
            .Where(m => m.Groups["name"].Value == proof || m.Groups["name"].Value.StartsWith(proof + "(", StringComparison.Ordinal))
            .Select(m => m.Groups["outcome"].Value)
            .ToList();
        return outcomes.Count == 0 ? $"{proof} did not run in {resultsDirectory}"
            : outcomes.All(o => o == "Passed") ? null
            : $"{proof} did not pass";
    }

    /// <summary>Every problem of a present package besides its pairs.</summary>
    public IEnumerable<string> Problems(Manifest manifest, Assembly assembly)
    {
        if (!File.Exists(Path.Combine(root, manifest.Folder, "README.md")))
        {
            yield return $"{manifest.Folder}/README.md is missing";
        }

        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Match section = Regex.Match(readme, $@"### {Regex.Escape(manifest.Package)}\s*\n(?<body>.*?)(?=\n##|\z)", RegexOptions.Singleline);
        if (!section.Success || section.Groups["body"].Value.Contains("Under construction", StringComparison.Ordinal))
        {
            yield return $"README.md has no quick start for {manifest.Package}";
        }

        bool hasAdd = assembly.GetExportedTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Any(m => m.Name == manifest.AddExtension && m.GetParameters() is [{ ParameterType.FullName: "Microsoft.Extensions.DependencyInjection.IServiceCollection" }, ..]);
        if (!hasAdd)
        {
            yield return $"no public {manifest.AddExtension}(this IServiceCollection ...) extension";
        }

        string testProject = Path.Combine(root, "tests", manifest.Package + ".Tests", manifest.Package + ".Tests.csproj");
        if (!File.Exists(testProject))
        {
            yield return $"test project {Path.GetRelativePath(root, testProject)} is missing";
        }

        using JsonDocument schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "schema", "redis-schema.json")));
        if (!schema.RootElement.GetProperty("concerns").TryGetProperty(manifest.Concern, out JsonElement concern) ||
            !concern.TryGetProperty("keys", out JsonElement keys) || !keys.EnumerateObject().Any())
        {
            yield return $"schema/redis-schema.json has no keys for concern '{manifest.Concern}'";
        }
        else if (!File.Exists(Path.Combine(root, "schema", concern.GetProperty("document").GetString()!)))
        {
            yield return $"schema document of '{manifest.Concern}' is missing";
        }

        if (VectorProblem(manifest) is { } vectors)
        {
            yield return vectors;
        }
    }

    /// <summary>The state of the package's vector tests in the last run, as a short word for the table.</summary>
    public string VectorState(Manifest manifest) => resultsDirectory is null
        ? "not run"
        : VectorProblem(manifest) is null ? "passed" : "FAILED";

    private string? VectorProblem(Manifest manifest)
    {
        if (resultsDirectory is null)
        {
            return null;
        }

        string prefix = $"{manifest.Package}.Tests.VectorTests.";
        var outcomes = TestResult().Matches(_results.Value)
            .Where(m => m.Groups["name"].Value.StartsWith(prefix, StringComparison.Ordinal))
            .Select(m => m.Groups["outcome"].Value)
            .ToList();
        return outcomes.Count == 0
            ? $"no {prefix}* test ran in {resultsDirectory}"
            : outcomes.All(o => o == "Passed") ? null : $"{prefix}* did not pass";
    }

    private static string ReadResults(string? directory) =>
        directory is not null && Directory.Exists(directory)
            ? string.Concat(Directory.GetFiles(directory, "*.trx", SearchOption.AllDirectories).Select(File.ReadAllText))
            : string.Empty;

    [GeneratedRegex(@"^vectors/(?<concern>[a-z-]+)\.json#(?<id>.+)$")]
    private static partial Regex VectorProof();

    [GeneratedRegex("<UnitTestResult [^>]*?testName=\"(?<name>[^\"]+)\"[^>]*?outcome=\"(?<outcome>[^\"]+)\"")]
    private static partial Regex TestResult();
}
