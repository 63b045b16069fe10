using System.Diagnostics;

namespace Lilith.Testing.Redis;

/// <summary>One write a <see cref="FencedRegister"/> was asked to take.</summary>
/// <param name="Resource">What was written (a lock name).</param>
/// <param name="Holder">Who wrote, as the test names it.</param>
/// <param name="Token">The fencing token the writer presented.</param>
/// <param name="At">When the register took the write, as a <see cref="Stopwatch"/> timestamp (one total order).</param>
/// <param name="Accepted">Whether a fenced store would have accepted it (its token is not smaller than the largest accepted).</param>
public sealed record FencedWrite(string Resource, string Holder, long Token, long At, bool Accepted);

/// <summary>
/// The storage a fencing token protects, as a checker: per resource it keeps the largest token it accepted and
/// refuses smaller ones, and records every write in one total order. A history is safe when no write was refused (a
/// holder that still believed it held never carried a token older than one already seen) and the writes of different
/// grants never interleave in real time.
/// </summary>
public sealed class FencedRegister
{
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _largest = new(StringComparer.Ordinal);
    private readonly List<FencedWrite> _history = [];

    /// <summary>Every write so far, in the order the register took them.</summary>
    public IReadOnlyList<FencedWrite> History
    {
        get
        {
            lock (_gate)
            {
                return [.. _history];
            }
        }
    }

    /// <summary>Takes a write with <paramref name="token"/>; false when a fenced store would refuse it.</summary>
    public bool TryWrite(string resource, string holder, long token)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentNullException.ThrowIfNull(holder);
        lock (_gate)
        {
            bool accepted = !_largest.TryGetValue(resource, out long largest) || token >= largest;
            if (accepted)
            {
                _largest[resource] = token;
            }

            _history.Add(new FencedWrite(resource, holder, token, Stopwatch.GetTimestamp(), accepted));
            return accepted;
        }
    }

    /// <summary>
    /// What makes the history unsafe, one line each; empty when it is safe: a refused write (a smaller token after a
    /// larger one), and two grants (holder and token) of one resource whose first-to-last writes overlap in time.
    /// </summary>
    public IReadOnlyList<string> Violations()
    {
        List<FencedWrite> history = [.. History];
        var violations = new List<string>();
        foreach (FencedWrite refused in history.Where(write => !write.Accepted))
        {
            violations.Add($"{refused.Holder} wrote {refused.Resource} with token {refused.Token} after a larger token was accepted");
        }

        foreach (IGrouping<string, FencedWrite> resource in history.GroupBy(write => write.Resource, StringComparer.Ordinal))
        {
            var grants = resource
                .GroupBy(write => (write.Holder, write.Token))
                .Select(grant => (grant.Key.Holder, grant.Key.Token, First: grant.Min(w => w.At), Last: grant.Max(w => w.At)))
                .OrderBy(grant => grant.First)
                .ToList();
            for (int i = 1; i < grants.Count; i++)
            {
                var before = grants[i - 1];
                var after = grants[i];
                if (after.First < before.Last)
                {
                    violations.Add(
                        $"{resource.Key}: {after.Holder} (token {after.Token}) wrote while {before.Holder} (token {before.Token}) " +
                        $"still wrote, {Stopwatch.GetElapsedTime(after.First, before.Last).TotalMilliseconds:0.#} ms of overlap");
                }
            }
        }

        return violations;
    }
}

/// <summary>
/// A schedule of faults drawn from a seed, so a failing randomized run can be replayed: set
/// <see cref="SeedVariable"/> to the seed the test printed.
/// </summary>
public static class FaultSchedule
{
    /// <summary>The environment variable that fixes the seed of a randomized fault run.</summary>
    public const string SeedVariable = "LILITH_FAULT_SEED";

    /// <summary>The environment variable that lengthens a randomized fault run (seconds); CI uses the test's short default.</summary>
    public const string SecondsVariable = "LILITH_FAULT_SECONDS";

    /// <summary>The seed from <see cref="SeedVariable"/>, else a new random one.</summary>
    public static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int seed)
            ? seed
            : Random.Shared.Next();

    /// <summary>How long a randomized run lasts: <see cref="SecondsVariable"/> when set, else <paramref name="ciDefault"/>.</summary>
    public static TimeSpan Duration(TimeSpan ciDefault) =>
        double.TryParse(Environment.GetEnvironmentVariable(SecondsVariable), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : ciDefault;
}
