-- Create: ARGV[3] id, [4] owner, [5] most open tasks (0: no limit), [6] tool,
-- [7] status message or "", [8] progress JSON or "", [9] TTL µs, [10] poll
-- interval µs, [11] replica, [12] lease µs.
-- Returns {'ok', record}, {'exists'} or {'toomany', open tasks}.
local id, owner = ARGV[3], ARGV[4]
local max_open = tonumber(ARGV[5])
local key, okey, open = task_key(id), owner_key(owner), open_key(owner)

if state(id) then return {'exists'} end

if max_open > 0 and redis.call('SCARD', open) >= max_open then
  -- Only now is it worth looking at the members: drop those of tasks that
  -- ended, expired or whose lease ran out (state fails those) before
  -- refusing.
  for _, m in ipairs(redis.call('SMEMBERS', open)) do
    local s = state(m)
    if not s or terminal(s.status) or s.owner ~= owner then redis.call('SREM', open, m) end
  end
  local n = redis.call('SCARD', open)
  if n >= max_open then return {'toomany', n} end
end

redis.call('HSET', key, 'id', id, 'owner', owner, 'tool', ARGV[6], 'status', 'working',
  'created', num(now), 'updated', num(now), 'ttl', ARGV[9], 'poll', ARGV[10],
  'replica', ARGV[11], 'lease', ARGV[12])
if ARGV[7] ~= '' then redis.call('HSET', key, 'msg', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', key, 'progress', ARGV[8]) end
local ttl_ms = math.max(1, math.ceil(tonumber(ARGV[9]) / 1000))
redis.call('PEXPIRE', key, ttl_ms)

-- Drop the oldest few members whose tasks are gone, so that the list of
-- an owner who keeps creating tasks stays about as long as their live
-- tasks (List drops the ones it meets too).
for _, m in ipairs(redis.call('ZRANGE', okey, 0, 9)) do
  local s = state(member_id(m))
  if not s or s.owner ~= owner then redis.call('ZREM', okey, m) end
end
redis.call('ZADD', okey, 0, member(now, id))
redis.call('SADD', open, id)
-- The owner's keys outlive their newest task, and no longer.
for _, k in ipairs({okey, open}) do
  if redis.call('PTTL', k) < ttl_ms then redis.call('PEXPIRE', k, ttl_ms) end
end
return {'ok', record_fields(key, false)}
