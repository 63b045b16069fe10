namespace Lilith.DistributedLock.Internal;

/// <summary>The Lua scripts of the lock, verbatim as in schema/distributed-lock.md (the siblings run the same text).</summary>
internal static class LockScripts
{
    /// <summary>
    /// The fencing token of a grant (schema/distributed-lock.md "The fencing token"), a fragment of every granting script:
    /// never below the server clock in microseconds and always above the last token issued; the fence key lives as
    /// long as the grant's lease (ARGV[2]). Expects the locals <c>t</c> (TIME) and <c>fence</c> (the fence key).
    /// </summary>
    internal const string NextToken = """
        local token = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local last = tonumber(redis.call('GET', fence))
        if last and last >= token then
          token = last + 1
        end
        redis.call('SET', fence, string.format('%.0f', token), 'PX', ARGV[2])
        """;

    /// <summary>The server clock in Unix ms (TIME), the first lines of every script that needs it.</summary>
    internal const string Now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    /// <summary>
    /// KEYS[1] lock, KEYS[2] fence; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns {1, fencing token} when granted (also when ARGV[1] already holds the lock: a retry after a lost reply
    /// gets a new token and a new lease), {0, PTTL of the lock} when held by someone else.
    /// </summary>
    public const string Acquire = $$"""
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then
          return {0, redis.call('PTTL', KEYS[1])}
        end
        {{Now}}
        local fence = KEYS[2]
        {{NextToken}}
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
    /// Returns {1, fencing token} when granted (also when ARGV[1] already holds a live slot: new token, new lease),
    /// {0, ms until the earliest lease ends} when full.
    /// </summary>
    public const string Acquire = $$"""
        {{LockScripts.Now}}
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
          local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          return {0, tonumber(first[2]) - now}
        end
        local fence = KEYS[2]
        {{LockScripts.NextToken}}
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
        redis.call('PEXPIREAT', KEYS[1], tonumber(latest[2]))
        return {1, token}
        """;

    /// <summary>
    /// KEYS[1] semaphore holders; ARGV[1] holder token, ARGV[2] lease in ms.
    /// Returns 1 when the lease was reset, 0 when the slot is gone or its lease has ended (never re-created).
    /// </summary>
    public const string Renew = $$"""
        {{LockScripts.Now}}
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
    public const string Release = $$"""
        {{LockScripts.Now}}
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
    /// Returns {1, read token} when granted (also when ARGV[1] is already a live reader); {0, PTTL of the writer or of
    /// the writer intent} when a writer holds the lock or waits for it. The read token is rw-fence's value; when rw-fence
    /// has expired (or never existed), the read sets it to the server clock in microseconds with its lease: at least every earlier
    /// write token, below every later one, shared by the readers that follow until the next write.
    /// </summary>
    public const string AcquireRead = $$"""
        {{LockScripts.Now}}
        local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not mine or tonumber(mine) <= now then
          local blocker = redis.call('PTTL', KEYS[2])
          if blocker == -2 then
            blocker = redis.call('PTTL', KEYS[3])
          end
          if blocker ~= -2 then
            return {0, blocker}
          end
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
        redis.call('PEXPIREAT', KEYS[1], tonumber(latest[2]))
        local token = tonumber(redis.call('GET', KEYS[4]))
        if not token then
          token = tonumber(t[1]) * 1000000 + tonumber(t[2])
          redis.call('SET', KEYS[4], string.format('%.0f', token), 'PX', ARGV[2])
        end
        return {1, token}
        """;

    /// <summary>
    /// KEYS[1] rw-readers, KEYS[2] rw-writer, KEYS[3] rw-writer-intent, KEYS[4] rw-fence; ARGV[1] holder token,
    /// ARGV[2] lease in ms, ARGV[3] intent lease in ms (0: a single try that registers no intent).
    /// Returns {1, fencing token} when granted (also when ARGV[1] already holds the writer: new token, new lease);
    /// {0, ms the blocker still holds (writer PTTL, other writer's intent PTTL, or the latest reader lease end)} when
    /// not, having registered or refreshed this writer's intent when ARGV[3] &gt; 0 and no other writer's intent is registered.
    /// </summary>
    public const string AcquireWrite = $$"""
        local writer = redis.call('GET', KEYS[2])
        local intent = redis.call('GET', KEYS[3])
        {{LockScripts.Now}}
        local blocker
        if writer and writer ~= ARGV[1] then
          blocker = redis.call('PTTL', KEYS[2])
        elseif not writer and intent and intent ~= ARGV[1] then
          blocker = redis.call('PTTL', KEYS[3])
        elseif not writer then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
          local readers = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
          if #readers > 0 then
            blocker = tonumber(readers[2]) - now
          end
        end
        if blocker then
          if tonumber(ARGV[3]) > 0 and (not intent or intent == ARGV[1]) then
            redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
          end
          return {0, blocker}
        end
        local fence = KEYS[4]
        {{LockScripts.NextToken}}
        if intent == ARGV[1] then
          redis.call('DEL', KEYS[3])
        end
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        return {1, token}
        """;
}
