-- Cancel: ARGV[3] owner, [4] id, [5] message or "".
-- Returns {'ok', record}, {'notfound'} or {'terminal', record}.
local s = state(ARGV[4])
if not s or s.owner ~= ARGV[3] then return {'notfound'} end
if terminal(s.status) then return {'terminal', record_fields(s.key, true)} end
end_task(s, 'cancelled', ARGV[5])
return {'ok', record_fields(s.key, true)}
