-- KEYS: challenge. ARGV: id. Returns 1 if deleted.
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
