-- List: ARGV[3] owner, [4] where to start ('+' for the newest, or '(' and
-- the o:<owner> member of the cursor), [5] how many tasks.
-- Returns the records (without results), newest first.
local owner, okey = ARGV[3], owner_key(ARGV[3])
local want = tonumber(ARGV[5])
local from = ARGV[4]
local out = {}
while #out < want do
  local ms = redis.call('ZREVRANGEBYLEX', okey, from, '-', 'LIMIT', 0, want - #out)
  if #ms == 0 then break end
  for _, m in ipairs(ms) do
    local s = state(member_id(m))
    if s and s.owner == owner then
      out[#out + 1] = record_fields(s.key, false)
    else
      redis.call('ZREM', okey, m)
    end
    from = '(' .. m
  end
end
return out
