-- KEYS: token, tokens. ARGV: token hex. Returns 1 if the token existed.
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
