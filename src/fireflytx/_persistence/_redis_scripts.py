"""The store rules as Lua scripts: each runs atomically on the Redis server, with the server's clock.

Keys (``P`` is the key prefix): ``P tx:<id>`` a hash of the record's fields, ``P cp:<id>`` a hash of
its checkpoints (``phase/unit`` -> ``"<seq> <time> <json>"``), and three sorted sets of ids:
``P lease`` (running transactions by lease expiry: what recovery scans), ``P created`` (by
creation time: listing) and ``P finished`` (by end time: purging). Leases use the server's
clock, so machines with skewed clocks still agree on who owns what.
"""

from __future__ import annotations

__all__ = ["APPEND", "CLAIM", "CREATE", "DECIDE", "RECOVERABLE", "RELEASE", "RENEW", "SET_STATUS"]

_PRELUDE = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
"""

# KEYS: tx, lease, created. ARGV: id, lease_s, owner, static json (kind, name, input, headers, fingerprint).
CREATE = (
    _PRELUDE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
local n = now()
local lease = n + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'static', ARGV[4], 'status', 'RUNNING', 'owner', ARGV[3],
  'lease', fmt(lease), 'recoveries', '0', 'created', fmt(n), 'updated', fmt(n), 'decision', '',
  'result', 'null')
redis.call('ZADD', KEYS[2], lease, ARGV[1])
redis.call('ZADD', KEYS[3], n, ARGV[1])
return {1, redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: tx, cp. ARGV: owner, checkpoint key, checkpoint json.
APPEND = (
    _PRELUDE
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner')
if f[1] ~= 'RUNNING' or f[2] ~= ARGV[1] then return {-1, redis.call('HGETALL', KEYS[1])} end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return {0} end
local n = now()
local seq = redis.call('HLEN', KEYS[2]) + 1
redis.call('HSET', KEYS[2], ARGV[2], seq .. ' ' .. fmt(n) .. ' ' .. ARGV[3])
redis.call('HSET', KEYS[1], 'updated', fmt(n))
return {1}
"""
)

# KEYS: tx. ARGV: owner, decision.
DECIDE = (
    _PRELUDE
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner', 'decision')
if f[1] ~= 'RUNNING' or f[2] ~= ARGV[1] then return {-1, redis.call('HGETALL', KEYS[1])} end
if f[3] and f[3] ~= '' then return {0, f[3]} end
redis.call('HSET', KEYS[1], 'decision', ARGV[2], 'updated', fmt(now()))
return {1, ARGV[2]}
"""
)

# KEYS: tx, cp, lease, finished. ARGV: id, status, owner, checked ('1'/'0'), result json, ttl seconds.
SET_STATUS = (
    _PRELUDE
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner')
if not f[1] then return {-1, {}} end
if ARGV[4] == '1' and f[2] ~= ARGV[3] then return {-1, redis.call('HGETALL', KEYS[1])} end
local n = now()
local st = ARGV[2]
if st == 'RUNNING' then
  if f[1] ~= 'DEAD' then return {-1, redis.call('HGETALL', KEYS[1])} end
  redis.call('HSET', KEYS[1], 'status', st, 'owner', '', 'lease', '0', 'recoveries', '0', 'updated', fmt(n))
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
elseif f[1] ~= 'RUNNING' and f[1] ~= 'DEAD' then
  return {-1, redis.call('HGETALL', KEYS[1])}
elseif st == 'DEAD' then
  redis.call('HSET', KEYS[1], 'status', st, 'owner', '', 'lease', '0', 'updated', fmt(n))
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'status', st, 'owner', '', 'lease', '0', 'result', ARGV[5], 'updated', fmt(n))
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], n, ARGV[1])
  local ttl = tonumber(ARGV[6])
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
return {1, redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: tx, lease. ARGV: id, owner, lease_s, max recoveries (-1: no limit).
CLAIM = (
    _PRELUDE
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner', 'lease', 'recoveries')
if f[1] ~= 'RUNNING' then return {} end
local n = now()
if f[2] ~= '' and f[2] ~= ARGV[2] and tonumber(f[3]) > n then return {} end
local lease = n + tonumber(ARGV[3])
if f[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'lease', fmt(lease), 'updated', fmt(n))
  redis.call('ZADD', KEYS[2], lease, ARGV[1])
  return redis.call('HGETALL', KEYS[1])
end
local rec = tonumber(f[4]) + 1
local most = tonumber(ARGV[4])
if most >= 0 and rec > most then
  redis.call('HSET', KEYS[1], 'status', 'DEAD', 'owner', '', 'lease', '0',
    'recoveries', rec, 'updated', fmt(n))
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'lease', fmt(lease), 'recoveries', rec, 'updated', fmt(n))
  redis.call('ZADD', KEYS[2], lease, ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
"""
)

# KEYS: lease, tx1..txN. ARGV: owner, lease_s, id1..idN.
RENEW = (
    _PRELUDE
    + """
local lease = now() + tonumber(ARGV[2])
local kept = {}
for i = 2, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'status', 'owner')
  if f[1] == 'RUNNING' and f[2] == ARGV[1] then
    redis.call('HSET', KEYS[i], 'lease', fmt(lease))
    redis.call('ZADD', KEYS[1], lease, ARGV[i + 1])
    kept[#kept + 1] = ARGV[i + 1]
  end
end
return kept
"""
)

# KEYS: tx, lease. ARGV: id, owner.
RELEASE = (
    _PRELUDE
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner')
if f[1] ~= 'RUNNING' or f[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'owner', '', 'lease', '0', 'updated', fmt(now()))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""
)

# KEYS: lease. ARGV: limit.
RECOVERABLE = (
    _PRELUDE
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now(), 'LIMIT', 0, tonumber(ARGV[1]))
"""
)
