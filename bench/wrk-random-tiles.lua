-- wrk script: every request GETs a random tile from a list.
--   TILELIST=tiles.txt   lines "z x y" (kilnbench tiles)
--   TILEPREFIX=/styles/debug/   URL prefix
--   TILEEXT=png
-- Prints RESULT lines that bench/tiles.sh reads.
local paths = {}
local prefix = os.getenv("TILEPREFIX") or "/styles/debug/"
local ext = os.getenv("TILEEXT") or "png"
local listfile = os.getenv("TILELIST") or "tiles.txt"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(listfile) do
    local z, x, y = line:match("^(%d+)%s+(%d+)%s+(%d+)")
    if z then paths[#paths + 1] = prefix .. z .. "/" .. x .. "/" .. y .. "." .. ext end
  end
  math.randomseed(os.time() * 1000 + (tid or 0))
  non200 = 0
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non200") or 0) end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.1f requests=%d non200=%d errors=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests / secs, summary.requests, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
