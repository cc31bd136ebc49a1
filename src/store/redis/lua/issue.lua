-- KEYS: token, tokens. ARGV: token hex, now, user id, username, issued, expires, idle.
put_token(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]),
  tonumber(ARGV[6]), tonumber(ARGV[7]))
return 1
