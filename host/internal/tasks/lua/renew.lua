-- Renew: ARGV[3] replica, [4] lease µs, ARGV[5] on: task IDs.
-- Extends the leases of the replica's running tasks among them and
-- returns the IDs of the others (ended, expired, gone, or another
-- replica's).
local stop = {}
for i = 5, #ARGV do
  local s = state(ARGV[i])
  if not s or terminal(s.status) or s.replica ~= ARGV[3] then
    stop[#stop + 1] = ARGV[i]
  else
    redis.call('HSET', s.key, 'lease', ARGV[4])
  end
end
return stop
