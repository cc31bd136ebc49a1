-- KEYS: challenge, failures, tokens.
-- ARGV: now, wanted challenge id ('' for the active one), code, max attempts, lock threshold,
-- lock base, lock max, forget after, token hex, token issued, token expires, token idle.
-- Returns {outcome, attempts left or lock end, lock end or -1, user id, username}; the token
-- is stored for the challenge's user.
local now = tonumber(ARGV[1])
local wanted = ARGV[2]
local lock, failures = lock_end(KEYS[2], now)
if lock then
  return {6, lock, -1, '', ''}
end
local c = redis.call('HMGET', KEYS[1], 'id', 'code', 'code_expires_at', 'expires_at', 'user_id',
  'username', 'attempts', 'consumed', 'consumed_until')
local id, expires = c[1], tonumber(c[4])
if id and now >= expires then
  end_challenge(KEYS[1])
  id = false
end
if not id or (wanted ~= '' and wanted ~= id) then
  -- A replay is the consumed challenge's own code again, not any guess at it.
  -- The consumed record is the challenge id then its code, 32 bytes each, and its end.
  local used = c[8]
  if used and now < tonumber(c[9]) and (wanted == '' or wanted == string.sub(used, 1, 32))
      and ARGV[3] == string.sub(used, 33) then
    return {4, 0, -1, '', ''}
  end
  return {5, 0, -1, '', ''}
end
if now >= tonumber(c[3]) then
  return {3, 0, -1, '', ''}
end
-- The attempt counts before the comparison; it is stored only if the code is wrong, since a
-- right code ends the challenge (the script runs atomically either way).
local max = tonumber(ARGV[4])
local attempts = tonumber(c[7]) + 1
if attempts > max then
  end_challenge(KEYS[1])
  return {5, 0, -1, '', ''}
end
-- Both are 32-byte digests: HMACs under a key Redis never sees (see the module docs).
if ARGV[3] == c[2] then
  -- The consumed record stays in the challenge's key, whose TTL covers its end: no key is
  -- written or deleted for it.
  end_challenge(KEYS[1])
  redis.call('HSET', KEYS[1], 'consumed', id .. c[2], 'consumed_until', c[4])
  if failures then
    redis.call('DEL', KEYS[2])
  end
  put_token(KEYS[3], ARGV[9], ARGV[1], c[5], c[6], ARGV[10], ARGV[11], ARGV[12])
  return {1, 0, -1, c[5], c[6]}
end
local left = max - attempts
if left == 0 then
  end_challenge(KEYS[1])
else
  redis.call('HSET', KEYS[1], 'attempts', attempts)
end
local locked_until = record_failure(KEYS[2], now, tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7]), tonumber(ARGV[8]))
return {2, left, locked_until, '', ''}
