-- KEYS: counter. ARGV: ms until the window ends. Returns the count.
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
