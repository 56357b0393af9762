-- bench/tiles.lua: a wrk script that cycles through a list of tile paths
-- (one per line, in the file named by $TILE_LIST), each thread starting at
-- its own offset, asking for gzip like a browser. At the end it prints one
-- line a shell can parse:
--   RESULT requests=… rps=… p50_ms=… p99_ms=… max_ms=… errors=… bytes=…
-- wrk counts 4xx/5xx answers as errors; 204 (empty tile) is a success.

local threads = {}

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

local paths = {}
local i = 0

function init(args)
	local list = os.getenv("TILE_LIST") or args[1]
	for line in io.lines(list) do
		if line ~= "" then
			paths[#paths + 1] = line
		end
	end
	if #paths == 0 then
		error("no tile paths in " .. tostring(list))
	end
	-- Threads start half a list apart (-t2: WRK_THREADS otherwise), so
	-- that they do not ask for the same tiles at once: concurrent misses of
	-- one tile share one query (singleflight), which would flatter the
	-- uncached runs.
	i = math.floor(id * #paths / (tonumber(os.getenv("WRK_THREADS")) or 2))
	wrk.headers["Accept-Encoding"] = "gzip"
end

function request()
	i = i % #paths + 1
	return wrk.format(nil, paths[i])
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d bytes=%d\n",
		summary.requests, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		e.connect + e.read + e.write + e.status + e.timeout, summary.bytes))
end
