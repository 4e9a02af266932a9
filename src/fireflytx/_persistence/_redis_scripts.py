"""The store rules in Lua: one script runs a batch of operations atomically, with the server's clock.

Keys (``P`` is the key prefix): ``P tx:<id>`` a hash of the record's fields, ``P cp:<id>`` a hash of
its checkpoints (``phase/unit`` -> ``"<seq> <time> <json>"``), and three sorted sets of ids:
``P lease`` (running transactions by lease expiry: what recovery scans), ``P created`` (by
creation time: listing) and ``P finished`` (by end time: purging). Leases use the server's
clock, so machines with skewed clocks still agree on who owns what.

Every operation is a Lua function of its keys and arguments; ``BATCH`` runs any number of them in
the order given, in one script call, and returns one answer per operation. The store sends one
batch per round trip: one command to pack and one reply to parse, however many writes it carries.
"""

from __future__ import annotations

__all__ = ["BATCH", "OPS"]

_PRELUDE = """
local ops = {}
local clock = nil
local function now()
  -- Read once per script: a batch runs atomically, so all its operations happen at one instant.
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  return clock
end
local function fmt(x) return string.format('%.6f', x) end
"""

_OPERATIONS = """
-- k: tx, lease, created. a: id, lease_s, owner, static json (kind, name, input, headers, fingerprint).
-- Answers {1, {created, lease}} when it created the record, {0, record fields} when it exists.
ops.create = function(k, a)
  if redis.call('EXISTS', k[1]) == 1 then return {0, redis.call('HGETALL', k[1])} end
  local n = now()
  local lease = n + tonumber(a[2])
  redis.call('HSET', k[1], 'id', a[1], 'static', a[4], 'status', 'RUNNING', 'owner', a[3],
    'lease', fmt(lease), 'recoveries', '0', 'created', fmt(n), 'updated', fmt(n), 'decision', '',
    'result', 'null')
  redis.call('ZADD', k[2], lease, a[1])
  redis.call('ZADD', k[3], n, a[1])
  return {1, {fmt(n), fmt(lease)}}
end

-- k: tx, cp. a: owner, checkpoint key, checkpoint json.
ops.append = function(k, a)
  local f = redis.call('HMGET', k[1], 'status', 'owner')
  if f[1] ~= 'RUNNING' or f[2] ~= a[1] then return {-1, redis.call('HGETALL', k[1])} end
  local n = now()
  local seq = redis.call('HLEN', k[2]) + 1
  if redis.call('HSETNX', k[2], a[2], seq .. ' ' .. fmt(n) .. ' ' .. a[3]) == 0 then return {0} end
  redis.call('HSET', k[1], 'updated', fmt(n))
  return {1}
end

-- k: tx. a: owner, decision.
ops.decide = function(k, a)
  local f = redis.call('HMGET', k[1], 'status', 'owner', 'decision')
  if f[1] ~= 'RUNNING' or f[2] ~= a[1] then return {-1, redis.call('HGETALL', k[1])} end
  if f[3] and f[3] ~= '' then return {0, f[3]} end
  redis.call('HSET', k[1], 'decision', a[2], 'updated', fmt(now()))
  return {1, a[2]}
end

-- k: tx, cp, lease, finished. a: id, status, owner, checked ('1'/'0'), result json, ttl seconds,
-- brief ('1': answer only the fields that change, the caller knows the rest).
ops.set_status = function(k, a)
  local f = redis.call('HMGET', k[1], 'status', 'owner')
  if not f[1] then return {-1, {}} end
  if a[4] == '1' and f[2] ~= a[3] then return {-1, redis.call('HGETALL', k[1])} end
  local n = now()
  local st = a[2]
  if st == 'RUNNING' then
    if f[1] ~= 'DEAD' then return {-1, redis.call('HGETALL', k[1])} end
    redis.call('HSET', k[1], 'status', st, 'owner', '', 'lease', '0', 'recoveries', '0', 'updated', fmt(n))
    redis.call('ZADD', k[3], 0, a[1])
  elseif f[1] ~= 'RUNNING' and f[1] ~= 'DEAD' then
    return {-1, redis.call('HGETALL', k[1])}
  elseif st == 'DEAD' then
    redis.call('HSET', k[1], 'status', st, 'owner', '', 'lease', '0', 'updated', fmt(n))
    redis.call('ZREM', k[3], a[1])
  else
    redis.call('HSET', k[1], 'status', st, 'owner', '', 'lease', '0', 'result', a[5], 'updated', fmt(n))
    redis.call('ZREM', k[3], a[1])
    redis.call('ZADD', k[4], n, a[1])
    local ttl = tonumber(a[6])
    if ttl > 0 then
      redis.call('EXPIRE', k[1], ttl)
      redis.call('EXPIRE', k[2], ttl)
    end
  end
  if a[7] == '1' then
    return {1, redis.call('HMGET', k[1], 'owner', 'lease', 'recoveries', 'created', 'updated', 'decision')}
  end
  return {1, redis.call('HGETALL', k[1])}
end

-- k: tx, lease. a: id, owner, lease_s, max recoveries (-1: no limit).
ops.claim = function(k, a)
  local f = redis.call('HMGET', k[1], 'status', 'owner', 'lease', 'recoveries')
  if f[1] ~= 'RUNNING' then return {} end
  local n = now()
  if f[2] ~= '' and f[2] ~= a[2] and tonumber(f[3]) > n then return {} end
  local lease = n + tonumber(a[3])
  if f[2] == a[2] then
    redis.call('HSET', k[1], 'lease', fmt(lease), 'updated', fmt(n))
    redis.call('ZADD', k[2], lease, a[1])
    return redis.call('HGETALL', k[1])
  end
  local rec = tonumber(f[4]) + 1
  local most = tonumber(a[4])
  if most >= 0 and rec > most then
    redis.call('HSET', k[1], 'status', 'DEAD', 'owner', '', 'lease', '0',
      'recoveries', rec, 'updated', fmt(n))
    redis.call('ZREM', k[2], a[1])
  else
    redis.call('HSET', k[1], 'owner', a[2], 'lease', fmt(lease), 'recoveries', rec, 'updated', fmt(n))
    redis.call('ZADD', k[2], lease, a[1])
  end
  return redis.call('HGETALL', k[1])
end

-- k: lease, tx1..txN. a: owner, lease_s, id1..idN.
ops.renew = function(k, a)
  local lease = now() + tonumber(a[2])
  local kept = {}
  for i = 2, #k do
    local f = redis.call('HMGET', k[i], 'status', 'owner')
    if f[1] == 'RUNNING' and f[2] == a[1] then
      redis.call('HSET', k[i], 'lease', fmt(lease))
      redis.call('ZADD', k[1], lease, a[i + 1])
      kept[#kept + 1] = a[i + 1]
    end
  end
  return kept
end

-- k: tx, lease. a: id, owner.
ops.release = function(k, a)
  local f = redis.call('HMGET', k[1], 'status', 'owner')
  if f[1] ~= 'RUNNING' or f[2] ~= a[2] then return 0 end
  redis.call('HSET', k[1], 'owner', '', 'lease', '0', 'updated', fmt(now()))
  redis.call('ZADD', k[2], 0, a[1])
  return 1
end

-- k: lease. a: limit.
ops.recoverable = function(k, a)
  return redis.call('ZRANGEBYSCORE', k[1], '-inf', now(), 'LIMIT', 0, tonumber(a[1]))
end
"""

OPS = frozenset(["append", "claim", "create", "decide", "recoverable", "release", "renew", "set_status"])
"""The operations ``BATCH`` knows."""

# ARGV[1]: a JSON array of operations, each [name, [keys...], [arguments...]], run in that order.
BATCH = (
    _PRELUDE
    + _OPERATIONS
    + """
local out = {}
for i, op in ipairs(cjson.decode(ARGV[1])) do
  out[i] = ops[op[1]](op[2], op[3])
end
return out
"""
)
