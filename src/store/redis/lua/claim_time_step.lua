-- KEYS: step. ARGV: step, until, now.
-- Records the last accepted authenticator time step (as `step:until`); refuses this one if it,
-- or a later one, was accepted and that record is not over at `now` (a replay). Returns 1 when
-- claimed, 0 when refused.
local step, now = tonumber(ARGV[1]), tonumber(ARGV[3])
local last = redis.call('GET', KEYS[1])
if last then
  local last_step, last_until = string.match(last, '^(%d+):(%d+)$')
  if tonumber(last_until) > now and tonumber(last_step) >= step then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ttl(tonumber(ARGV[2]), now))
return 1
