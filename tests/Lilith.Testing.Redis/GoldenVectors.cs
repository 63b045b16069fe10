using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lilith.Testing.Redis;

/// <summary>
/// Reads <c>schema/redis-schema.json</c> and <c>schema/vectors/&lt;concern&gt;.json</c> and checks C# key builders
/// and serializers against them. Every vector of a concern must have a C# counterpart, every key pattern of the
/// concern must have a vector, and the pattern itself must expand to the vector's expected string, so the
/// document, the vectors and the code cannot drift apart.
/// </summary>
public static class GoldenVectors
{
    /// <summary>The repository root (the folder holding Libraries.sln).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>A key or channel vector: inputs and the exact expected string.</summary>
    public sealed record KeyVector(string Id, IReadOnlyDictionary<string, string> Input, string Expected);

    /// <summary>A payload vector: the exact JSON text a writer produces.</summary>
    public sealed record PayloadVector(string Id, string Json);

    /// <summary>The key vectors of a concern.</summary>
    public static IReadOnlyList<KeyVector> Keys(string concern)
    {
        using JsonDocument doc = LoadVectors(concern);
        return doc.RootElement.TryGetProperty("keys", out JsonElement keys)
            ? keys.EnumerateArray().Select(k => new KeyVector(
                k.GetProperty("key").GetString()!,
                k.GetProperty("input").EnumerateObject().ToDictionary(p => p.Name, p => Text(p.Value)),
                k.GetProperty("expected").GetString()!)).ToList()
            : [];
    }

    /// <summary>The payload vectors of a concern.</summary>
    public static IReadOnlyList<PayloadVector> Payloads(string concern)
    {
        using JsonDocument doc = LoadVectors(concern);
        return doc.RootElement.TryGetProperty("payloads", out JsonElement payloads)
            ? payloads.EnumerateArray().Select(p => new PayloadVector(
                p.GetProperty("payload").GetString()!,
                p.GetProperty("json").GetString()!)).ToList()
            : [];
    }

    /// <summary>The key patterns the schema file lists for a concern (id -> pattern).</summary>
    public static IReadOnlyDictionary<string, string> Patterns(string concern)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "schema", "redis-schema.json")));
        JsonElement section = doc.RootElement.GetProperty("concerns").GetProperty(concern);
        return section.GetProperty("keys").EnumerateObject().ToDictionary(k => k.Name, k => k.Value.GetProperty("pattern").GetString()!);
    }

    /// <summary>Fills a pattern's <c>&lt;placeholders&gt;</c> from the inputs.</summary>
    public static string Expand(string pattern, IReadOnlyDictionary<string, string> input)
    {
        var result = new StringBuilder();
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '<')
            {
                int end = pattern.IndexOf('>', i);
                string name = pattern[(i + 1)..end];
                result.Append(input.TryGetValue(name, out string? value)
                    ? value
                    : throw new InvalidOperationException($"Pattern '{pattern}' needs input '{name}', which the vector does not give."));
                i = end;
            }
            else
            {
                result.Append(pattern[i]);
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// Checks every key vector of <paramref name="concern"/> against <paramref name="builders"/> (vector id -> C# builder)
    /// and against the schema's pattern, and that every pattern has a vector. Reports all mismatches at once.
    /// </summary>
    public static void AssertKeys(string concern, IReadOnlyDictionary<string, Func<IReadOnlyDictionary<string, string>, string>> builders)
    {
        IReadOnlyList<KeyVector> vectors = Keys(concern);
        IReadOnlyDictionary<string, string> patterns = Patterns(concern);
        var problems = new List<string>();
        if (vectors.Count == 0)
        {
            problems.Add($"schema/vectors/{concern}.json has no key vectors.");
        }

        foreach (KeyVector vector in vectors)
        {
            if (!patterns.TryGetValue(vector.Id, out string? pattern))
            {
                problems.Add($"vector key '{vector.Id}' is not listed under concerns.{concern}.keys in redis-schema.json");
            }
            else if (Expand(pattern, vector.Input) is var expanded && expanded != vector.Expected)
            {
                problems.Add($"'{vector.Id}': pattern {pattern} expands to {expanded}, the vector expects {vector.Expected}");
            }

            if (!builders.TryGetValue(vector.Id, out var builder))
            {
                problems.Add($"'{vector.Id}': no C# builder is paired with this vector");
            }
            else if (builder(vector.Input) is var built && built != vector.Expected)
            {
                problems.Add($"'{vector.Id}': C# builds {built}, the vector expects {vector.Expected}");
            }
        }

        foreach (string id in patterns.Keys.Except(vectors.Select(v => v.Id)))
        {
            problems.Add($"key '{id}' of redis-schema.json has no vector in schema/vectors/{concern}.json");
        }

        foreach (string id in builders.Keys.Except(vectors.Select(v => v.Id)))
        {
            problems.Add($"C# builder '{id}' has no vector");
        }

        if (problems.Count > 0)
        {
            throw new VectorMismatchException(concern, problems);
        }
    }

    /// <summary>
    /// Checks every payload vector of <paramref name="concern"/>: <paramref name="roundTrips"/> (vector id -> read the JSON
    /// into the C# type and write it back) must give back the exact bytes.
    /// </summary>
    public static void AssertPayloads(string concern, IReadOnlyDictionary<string, Func<string, string>> roundTrips)
    {
        var problems = new List<string>();
        IReadOnlyList<PayloadVector> vectors = Payloads(concern);
        foreach (PayloadVector vector in vectors)
        {
            if (!roundTrips.TryGetValue(vector.Id, out var roundTrip))
            {
                problems.Add($"payload '{vector.Id}': no C# serializer is paired with this vector");
                continue;
            }

            string written = roundTrip(vector.Json);
            if (written != vector.Json)
            {
                problems.Add($"payload '{vector.Id}': C# writes{Environment.NewLine}  {written}{Environment.NewLine}the vector expects{Environment.NewLine}  {vector.Json}");
            }
        }

        foreach (string id in roundTrips.Keys.Except(vectors.Select(v => v.Id)))
        {
            problems.Add($"C# serializer '{id}' has no payload vector");
        }

        if (problems.Count > 0)
        {
            throw new VectorMismatchException(concern, problems);
        }
    }

    private static JsonDocument LoadVectors(string concern)
    {
        string path = Path.Combine(RepositoryRoot, "schema", "vectors", concern + ".json");
        return File.Exists(path)
            ? JsonDocument.Parse(File.ReadAllText(path))
            : throw new FileNotFoundException($"No golden vectors for concern '{concern}' at {path}.", path);
    }

    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetInt64().ToString(CultureInfo.InvariantCulture),
        _ => value.GetRawText(),
    };

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Libraries.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Libraries.sln above {AppContext.BaseDirectory}; the tests run from inside the repository.");
    }
}

/// <summary>The C# code and the golden vectors disagree; the message lists every difference.</summary>
public sealed class VectorMismatchException(string concern, IReadOnlyList<string> problems)
    : Exception($"Golden vectors of '{concern}' do not match ({problems.Count}):{Environment.NewLine}- " + string.Join(Environment.NewLine + "- ", problems))
{
    /// <summary>Each difference, one line each.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}
