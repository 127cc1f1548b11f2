-- Finish: ARGV[3] id, [4] end status, [5] message or "", [6] '1' when
-- [7] is the result.
-- Returns {'ok', record without result}, {'notfound'} or
-- {'terminal', record}: the first end wins.
local s = state(ARGV[3])
if not s then return {'notfound'} end
if terminal(s.status) then return {'terminal', record_fields(s.key, true)} end
end_task(s, ARGV[4], ARGV[5])
if ARGV[6] == '1' then redis.call('HSET', s.key, 'result', ARGV[7]) end
return {'ok', record_fields(s.key, false)}
