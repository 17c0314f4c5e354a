-- wrk: like mcp-post.lua, but every request carries the next token of BENCH_TOKEN_FILE (one per
-- line), so a verifier that caches by token never hits: it checks a signature on every request.
-- When the file's tokens are used up the thread stops (reusing them would turn misses into hits):
-- the harness reports how many distinct tokens a run used against how many requests it made.

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
  ["Mcp-Session-Id"] = "bench-session",
}
-- With several wrk threads (BENCH_WRK_THREADS), thread k sends tokens k+1, k+1+n, k+1+2n, ...
local stride = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local started = 0
offset = 0

setup = function(thread)
  thread:set("offset", started)
  started = started + 1
end

local sent = 0
request = function()
  local i = offset + 1 + sent * stride
  sent = sent + 1
  if i > #tokens then
    exhausted = true
    i = (i - 1) % #tokens + 1
  end
  headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format("POST", nil, headers, body)
end

response = function(status, headers, body)
  if exhausted then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, "distinct_tokens": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, #tokens))
end
