namespace Lilith.ServiceAddresses.Internal;

/// <summary>The known names closest to a misspelt one (Levenshtein distance), for "did you mean" messages.</summary>
internal static class NameSuggestions
{
    public static IReadOnlyList<string> Closest(string name, IEnumerable<string> known, int max = 3)
    {
        int limit = Math.Max(2, name.Length / 3);
        return known
            .Select(k => (Name: k, Distance: Distance(name.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(c => c.Distance <= limit || c.Name.Contains(name, StringComparison.OrdinalIgnoreCase) || name.Contains(c.Name, StringComparison.OrdinalIgnoreCase))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(c => c.Name)
            .ToList();
    }

    public static string DidYouMean(string name, IEnumerable<string> known)
    {
        IReadOnlyList<string> closest = Closest(name, known);
        return closest.Count == 0 ? "" : $" (did you mean {string.Join(" or ", closest.Select(c => $"'{c}'"))}?)";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
