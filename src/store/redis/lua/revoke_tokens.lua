-- KEYS: tokens. Deletes every token of the account; returns how many the hash held.
local held = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], 'prune_at')
redis.call('DEL', KEYS[1])
return held
