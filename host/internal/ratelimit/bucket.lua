-- Warden's token bucket, run atomically by Redis (see redis.go).
--
-- KEYS[1]  the bucket: a hash {t = tokens left, ts = time of t in µs}
-- ARGV[1]  capacity: the burst, and the tokens refilled per period
-- ARGV[2]  period in microseconds
--
-- Returns {allowed (1 or 0), whole tokens left, µs until a token is due}.
-- Time is the Redis server's, so replicas with skewed clocks agree.

-- Redis < 5 replicates scripts verbatim, which forbids writes after TIME;
-- effects replication lifts that (and is the default from Redis 5 on).
if redis.replicate_commands then redis.replicate_commands() end

local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  -- No bucket (never used, or expired when it was full): a full one.
  tokens = capacity
  ts = now
elseif now > ts then
  tokens = tokens + (now - ts) * capacity / period
  ts = now
  -- Snap float error, as memory.go does: a token due now is there.
  local whole = math.floor(tokens + 0.5)
  if math.abs(tokens - whole) < 1e-9 then tokens = whole end
end
-- A server clock that went backwards earns nothing until it passes ts.
if tokens > capacity then tokens = capacity end

if tokens < 1 then
  -- Denied: nothing to write; the bucket's expiry still marks when it is full.
  return {0, 0, math.ceil((1 - tokens) * period / capacity - 1e-6)}
end

tokens = tokens - 1
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
-- Expire when the bucket would be full again: an absent bucket is a full
-- one, so idle subjects cost nothing.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * period / capacity / 1000))
return {1, math.floor(tokens), 0}
