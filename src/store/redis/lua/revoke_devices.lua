-- KEYS: the devices index. ARGV: the prefix of the keys it indexes. Deletes every
-- indexed key and the index; returns how many keys were deleted.
local n = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. member)
end
redis.call('DEL', KEYS[1])
return n
