namespace Lilith.ServiceDiscovery.Internal;

/// <summary>The Lua scripts of the service-discovery schema, verbatim as schema/service-discovery.md gives them.</summary>
internal static class DiscoveryScripts
{
    /// <summary>
    /// KEYS[1] instances, KEYS[2] expiry, KEYS[3] revision, KEYS[4..3+n] index sets of the stored instance,
    /// KEYS[4+n..] index sets of the new instance. ARGV[1] id, ARGV[2] expected stored JSON ('' = none),
    /// ARGV[3] new JSON, ARGV[4] ttlMs, ARGV[5] n, ARGV[6] events channel, ARGV[7] service as a JSON string,
    /// ARGV[8] id as a JSON string. Returns {-1, stored JSON} on mismatch, {0, 0} when unchanged (TTL renewed),
    /// {1, revision} when written.
    /// </summary>
    public const string Register = """
        local current = redis.call('HGET', KEYS[1], ARGV[1])
        if (current or '') ~= ARGV[2] then return {-1, current or ''} end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
        if current == ARGV[3] then return {0, 0} end
        local n = tonumber(ARGV[5])
        for i = 4, 3 + n do redis.call('SREM', KEYS[i], ARGV[1]) end
        for i = 4 + n, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        local rev = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[6], '{"v":1,"type":"registered","service":' .. ARGV[7] .. ',"id":' .. ARGV[8] ..
          ',"revision":' .. rev .. ',"at":' .. string.format('%d', now) .. ',"instance":' .. ARGV[3] .. '}')
        return {1, rev}
        """;

    /// <summary>KEYS[1] instances, KEYS[2] expiry. ARGV[1] id, ARGV[2] ttlMs. Returns 1 when renewed, 0 when the instance is not registered.</summary>
    public const string Heartbeat = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
        return 1
        """;

    /// <summary>
    /// KEYS[1] instances, KEYS[2] expiry, KEYS[3] revision, KEYS[4..] index sets of the stored instance.
    /// ARGV[1] id, ARGV[2] expected stored JSON, ARGV[3] 'deregistered' or 'expired', ARGV[4] events channel,
    /// ARGV[5] service as a JSON string, ARGV[6] id as a JSON string. Returns -1 on mismatch, 0 when already
    /// gone (or, for 'expired', renewed meanwhile), 1 when removed.
    /// </summary>
    public const string Remove = """
        local current = redis.call('HGET', KEYS[1], ARGV[1])
        if not current then
          redis.call('ZREM', KEYS[2], ARGV[1])
          return 0
        end
        if current ~= ARGV[2] then return -1 end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if ARGV[3] == 'expired' then
          local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
          if score and tonumber(score) > now then return 0 end
        end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        for i = 4, #KEYS do redis.call('SREM', KEYS[i], ARGV[1]) end
        local rev = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[4], '{"v":1,"type":"' .. ARGV[3] .. '","service":' .. ARGV[5] .. ',"id":' .. ARGV[6] ..
          ',"revision":' .. rev .. ',"at":' .. string.format('%d', now) .. '}')
        return 1
        """;

    /// <summary>
    /// KEYS[1] instances, KEYS[2] revision. ARGV[1] id, ARGV[2] expected stored JSON, ARGV[3] new JSON,
    /// ARGV[4] events channel, ARGV[5] service as a JSON string, ARGV[6] id as a JSON string.
    /// Returns -1 on mismatch, 0 when not registered, 1 when written, 2 when unchanged.
    /// </summary>
    public const string SetHealth = """
        local current = redis.call('HGET', KEYS[1], ARGV[1])
        if not current then return 0 end
        if current ~= ARGV[2] then return -1 end
        if current == ARGV[3] then return 2 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        local rev = redis.call('INCR', KEYS[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('PUBLISH', ARGV[4], '{"v":1,"type":"health-changed","service":' .. ARGV[5] .. ',"id":' .. ARGV[6] ..
          ',"revision":' .. rev .. ',"at":' .. string.format('%d', now) .. ',"instance":' .. ARGV[3] .. '}')
        return 1
        """;

    /// <summary>
    /// KEYS[1] instances, KEYS[2] expiry, KEYS[3] revision. Returns {revision, {id, JSON, id, JSON, ...}} with the
    /// instances whose expiry is later than now (expired but not yet swept instances are left out).
    /// </summary>
    public const string Load = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. string.format('%d', now), '+inf')
        local out = {}
        for _, id in ipairs(ids) do
          local json = redis.call('HGET', KEYS[1], id)
          if json then out[#out + 1] = id; out[#out + 1] = json end
        end
        return {redis.call('GET', KEYS[3]) or '0', out}
        """;

    /// <summary>KEYS[1] instances, KEYS[2] expiry. ARGV[1] limit. Returns {id, JSON or '', ...} of instances whose expiry is now or earlier.</summary>
    public const string Expired = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now), 'LIMIT', 0, tonumber(ARGV[1]))
        local out = {}
        for _, id in ipairs(ids) do out[#out + 1] = id; out[#out + 1] = redis.call('HGET', KEYS[1], id) or '' end
        return out
        """;

    /// <summary>KEYS[1] services. ARGV[1] service name. Sets the service's score to now (ms, server clock).</summary>
    public const string TouchService = """
        local t = redis.call('TIME')
        redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
        return 1
        """;
}
