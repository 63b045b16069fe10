using System.Reflection;
using System.Text.Json;
using Lilith.Build.PairsCheck;

// build/pairs-check [--root DIR] [--results DIR]
// Prints the parity table; exits 1 when a present package misses a pair or one of its package checks.
string root = Directory.GetCurrentDirectory();
string? results = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--root": root = Path.GetFullPath(args[++i]); break;
        case "--results": results = Path.GetFullPath(args[++i]); break;
        default:
            Console.Error.WriteLine($"pairs-check: unknown argument '{args[i]}'; usage: pairs-check [--root DIR] [--results DIR]");
            return 2;
    }
}

var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };
var checks = new PackageChecks(root, results);
var failures = new List<string>();
var rows = new List<string[]>();
foreach (string file in Directory.GetFiles(Path.Combine(root, "build", "pairs"), "*.json").Order(StringComparer.Ordinal))
{
    Manifest manifest;
    try
    {
        manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(file), json)
            ?? throw new JsonException("empty manifest");
    }
    catch (JsonException e)
    {
        failures.Add($"{Path.GetRelativePath(root, file)}: {e.Message}");
        continue;
    }

    Assembly assembly = PackageChecks.Load(manifest);
    bool present = assembly.GetExportedTypes().Length > 0;
    string status = present ? "present" : "not started";
    Console.WriteLine();
    Console.WriteLine($"## {manifest.Package} ({status}; TypeScript {manifest.Siblings.Typescript}, Python {manifest.Siblings.Python}; vectors {checks.VectorState(manifest)})");
    Console.WriteLine();
    Console.WriteLine("| feature | TypeScript | Python | C# | paired |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (Pair pair in manifest.Pairs)
    {
        string? problem = PackageChecks.Resolve(assembly, pair.Csharp);
        string paired = problem is null ? "yes" : present ? $"NO: {problem}" : "not started";
        Console.WriteLine($"| {pair.Feature} | `{pair.Typescript}` | `{pair.Python}` | {(pair.Csharp is null ? "-" : $"`{pair.Csharp}`")} | {paired} |");
        if (present && problem is not null)
        {
            failures.Add($"{manifest.Package}: '{pair.Feature}': {problem}");
        }
    }

    if (present)
    {
        failures.AddRange(checks.Problems(manifest, assembly).Select(p => $"{manifest.Package}: {p}"));
    }
}

Console.WriteLine();
if (failures.Count > 0)
{
    Console.WriteLine($"pairs-check: {failures.Count} problem(s):");
    failures.ForEach(f => Console.WriteLine($"- {f}"));
    return 1;
}

Console.WriteLine("pairs-check: every present package is paired.");
return 0;
