-- wrk script of fdo's load benchmark (benches/src/bin/fdo-load). Configured by environment:
--   FDO_WRK_METHOD     request method (default GET)
--   FDO_WRK_BODY       request body (sent with content-type application/json when set)
--   FDO_WRK_API_KEY    sent as X-API-Key when set
--   FDO_WRK_BEARER     sent as Authorization: Bearer when set (an invocation token)
--   FDO_WRK_PATHS      "PREFIX|COUNT|SUFFIX": rotate over PREFIX..i..SUFFIX for i = 0..COUNT-1
--                      (the 1,000-functions scenario); without it the URL's path is used
-- When done it prints one line, `FDO_WRK_RESULT {json}`, that the driver parses.

local method = os.getenv("FDO_WRK_METHOD") or "GET"
local body = os.getenv("FDO_WRK_BODY")
local key = os.getenv("FDO_WRK_API_KEY")
local bearer = os.getenv("FDO_WRK_BEARER")
local paths = os.getenv("FDO_WRK_PATHS")

wrk.method = method
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if key ~= nil and key ~= "" then
  wrk.headers["X-API-Key"] = key
end
if bearer ~= nil and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
end

local prefix, count, suffix = nil, 0, ""
if paths ~= nil and paths ~= "" then
  local p, c, s = string.match(paths, "^(.*)|(%d+)|(.*)$")
  prefix, count, suffix = p, tonumber(c), s
end

-- Each wrk thread has its own Lua state (and its own `counter`, a global so that setup can
-- set it): threads start at different offsets.
counter = 0
function setup(thread)
  thread:set("counter", math.random(0, 1000000))
end

if prefix ~= nil then
  request = function()
    counter = counter + 1
    local path = prefix .. tostring(counter % count) .. suffix
    return wrk.format(nil, path)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'FDO_WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
