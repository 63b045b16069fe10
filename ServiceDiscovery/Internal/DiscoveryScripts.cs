namespace Lilith.ServiceDiscovery.Internal;

/// <summary>The Lua scripts of the service-discovery schema, verbatim as schema/service-discovery.md gives them.</summary>
internal static class DiscoveryScripts
{
    /// <summary>
    /// KEYS[1] instances, KEYS[2] expiry, KEYS[3] revision, KEYS[4..3+n] index sets of the stored instance,
    /// KEYS[4+n..] index sets of the new instance. ARGV[1] id, ARGV[2] expected stored JSON ('' = none),
    /// ARGV[3] new JSON, ARGV[4] ttlMs, ARGV[5] n, ARGV[6] events channel, ARGV[7] service as a JSON string,
    /// ARGV[8] id as a JSON string. Returns {-1, stored JSON} on mismatch, {0, 0} when unchanged and live (TTL renewed),
    /// {1, revision} when written. An entry whose expiry passed is not live: writing it again is a change (event, revision).
    /// </summary>
    public const string Register = """
        local current = redis.call('HGET', KEYS[1], ARGV[1])
        if (current or '') ~= ARGV[2] then return {-1, current or ''} end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
        local live = current and expiry and tonumber(expiry) > now
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
        if live and current == ARGV[3] then return {0, 0} end
        local n = tonumber(ARGV[5])
        for i = 4, 3 + n do redis.call('SREM', KEYS[i], ARGV[1]) end
        for i = 4 + n, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        local rev = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[6], '{"v":1,"type":"registered","service":' .. ARGV[7] .. ',"id":' .. ARGV[8] ..
          ',"revision":' .. string.format('%d', rev) .. ',"at":' .. string.format('%d', now) .. ',"instance":' .. ARGV[3] .. '}')
        return {1, rev}
        """;

    /// <summary>
    /// KEYS[1] instances, KEYS[2] expiry. ARGV[1] id, ARGV[2] ttlMs. Returns 1 when renewed, 0 when the instance is not
    /// registered or its expiry has passed (the owner then registers it again, which publishes the change).
    /// </summary>
    public const string Heartbeat = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
        if not expiry or tonumber(expiry) <= now then return 0 end
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
          ',"revision":' .. string.format('%d', rev) .. ',"at":' .. string.format('%d', now) .. '}')
        return 1
        """;

    /// <summary>
    /// KEYS[1] instances, KEYS[2] revision. ARGV[1] id, ARGV[2] health (passing, warning or critical), ARGV[3] events
    /// channel, ARGV[4] service as a JSON string, ARGV[5] id as a JSON string. Changes only the value of the stored
    /// object's top-level <c>health</c> member (added before the closing brace when absent); every other byte stays.
    /// Returns {0, ''} when not registered, {1, new JSON} when written, {2, stored JSON} when unchanged, {-2, ''} when the
    /// stored value is not a JSON object.
    /// </summary>
    public const string SetHealth = """
        local current = redis.call('HGET', KEYS[1], ARGV[1])
        if not current then return {0, ''} end
        if not string.find(current, '^%s*{') then return {-2, ''} end
        local value = '"' .. ARGV[2] .. '"'
        local depth, state, name, from, closing, hs, he = 0, '', nil, nil, nil, nil, nil
        local i, n = 1, #current
        while i <= n do
          local c = string.byte(current, i)
          if c == 34 then
            local j = i + 1
            while true do
              local q = string.find(current, '["\]', j)
              if not q then return {-2, ''} end
              if string.byte(current, q) == 92 then j = q + 2 else j = q break end
            end
            if depth == 1 and state == 'key' then name = string.sub(current, i + 1, j - 1); state = 'colon' end
            i = j
          elseif c == 123 or c == 91 then
            depth = depth + 1
            if depth == 1 then state = 'key' end
          elseif c == 125 or c == 93 then
            if depth == 1 then
              if state == 'value' and name == 'health' then hs, he = from, i - 1 end
              closing = i
            end
            depth = depth - 1
          elseif depth == 1 and c == 58 then
            state = 'value'; from = i + 1
          elseif depth == 1 and c == 44 then
            if state == 'value' and name == 'health' then hs, he = from, i - 1 end
            state = 'key'
          end
          i = i + 1
        end
        if not closing or depth ~= 0 then return {-2, ''} end
        local updated
        if hs then
          while hs <= he and string.find(string.sub(current, hs, hs), '%s') do hs = hs + 1 end
          while he >= hs and string.find(string.sub(current, he, he), '%s') do he = he - 1 end
          if string.sub(current, hs, he) == value then return {2, current} end
          updated = string.sub(current, 1, hs - 1) .. value .. string.sub(current, he + 1)
        else
          local before = string.sub(current, 1, closing - 1)
          local sep = ','
          if string.find(before, '^%s*{%s*$') then sep = '' end
          updated = before .. sep .. '"health":' .. value .. string.sub(current, closing)
        end
        redis.call('HSET', KEYS[1], ARGV[1], updated)
        local rev = redis.call('INCR', KEYS[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('PUBLISH', ARGV[3], '{"v":1,"type":"health-changed","service":' .. ARGV[4] .. ',"id":' .. ARGV[5] ..
          ',"revision":' .. string.format('%d', rev) .. ',"at":' .. string.format('%d', now) .. ',"instance":' .. updated .. '}')
        return {1, updated}
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

    /// <summary>
    /// KEYS[1] sweeper lease. ARGV[1] the caller's token, ARGV[2] leaseMs (0: give the lease up). Returns 1 when the caller
    /// holds the lease (taken because it was free, or renewed), 0 when another client holds it or it was given up.
    /// </summary>
    public const string SweepLease = """
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then return 0 end
        if tonumber(ARGV[2]) == 0 then
          if holder then redis.call('DEL', KEYS[1]) end
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
        return 1
        """;

    /// <summary>
    /// KEYS[1] services. ARGV[1] service name, ARGV[2] its score as the sweeper read it. Removes the service only when its
    /// score is unchanged (no registration touched it since); returns 1 when removed.
    /// </summary>
    public const string PruneService = """
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if score and tonumber(score) == tonumber(ARGV[2]) then
          redis.call('ZREM', KEYS[1], ARGV[1])
          return 1
        end
        return 0
        """;
}
