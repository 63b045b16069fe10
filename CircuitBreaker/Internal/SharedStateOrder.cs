namespace Lilith.CircuitBreaker.Internal;

/// <summary>
/// The newest shared state a breaker applied or wrote (schema/circuit-breaker.md, flow 7). Announcements and
/// <c>read-state</c> replies can arrive out of order; only a newer state may be applied, so a late older
/// <c>closed</c> cannot undo a newer <c>open</c>. Newer means a larger <c>changedAt</c>; in the same millisecond,
/// the more cautious state, then the larger instance id (ordinal). Callers hold the breaker's lock.
/// </summary>
internal sealed class SharedStateOrder
{
    private long _changedAt = long.MinValue;
    private int _rank;
    private string _instance = string.Empty;

    /// <summary>True when <paramref name="s"/> is newer than the last state recorded, which it then becomes.</summary>
    public bool Advance(BreakerStateSnapshot s)
    {
        int rank = Rank(s.State);
        string instance = s.Instance ?? string.Empty;
        int order = s.ChangedAt.CompareTo(_changedAt);
        if (order == 0)
        {
            order = rank.CompareTo(_rank);
        }

        if (order == 0)
        {
            order = string.CompareOrdinal(instance, _instance);
        }

        if (order <= 0)
        {
            return false;
        }

        (_changedAt, _rank, _instance) = (s.ChangedAt, rank, instance);
        return true;
    }

    private static int Rank(CircuitState state) => state switch
    {
        CircuitState.Closed => 0,
        CircuitState.HalfOpen => 1,
        CircuitState.Open => 2,
        _ => 3,
    };
}
