-- bench/load.lua: a mix of what bureaus do at once, for make load.
-- 40 % cached tiles (a small fixed set), 20 % uncached tiles (a filter
-- value unique per request, so each is a cache miss generated in PostGIS),
-- 25 % OGC item pages, 15 % statistics.
local cached = {}
for x = 843, 846 do   -- the demo county at z10 (lon 117.0–117.4, lat 37.1–37.5)
  for y = 396, 399 do
    table.insert(cached, string.format("/tiles/roads,villages/10/%d/%d.mvt", x, y))
  end
end
local stats = {
  "/api/stats/coverage?target=villages&source=roads&within_m=1000&source_filter=graded&group_by=township",
  "/api/stats/progress?layer=house_renovations&group_by=township",
  "/api/stats/lengths?layer=roads&group_by=year,surface&status=completed",
  "/api/stats/rai?within_m=2000",
}
request = function()
  local r = math.random(100)
  local path
  if r <= 40 then
    path = cached[math.random(#cached)]
  elseif r <= 60 then
    -- z13 tiles of the demo county with a random completed_after date:
    -- 100 tiles × 6 720 dates, so nearly every one is a cache miss
    local x = 6758 + math.random(0, 9)
    local y = 3176 + math.random(0, 9)
    local day = string.format("20%02d-%02d-%02d", math.random(0, 19), math.random(1, 12), math.random(1, 28))
    path = string.format("/tiles/roads/13/%d/%d.mvt?completed_after=%s", x, y, day)
  elseif r <= 85 then
    path = string.format("/ogc/collections/roads/items?limit=50&offset=%d", math.random(0, 700))
  else
    path = stats[math.random(#stats)]
  end
  return wrk.format("GET", path, {["Accept-Encoding"] = "gzip"})
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.1f s: %.0f req/s\n", summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
