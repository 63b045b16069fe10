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

/// <summary>The semaphore's Lua scripts, verbatim as in schema/distributed-lock.md.</summary>
internal static class SemaphoreScripts
{
    /// <summary>
    /// KEYS[1] semaphore holders, KEYS[2] semaphore fence; ARGV[1] holder token, ARGV[2] lease in ms, ARGV[3] max count.
    /// Returns {1, fencing token} when granted, {0, ms until the earliest lease ends} when full.
    /// </summary>
    public const string Acquire = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
          local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          return {0, tonumber(first[2]) - now}
        end
        local token = redis.call('INCR', KEYS[2])
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
        redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]))
        return {1, token}
        """;

    /// <summary>
    /// KEYS[1] semaphore holders; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns 1 when the lease was reset, 0 when the slot is gone or its lease has ended (never re-created).
    /// </summary>
    public const string Renew = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not score or tonumber(score) <= now then
          return 0
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
        redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]))
        return 1
        """;

    /// <summary>
    /// KEYS[1] semaphore holders, KEYS[2] semaphore released channel; ARGV[1] holder token.
    /// Returns 1 when the slot was held and is now free (and announced), 0 when it was gone or its lease had ended.
    /// </summary>
    public const string Release = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not score then
          return 0
        end
        redis.call('ZREM', KEYS[1], ARGV[1])
        if tonumber(score) <= now then
          return 0
        end
        redis.call('PUBLISH', KEYS[2], ARGV[1])
        return 1
        """;
}

/// <summary>
/// The reader-writer lock's own Lua scripts, verbatim as in schema/distributed-lock.md. Renewal and release reuse
/// the semaphore's scripts on <c>rw-readers</c> (readers) and the lock's scripts on <c>rw-writer</c> (the writer);
/// a waiting writer that gives up withdraws its intent with the lock's release script on <c>rw-writer-intent</c>.
/// </summary>
internal static class ReaderWriterScripts
{
    /// <summary>
    /// KEYS[1] rw-readers, KEYS[2] rw-writer, KEYS[3] rw-writer-intent, KEYS[4] rw-fence; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns {1, the last write grant's fencing token (0 if none)} when granted; {0, PTTL of the writer or of the
    /// writer intent} when a writer holds the lock or waits for it.
    /// </summary>
    public const string AcquireRead = """
        local blocker = redis.call('PTTL', KEYS[2])
        if blocker == -2 then
          blocker = redis.call('PTTL', KEYS[3])
        end
        if blocker ~= -2 then
          return {0, blocker}
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
        redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]))
        return {1, tonumber(redis.call('GET', KEYS[4]) or '0')}
        """;

    /// <summary>
    /// KEYS[1] rw-readers, KEYS[2] rw-writer, KEYS[3] rw-writer-intent, KEYS[4] rw-fence; ARGV[1] holder token,
    /// ARGV[2] lease in ms, ARGV[3] intent lease in ms (0: a single try that registers no intent).
    /// Returns {1, fencing token} when granted; {0, ms the blocker still holds (writer PTTL, other writer's intent
    /// PTTL, or the latest reader lease end)} when not, having registered or refreshed this writer's intent when
    /// ARGV[3] &gt; 0 and no other writer's intent is registered.
    /// </summary>
    public const string AcquireWrite = """
        local intent = redis.call('GET', KEYS[3])
        local blocker = redis.call('PTTL', KEYS[2])
        if blocker == -2 and intent and intent ~= ARGV[1] then
          blocker = redis.call('PTTL', KEYS[3])
        elseif blocker == -2 then
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
          local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
          if #last == 0 then
            local token = redis.call('INCR', KEYS[4])
            redis.call('DEL', KEYS[3])
            redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
            return {1, token}
          end
          blocker = tonumber(last[2]) - now
        end
        if tonumber(ARGV[3]) > 0 and (not intent or intent == ARGV[1]) then
          redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
        end
        return {0, blocker}
        """;
}
