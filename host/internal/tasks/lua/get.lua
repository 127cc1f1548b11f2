-- Get: ARGV[3] owner, [4] id. Returns {'ok', record} or {'notfound'}.
local s = state(ARGV[4])
if not s or s.owner ~= ARGV[3] then return {'notfound'} end
return {'ok', record_fields(s.key, true)}
