-- KEYS: failures. ARGV: the end of the lock the forgiven attempt set, or -1.
local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until')
local count, lock = tonumber(f[1]), tonumber(f[2])
if not count then
  return 0
end
count = math.max(count - 1, 0)
if lock and lock == tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'locked_until')
  lock = nil
end
if count == 0 and not lock then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'count', count)
end
return 1
