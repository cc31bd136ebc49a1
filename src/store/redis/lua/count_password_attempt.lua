-- KEYS: failures. ARGV: now, threshold, base, max, forget after.
-- Returns {1, lock end, -1, ...} if locked (nothing counted), else {0, lock set or -1, then the
-- failures before (count, lock or -1, forget at; all -1 when none) and after this attempt}.
local now = tonumber(ARGV[1])
local lock = lock_end(KEYS[1], now)
if lock then
  return {1, lock, -1, -1, -1, -1, -1, -1}
end
local function failures()
  local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until', 'forget_at')
  local count, forget = tonumber(f[1]), tonumber(f[3]) or -1
  if not count or now >= forget then
    return -1, -1, -1
  end
  return count, tonumber(f[2]) or -1, forget
end
local b_count, b_lock, b_forget = failures()
local set = record_failure(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5]))
local a_count, a_lock, a_forget = failures()
return {0, set, b_count, b_lock, b_forget, a_count, a_lock, a_forget}
