-- Report: ARGV[3] id, [4] progress JSON.
-- Returns {'ok'}, {'notfound'} or {'terminal', status}.
local s = state(ARGV[3])
if not s then return {'notfound'} end
if terminal(s.status) then return {'terminal', s.status} end
redis.call('HSET', s.key, 'progress', ARGV[4], 'updated', num(now))
return {'ok'}
