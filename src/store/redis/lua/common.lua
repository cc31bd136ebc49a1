-- Shared by every script: prepended to each before it is loaded.
-- Numbers handed to redis.call stay below 10^14 (see MAX_MS in record.rs), so Lua formats
-- them as exact integers.
-- Milliseconds from now until `at`, at least 1: a record already over still gets a TTL.
local function ttl(at, now)
  return math.max(at - now, 1)
end

-- When the account's lock ends, if it is locked at `now` (failures past forget_at are gone);
-- and whether it has a failures record at all (every record has a forget_at).
local function lock_end(key, now)
  local f = redis.call('HMGET', key, 'locked_until', 'forget_at')
  local lock, forget = tonumber(f[1]), tonumber(f[2])
  if lock and now < lock and not (forget and now >= forget) then
    return lock, true
  end
  return nil, forget ~= nil
end

-- Ends the account's live challenge: a challenge hash without `id` holds none. The rest stays
-- until the key's TTL: the consumed record (see verify.lua) and fields nothing reads any more.
local function end_challenge(key)
  redis.call('HDEL', key, 'id')
end

-- Counts a failure; returns when the lock it set ends, or -1. LockoutPolicy::lock_duration.
local function record_failure(key, now, threshold, base, cap, forget_after)
  local f = redis.call('HMGET', key, 'count', 'forget_at')
  local count, forget = tonumber(f[1]) or 0, tonumber(f[2])
  if forget and now >= forget then
    redis.call('DEL', key)
    count = 0
  end
  count = count + 1
  local locked_until = -1
  if threshold > 0 and count >= threshold then
    locked_until = now + math.min(base * 2 ^ math.min(count - threshold, 31), cap)
    redis.call('HSET', key, 'locked_until', locked_until)
  end
  forget = math.max(now + forget_after, locked_until)
  redis.call('HSET', key, 'count', count, 'forget_at', forget)
  redis.call('PEXPIRE', key, ttl(forget, now))
  return locked_until
end

-- The token record `TokenRecord::parse` reads. Times are ARGV strings, copied as they are, or
-- numbers, which Lua's `..` writes exactly (with '%.14g': they are below 10^14, see above).
local function token_record(issued, expires, idle, last_used, user_id, username)
  return issued .. ':' .. expires .. ':' .. idle .. ':' .. last_used .. ':' .. #user_id .. ':'
    .. user_id .. username
end

-- The parts of a token record, as `TokenRecord::parse` reads them: issued, expires, idle and
-- last used (numbers), the length of the user id and where it starts; nil if it does not parse.
local function token_parts(record)
  local issued, expires, idle, used, n, at = string.match(record,
    '^(%d+):(%d+):(%d+):(%d+):(%d+):()')
  if not at or tonumber(n) > #record - at + 1 then
    return nil
  end
  return tonumber(issued), tonumber(expires), tonumber(idle), tonumber(used), tonumber(n), at
end

-- Whether a token is over at `now`: past its absolute end or its idle timeout.
local function token_over(expires, idle, used, now)
  return now >= expires or now >= used + idle
end

-- An account's tokens hash drops its tokens over at `now` once it holds twice as many tokens as
-- were live after the last pruning, and at least PRUNE_FROM: amortised O(1) per token stored.
-- That count is the hash's `prune_at` field (a token's field is 64 hex digits).
local PRUNE_FROM = 16
local function prune_tokens(key, now)
  local held = redis.call('HLEN', key)
  if held < PRUNE_FROM then
    return
  end
  local prune_at = tonumber(redis.call('HGET', key, 'prune_at'))
  if prune_at and held - 1 < prune_at then
    return
  end
  local fields = redis.call('HGETALL', key)
  local live = 0
  now = tonumber(now)
  for i = 1, #fields, 2 do
    if fields[i] ~= 'prune_at' then
      -- A record that does not parse goes too.
      local issued, expires, idle, used = token_parts(fields[i + 1])
      if not issued or token_over(expires, idle, used, now) then
        redis.call('HDEL', key, fields[i])
      else
        live = live + 1
      end
    end
  end
  redis.call('HSET', key, 'prune_at', math.max(PRUNE_FROM, 2 * live))
end

-- Stores a token in its account's tokens hash (field: the token's digest), whose TTL covers the
-- absolute end of its latest token. `now` and the token's times are the ARGV strings (Lua's
-- arithmetic reads them as numbers; nothing formats them again).
local function put_token(key, field, now, user_id, username, issued, expires, idle)
  local left = redis.call('PTTL', key)
  redis.call('HSET', key, field, token_record(issued, expires, idle, issued, user_id, username))
  if left ~= -2 then
    prune_tokens(key, now)
  end
  local needed = ttl(expires, now)
  if left < needed then
    redis.call('PEXPIRE', key, needed)
  end
end
