-- KEYS: challenge. ARGV: now, id, code, code ttl, cooldown, max sends.
-- Returns {outcome, cooldown end, user id, username, issued, code expires, sends}.
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'username', 'issued_at', 'expires_at',
  'sends')
local expires = tonumber(c[5])
if c[1] and now >= expires then
  end_challenge(KEYS[1])
  return {4, 0, '', '', 0, 0, 0}
end
if not c[1] or c[1] ~= ARGV[2] then
  return {4, 0, '', '', 0, 0, 0}
end
local allowed = tonumber(c[4]) + tonumber(ARGV[5])
if now < allowed then
  return {2, allowed, '', '', 0, 0, 0}
end
local sends = tonumber(c[6])
if sends >= tonumber(ARGV[6]) then
  return {3, 0, '', '', 0, 0, 0}
end
local code_expires = math.min(now + tonumber(ARGV[4]), expires)
sends = sends + 1
redis.call('HSET', KEYS[1], 'code', ARGV[3], 'issued_at', now, 'code_expires_at', code_expires,
  'sends', sends)
return {1, 0, c[2], c[3], now, code_expires, sends}
