-- KEYS: step. ARGV: step, until, now.
-- Records the last accepted authenticator time step; refuses this one if it, or a later one,
-- was accepted already (a replay). Returns 1 when claimed, 0 when refused.
local last, step = tonumber(redis.call('GET', KEYS[1])), tonumber(ARGV[1])
if last and last >= step then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl(tonumber(ARGV[2]), tonumber(ARGV[3])))
return 1
