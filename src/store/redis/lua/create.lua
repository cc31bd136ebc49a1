-- KEYS: challenge. ARGV: id, code, user id, username, issued, code expires, expires.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'code', ARGV[2], 'user_id', ARGV[3],
  'username', ARGV[4], 'issued_at', ARGV[5], 'code_expires_at', ARGV[6], 'expires_at', ARGV[7],
  'attempts', 0, 'sends', 1)
redis.call('PEXPIRE', KEYS[1], ttl(tonumber(ARGV[7]), tonumber(ARGV[5])))
return 1
