-- A login attempt's failure counts, read together on Redis's clock, and the attempt registered
-- as in flight for its pair (`f:<ip>`) until its outcome is recorded: attempts sent together
-- each see the others, so a burst cannot slip past the counts before the first is recorded.
-- KEYS[1]: the account's hash (`total`, and per address `n:<ip>`, `at:<ip>` — the time in ms of
-- its last failure — and `f:<ip>`); KEYS[2]: the address's count. ARGV[1]: the address;
-- ARGV[2]: the window (ms).
-- Returns {account failures, pair failures, pair's last failure (ms), address failures,
-- account window left (ms), address window left (ms), now (ms), pair attempts in flight
-- (this one included)}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local in_flight = redis.call('HINCRBY', KEYS[1], 'f:' .. ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
local account = redis.call('HMGET', KEYS[1], 'total', 'n:' .. ARGV[1], 'at:' .. ARGV[1])
local address = redis.call('GET', KEYS[2])
return {
  tonumber(account[1] or 0), tonumber(account[2] or 0), tonumber(account[3] or 0),
  tonumber(address or 0), redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]), now,
  in_flight
}
