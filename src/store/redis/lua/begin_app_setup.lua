-- KEYS: app setup. ARGV: sealed secret, expires, now.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'expires_at', ARGV[2], 'failures', 0)
redis.call('PEXPIRE', KEYS[1], ttl(tonumber(ARGV[2]), tonumber(ARGV[3])))
return 1
