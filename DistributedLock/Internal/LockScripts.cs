namespace Lilith.DistributedLock.Internal;

/// <summary>The Lua scripts of the lock, verbatim as in schema/distributed-lock.md (the siblings run the same text).</summary>
internal static class LockScripts
{
    /// <summary>
    /// KEYS[1] lock, KEYS[2] fence; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns {1, fencing token} when granted, {0, PTTL of the lock} when held by someone else.
    /// </summary>
    public const string Acquire = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          return {0, redis.call('PTTL', KEYS[1])}
        end
        local token = redis.call('INCR', KEYS[2])
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return {1, token}
        """;

    /// <summary>
    /// KEYS[1] lock; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns 1 when the lease was reset, 0 when the lock is gone or held by another token (never re-created).
    /// </summary>
    public const string Renew = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        return 0
        """;

    /// <summary>
    /// KEYS[1] lock, KEYS[2] released channel; ARGV[1] holder token.
    /// Returns 1 when deleted (and announced), 0 when the lock is gone or held by another token.
    /// </summary>
    public const string Release = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
          redis.call('PUBLISH', KEYS[2], ARGV[1])
          return 1
        end
        return 0
        """;
}
