-- KEYS: device, devices. ARGV: device hex, now, expires.
-- The device's record is its end; the index (scored by it) lets revoke_devices find every device,
-- its members past their end dropped here, its TTL covering the latest.
local now, expires = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%.0f', expires), 'PX', ttl(expires, now))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], expires, ARGV[1])
local left = ttl(expires, now)
if redis.call('PTTL', KEYS[2]) < left then
  redis.call('PEXPIRE', KEYS[2], left)
end
return 1
