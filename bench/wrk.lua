-- One wrk script for every benchmark request (bench/harness.py sets the environment).
--
--   BENCH_METHOD        GET (default) or POST
--   BENCH_BODY          request body; "{n}" becomes a per-thread counter ("t3-17"), so
--                       every submitted comment has its own text
--   BENCH_CONTENT_TYPE  default application/json
--   BENCH_ORIGIN        an Origin header, as a browser sends with every POST (the widget)
--   BENCH_DELAY_MS      pause of each connection before its next request (paced runs:
--                       32 connections with a 40 ms pause ask for at most 800 requests/s;
--                       latencies are measured from send to answer, pauses excluded)
--
-- done() prints one line "WRKJSON {...}" (latencies in microseconds) that harness.py parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local body_template = os.getenv("BENCH_BODY")
local headers = { ["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json" }
if os.getenv("BENCH_ORIGIN") then
  headers["Origin"] = os.getenv("BENCH_ORIGIN")
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

local threads = {}
local counter = 0
local fixed = nil

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  if body_template == nil or not string.find(body_template, "{n}", 1, true) then
    fixed = wrk.format(method, nil, headers, body_template)
  end
end

function request()
  if fixed ~= nil then
    return fixed
  end
  counter = counter + 1
  local tag = "t" .. tostring(tid) .. "-" .. tostring(counter)
  local body = string.gsub(body_template, "{n}", tag)
  return wrk.format(method, nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
