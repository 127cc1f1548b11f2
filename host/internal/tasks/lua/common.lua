-- Shared by every script of the Redis task store: redis.go puts it in
-- front of each script, which then reads its own arguments from ARGV[3]
-- on. Each script runs atomically, so two replicas racing (to finish and
-- to cancel, or to fail an expired lease) leave exactly one end state.
--
-- ARGV[1]  the key prefix
-- ARGV[2]  the time in microseconds since the Unix epoch, or "" for the
--          Redis server's clock (TIME), so that replicas with skewed
--          clocks agree on when TTLs and leases run out
--
-- Keys (all under the prefix; scripts derive them, so the store needs one
-- Redis server, not Redis Cluster):
--   t:<id>        hash, the task: id owner tool status msg progress result
--                 created updated ttl poll replica lease (times in µs since
--                 the epoch, durations in µs); expires after its TTL
--   o:<owner>     sorted set of the owner's tasks, all with score 0, member
--                 "<created, 19 digits>:<id>", so that lexical order is
--                 creation order and a page starts after a cursor
--   open:<owner>  set of the IDs of the owner's non-terminal tasks

-- Redis < 5 replicates scripts verbatim, which forbids writes after TIME;
-- effects replication lifts that (and is the default from Redis 5 on).
if redis.replicate_commands then redis.replicate_commands() end

local prefix = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- num writes an integer without the exponent tostring would use.
local function num(n) return string.format('%.0f', n) end

local function task_key(id) return prefix .. 't:' .. id end
local function owner_key(owner) return prefix .. 'o:' .. owner end
local function open_key(owner) return prefix .. 'open:' .. owner end
local function member(created, id) return string.format('%019.0f', created) .. ':' .. id end
-- member_id is the task ID in an o:<owner> member.
local function member_id(m) return string.sub(m, 21) end

local function terminal(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end

-- rfc3339 formats µs since the epoch as Go's time.RFC3339 does in UTC:
-- whole seconds. Redis's Lua has no os.date; the date is Howard Hinnant's
-- civil_from_days.
local function rfc3339(us)
  local secs = math.floor(us / 1000000)
  local days = math.floor(secs / 86400)
  local sod = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m
  if mp < 10 then m = mp + 3 else m = mp - 9 end
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02dZ', y, m, d,
    math.floor(sod / 3600), math.floor(sod % 3600 / 60), sod % 60)
end

-- end_task moves task s to an end state.
local function end_task(s, status, msg)
  s.status = status
  redis.call('HSET', s.key, 'status', status, 'updated', num(now))
  if msg ~= '' then
    redis.call('HSET', s.key, 'msg', msg)
  else
    redis.call('HDEL', s.key, 'msg')
  end
  redis.call('SREM', open_key(s.owner), s.id)
end

-- state returns what the checks need of task id as of now, or nil when
-- there is no such task. A task past its TTL is deleted (Redis expires
-- the key by its own clock; a clock given in ARGV[2] may run ahead of
-- it), and a running task whose lease has run out is failed first: a
-- lease that ran out is final.
local function state(id)
  local key = task_key(id)
  local f = redis.call('HMGET', key, 'owner', 'status', 'replica', 'lease', 'created', 'ttl')
  if not f[1] then return nil end
  local s = {
    key = key, id = id, owner = f[1], status = f[2], replica = f[3],
    lease = tonumber(f[4]), created = tonumber(f[5]), ttl = tonumber(f[6]),
  }
  if s.created + s.ttl <= now then
    redis.call('DEL', key)
    redis.call('SREM', open_key(s.owner), id)
    redis.call('ZREM', owner_key(s.owner), member(s.created, id))
    return nil
  end
  if not terminal(s.status) and s.lease < now then
    end_task(s, 'failed', 'the replica "' .. s.replica .. '" running it stopped renewing its lease at ' ..
      rfc3339(s.lease) .. '; it probably stopped or lost the task store')
  end
  return s
end

-- record_fields returns the task hash at key as a flat list of names and
-- values, with its result only when with_result is true.
local record_names = {'id', 'owner', 'tool', 'status', 'msg', 'progress', 'created', 'updated', 'ttl', 'poll', 'replica', 'lease'}
local function record_fields(key, with_result)
  if with_result then return redis.call('HGETALL', key) end
  local v = redis.call('HMGET', key, unpack(record_names))
  local out = {}
  for i, name in ipairs(record_names) do
    if v[i] then
      out[#out + 1] = name
      out[#out + 1] = v[i]
    end
  end
  return out
end

