-- GCRA (generic cell rate algorithm) in one key: the "theoretical arrival time" of the next
-- request. Atomic because Redis runs a script alone; uses Redis's clock, so instances with
-- skewed clocks agree.
-- KEYS[1]: the bucket. ARGV: emission interval (µs per request), burst (µs), cost (requests).
-- Returns {allowed (1/0), retry after (µs)}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + interval * cost
local allow_at = new_tat - burst
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
