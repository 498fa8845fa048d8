-- Records the outcome of an attempt that failures_check.lua registered, on Redis's clock.
-- KEYS as there. ARGV[1]: the address; ARGV[2]: the window (ms); ARGV[3]: the outcome:
-- `failed` (counted; each count lives for the window from its first failure, `NX`),
-- `succeeded` (the pair's failures are cleared) or `refused` (nothing to count). Returns the
-- pair's failures after a failure, 0 otherwise.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pair = 'n:' .. ARGV[1]
local in_flight = 'f:' .. ARGV[1]
if redis.call('HINCRBY', KEYS[1], in_flight, -1) <= 0 then
  redis.call('HDEL', KEYS[1], in_flight)
end
if ARGV[3] == 'failed' then
  -- The account's window starts at its first failure (the hash may be older, from attempts
  -- in flight).
  if redis.call('HINCRBY', KEYS[1], 'total', 1) == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  local pair_failures = redis.call('HINCRBY', KEYS[1], pair, 1)
  redis.call('HSET', KEYS[1], 'at:' .. ARGV[1], now)
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2], 'NX')
  return pair_failures
elseif ARGV[3] == 'succeeded' then
  redis.call('HDEL', KEYS[1], pair, 'at:' .. ARGV[1])
end
return 0
