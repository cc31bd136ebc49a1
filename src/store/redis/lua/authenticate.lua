-- KEYS: token, tokens. ARGV: now, token hex.
-- Returns nil, or {user id, username, issued, expires}.
local record = redis.call('GET', KEYS[1])
if not record then
  return false
end
local issued, expires, idle, used, n, at = string.match(record,
  '^(%d+):(%d+):(%d+):(%d+):(%d+):()')
-- The same record `TokenRecord::parse` accepted just before, unless something else rewrote it.
if not at or tonumber(n) > #record - at + 1 then
  return redis.error_reply('malformed token record')
end
local now = tonumber(ARGV[1])
issued, expires, idle, used, n = tonumber(issued), tonumber(expires), tonumber(idle),
  tonumber(used), tonumber(n)
if now >= expires or now >= used + idle then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return false
end
local user_id, username = string.sub(record, at, at + n - 1), string.sub(record, at + n)
redis.call('SET', KEYS[1], token_record(issued, expires, idle, now, user_id, username), 'PX',
  ttl(math.min(expires, now + idle), now))
return {user_id, username, issued, expires}
