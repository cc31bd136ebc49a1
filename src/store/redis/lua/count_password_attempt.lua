-- KEYS: failures. ARGV: now, threshold, base, max, forget after.
-- Returns {1, lock end} if locked (nothing counted), else {0, lock end or -1} once counted.
local now = tonumber(ARGV[1])
local lock = lock_end(KEYS[1], now)
if lock then
  return {1, lock}
end
return {0, record_failure(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]))}
