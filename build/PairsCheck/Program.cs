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
    Console.WriteLine("| feature | TypeScript | Python | C# | proved by | paired |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (Pair pair in manifest.Pairs)
    {
        IEnumerable<string?> problems = [PackageChecks.Resolve(assembly, pair.Csharp), checks.EntryProblem(pair), .. (pair.ProvedBy ?? []).Select(checks.ProofProblem)];
        string? problem = problems.FirstOrDefault(p => p is not null);
        string paired = problem is null ? "yes" : present ? $"NO: {problem}" : "not started";
        string provedBy = pair.ProvedBy is { Count: > 0 } ? string.Join("<br>", pair.ProvedBy.Select(Short)) : "-";
        Console.WriteLine($"| {pair.Feature} | {Code(pair.Typescript)} | {Code(pair.Python)} | {Code(pair.Csharp)} | {provedBy} | {paired} |");
        if (present)
        {
            failures.AddRange(problems.OfType<string>().Select(p => $"{manifest.Package}: '{pair.Feature}': {p}"));
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

static string Code(string? name) => string.IsNullOrWhiteSpace(name) ? "-" : $"`{name}`";

// A test as Class.Method (the namespace names the test project, which the table's package already says); vectors as they are.
static string Short(string proof) => proof.StartsWith("vectors/", StringComparison.Ordinal)
    ? proof
    : string.Join('.', proof.Split('.')[^2..]);
