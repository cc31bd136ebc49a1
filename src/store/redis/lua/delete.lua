-- KEYS: challenge. ARGV: id. Returns 1 if that challenge was live (it is ended).
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  end_challenge(KEYS[1])
  return 1
end
return 0
