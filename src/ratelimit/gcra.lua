-- GCRA (generic cell rate algorithm): each bucket is one key holding the "theoretical arrival
-- time" of its next request. All buckets of a request (say, its client IP and its user) are
-- checked together and charged only if every one has room, atomically (Redis runs a script
-- alone) and on Redis's clock, so instances with skewed clocks agree.
-- KEYS: the buckets. ARGV: emission interval (µs per request), burst (µs), cost (requests).
-- Returns {allowed (1/0), retry after (µs)}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local next_tats = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then
    tat = now
  end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - burst
  if allow_at > now and allow_at - now > wait then
    wait = allow_at - now
  end
  next_tats[i] = new_tat
end
if wait > 0 then
  return {0, wait}
end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.ceil((next_tats[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', next_tats[i]), 'PX', ttl_ms)
end
return {1, 0}
