-- KEYS: challenge. ARGV: id, code, user id, username, issued, code expires, expires.
-- Every field of a live challenge is written over those of the last one; a consumed record in
-- the key stays (see verify.lua), so the key's TTL is only ever extended.
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'code', ARGV[2], 'user_id', ARGV[3],
  'username', ARGV[4], 'issued_at', ARGV[5], 'code_expires_at', ARGV[6], 'expires_at', ARGV[7],
  'attempts', 0, 'sends', 1)
local left = ttl(tonumber(ARGV[7]), tonumber(ARGV[5]))
if redis.call('PTTL', KEYS[1]) < left then
  redis.call('PEXPIRE', KEYS[1], left)
end
return 1
