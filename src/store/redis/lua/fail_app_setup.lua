-- KEYS: app setup. ARGV: max failures, now.
-- Counts a wrong code against a live pending setup, ending it at the last one. Returns the
-- failures left (0: it ended, or there was none).
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires_at'))
if not expires or tonumber(ARGV[2]) >= expires then
  redis.call('DEL', KEYS[1])
  return 0
end
local left = tonumber(ARGV[1]) - redis.call('HINCRBY', KEYS[1], 'failures', 1)
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return left
