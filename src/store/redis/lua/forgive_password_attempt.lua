-- KEYS: failures. ARGV: now, the lock the attempt set or -1, then the failures before it
-- (count, lock or -1, forget at; all -1 when none) and after it.
-- If the failures are still what the attempt left, they become what it found; otherwise one
-- failure fewer, and the lock it set lifted if still in place. Returns 1 if anything changed.
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until', 'forget_at')
local count, lock, forget = tonumber(f[1]), tonumber(f[2]) or -1, tonumber(f[3])
if not count then
  return 0
end
local set = tonumber(ARGV[2])
local b_count, b_lock, b_forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if count == tonumber(ARGV[6]) and lock == tonumber(ARGV[7]) and forget == tonumber(ARGV[8]) then
  redis.call('DEL', KEYS[1])
  if b_count >= 0 then
    redis.call('HSET', KEYS[1], 'count', b_count, 'forget_at', b_forget)
    if b_lock >= 0 then
      redis.call('HSET', KEYS[1], 'locked_until', b_lock)
    end
    redis.call('PEXPIRE', KEYS[1], ttl(b_forget, now))
  end
  return 1
end
count = math.max(count - 1, 0)
if set >= 0 and lock == set then
  redis.call('HDEL', KEYS[1], 'locked_until')
  lock = -1
end
if count == 0 and lock < 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'count', count)
end
return 1
