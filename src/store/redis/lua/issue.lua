-- KEYS: tokens. ARGV: token hex, now, user id, username, issued, expires, idle.
put_token(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
