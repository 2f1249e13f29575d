-- wrk script of benches/gateway.sh: posts pre-signed TikTok webhook requests read from
-- GW_REQUESTS (one "<Tiktok-Signature>\t<body>" per line) to GW_PATH. Each of the GW_THREADS
-- wrk threads takes every n-th line; when a thread has sent all of its lines it starts over
-- (those deliveries are then redeliveries, answered by the gateway's dedup path) and counts it
-- in `wrapped`.
local path = os.getenv("GW_PATH") or "/webhooks/tiktok/demo"
local file = os.getenv("GW_REQUESTS")
-- The number of wrk threads (-t), to share the lines out.
local nthreads = tonumber(os.getenv("GW_THREADS") or "1")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  idx = 0
  wrapped = 0
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["Tiktok-Signature"] = sig,
      }, body)
    end
    n = n + 1
  end
end

function request()
  if reqs == nil then
    -- wrk checks the script by calling request() once in its main state, where init() never
    -- ran; that request is never sent.
    return wrk.format("POST", path)
  end
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = wrapped + 1
  end
  return reqs[idx]
end

function done(summary, latency, requests)
  local w, sent = 0, 0
  for _, t in ipairs(threads) do
    w = w + t:get("wrapped")
  end
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d requests=%d non2xx=%d socket_errors=%d wrapped=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    w))
end
