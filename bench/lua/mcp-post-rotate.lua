-- wrk: like mcp-post.lua, but every request carries the next token of BENCH_TOKEN_FILE (one per
-- line), so a verifier that caches by token never hits: it checks a signature on every request.
-- When the file's tokens are used up the thread stops sending (reusing them would turn misses into
-- hits). wrk itself still runs for its whole -d, so the script times its own active part with a
-- monotonic clock (LuaJIT FFI) and reports "active_us" and the responses received by then: the
-- harness computes requests/s from those.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local body = read_file(os.getenv("BENCH_BODY_FILE"))
local tokens = {}
for line in read_file(os.getenv("BENCH_TOKEN_FILE")):gmatch("[^\r\n]+") do
  tokens[#tokens + 1] = line
end
local headers = {
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json, text/event-stream",
  ["MCP-Protocol-Version"] = "2025-11-25",
}
-- With several wrk threads (BENCH_WRK_THREADS), thread k sends tokens k+1, k+1+n, k+1+2n, ...
local stride = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local threads = {}
offset = 0

setup = function(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

local sent = 0
local received = 0
request = function()
  if sent == 0 then
    first_us = now_us()
  end
  local i = offset + 1 + sent * stride
  sent = sent + 1
  if i > #tokens then
    if not exhausted then
      exhausted = true
      exhausted_us = now_us()
      received_by_then = received
    end
    i = (i - 1) % #tokens + 1
  end
  headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format("POST", nil, headers, body)
end

response = function(status, headers, body)
  received = received + 1
  if exhausted then
    wrk.thread:stop()
  end
end

-- The active part of the run: from the first request of any thread to the last thread running out
-- of tokens ("null" when a thread never ran out: then wrk's own duration is right).
local function active_part()
  local first, last, responses = nil, 0, 0
  for _, thread in ipairs(threads) do
    local t0, t1, n = thread:get("first_us"), thread:get("exhausted_us"), thread:get("received_by_then")
    if not t1 then
      return "null", "null"
    end
    first = (first == nil or t0 < first) and t0 or first
    last = t1 > last and t1 or last
    responses = responses + n
  end
  return string.format("%d", last - first), string.format("%d", responses)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, "distinct_tokens": %d, "active_us": %s, "active_responses": %s}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, #tokens,
    active_part()))
end
