-- KEYS: tokens. ARGV: now, token hex.
-- Returns nil, or {user id, username, issued, expires}.
local record = redis.call('HGET', KEYS[1], ARGV[2])
if not record then
  return false
end
local issued, expires, idle, used, n, at = token_parts(record)
-- The same record `TokenRecord::parse` accepted just before, unless something else rewrote it.
if not issued then
  return redis.error_reply('malformed token record')
end
local now = tonumber(ARGV[1])
if token_over(expires, idle, used, now) then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return false
end
local user_id, username = string.sub(record, at, at + n - 1), string.sub(record, at + n)
-- The hash's TTL already covers the token's absolute end, which the restart never passes.
redis.call('HSET', KEYS[1], ARGV[2], token_record(issued, expires, idle, now, user_id, username))
return {user_id, username, issued, expires}
