#!/usr/bin/env bash
# Low-zoom tile benchmark (issue 16): national synthetic data
# (bench/national.sql: VILLAGES villages, about SEGMENTS road segments over
# 75–134° E, 20–50° N, in 1°×1° counties), uncached tiles (lastmile serve
# --tile-cache-bytes 0) of the layer set roads,villages,admin_areas at every
# zoom 3–12: p50/p95/max per zoom over up to TILES tiles of the data extent
# per zoom (fixed pseudo-random choice, sequential requests), for
#   baseline — lastmile at BASELINE_REF (before zoom rules: random block
#              samples below the detail zoom), and
#   now      — this tree (zoom rules, overviews),
# in the same run on the same database, plus the one-time overview build,
# timed from serve's start (cold: overviews and village_access unbuilt;
# serve builds them at start, an older one on the first low-zoom tile;
# --stats-refresh 0 for both, so that no routing graph is built meanwhile;
# the content rules are checked by go test ./tiles: TestZoomRules*).
# Usage: bench/bench-zooms.sh [VILLAGES] [SEGMENTS]  (defaults 500000 10000000)
# Environment: TILES (per zoom, default 40), BASELINE_REF (default 9dee13c).
# The migrations the baseline binary does not know (0090 for the default)
# have their rows in schema_migrations set aside while it runs (their tables
# and triggers stay; they only log once the overviews are built).
set -euo pipefail
cd "$(dirname "$0")/.."
VILLAGES=${1:-500000}
SEGMENTS=${2:-10000000}
TILES=${TILES:-40}
BASELINE_REF=${BASELINE_REF:-9dee13c}
. bench/lib.sh
bench_setup 1GB 1GB
ms() { date +%s%3N; }
mkdir -p "$tmp/base"
git archive "$BASELINE_REF" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go build -o "$tmp/lastmile-base" ./cmd/lastmile)
t0=$(ms)
psql -X -q -v ON_ERROR_STOP=1 -v villages="$VILLAGES" -v segments="$SEGMENTS" -d "$DATABASE_URL" -f bench/national.sql
psql -X -q -d "$DATABASE_URL" -c "ANALYZE"
echo "generated $VILLAGES villages, $(psql -X -qAt -d "$DATABASE_URL" -c 'SELECT count(*) FROM lastmile.roads') roads in $(( ($(ms) - t0) / 1000 )) s"
# the tiles: up to TILES per zoom over the extent
python3 - "$TILES" >"$tmp/tiles.txt" <<'PY'
import math, random, sys
n = int(sys.argv[1]); random.seed(16)
def tile(lon, lat, z):
    k = 2 ** z
    return int((lon + 180) / 360 * k), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
for z in range(3, 13):
    x0, y0 = tile(75, 50, z); x1, y1 = tile(134, 20, z)
    all_ = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)] if (x1 - x0 + 1) * (y1 - y0 + 1) <= n else None
    pick = all_ if all_ else [(random.randint(x0, x1), random.randint(y0, y1)) for _ in range(n)]
    for x, y in pick:
        print(z, x, y)
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run() { # binary label
	# cold: the overviews (and village_access, which the overviews' counts read) unbuilt
	psql -X -q -d "$DATABASE_URL" -c "UPDATE lastmile.overview_state SET built = false; UPDATE lastmile.access_state SET built = false" 2>/dev/null || true
	local t=$(ms)
	"$1" serve --database-url "$DATABASE_URL" --addr "127.0.0.1:$port" --tile-cache-bytes 0 --tile-query-timeout 60s --stats-refresh 0 >"$tmp/$2.log" 2>&1 &
	local pid=$!
	for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
	if [[ $(psql -X -qAt -d "$DATABASE_URL" -c "SELECT to_regclass('lastmile.overview_state') IS NOT NULL AND EXISTS (SELECT 1 FROM lastmile.schema_migrations WHERE version = 90)") == t ]]; then
		# a low-zoom tile: the build starts here if serve did not start it
		local first=$(curl -s -o /dev/null -w '%{http_code} after %{time_total} s' "http://127.0.0.1:$port/tiles/villages/5/23/12.mvt" || true)
		until [[ $(psql -X -qAt -d "$DATABASE_URL" -c 'SELECT built FROM lastmile.overview_state') == t ]]; do sleep 1; done
		echo "$2: overview build done $(( $(ms) - t )) ms after serve started (first low-zoom tile: $first; load $(cut -d' ' -f1-3 /proc/loadavg));" \
			"$(psql -X -qAt -d "$DATABASE_URL" -c "SELECT (SELECT count(*) FROM lastmile.road_overview) || ' road overview rows, ' || (SELECT count(*) FROM lastmile.village_overview) || ' count points'")"
	fi
	while read -r z x y; do
		printf '%s %s\n' "$z" "$(curl -s -o /dev/null -w '%{time_total} %{http_code} %{size_download}' "http://127.0.0.1:$port/tiles/roads,villages,admin_areas/$z/$x/$y.mvt")"
	done <"$tmp/tiles.txt" >"$tmp/$2.times"
	kill -INT $pid; wait $pid 2>/dev/null || true
}
# the baseline sees only the migrations it knows (its tables and triggers stay)
known=$(ls "$tmp/base/postgis/migrations" | sed -n 's/^0*\([0-9][0-9]*\)_.*/\1/p' | sort -n | tail -1)
psql -X -q -d "$DATABASE_URL" -c "CREATE TABLE bench_m AS SELECT * FROM lastmile.schema_migrations WHERE version > $known; DELETE FROM lastmile.schema_migrations WHERE version > $known"
run "$tmp/lastmile-base" baseline
psql -X -q -d "$DATABASE_URL" -c "INSERT INTO lastmile.schema_migrations SELECT * FROM bench_m; DROP TABLE bench_m"
run "$tmp/lastmile" now
python3 - "$tmp/baseline.times" "$tmp/now.times" <<'PY'
import sys, collections
def load(p):
    d = collections.defaultdict(list); bad = collections.Counter()
    for line in open(p):
        z, t, code, size = line.split()
        d[int(z)].append(float(t) * 1000)
        if code not in ('200', '204'): bad[int(z)] += 1
    return d, bad
b, bb = load(sys.argv[1]); n, nb = load(sys.argv[2])
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print("zoom tiles  baseline p50/p95/max ms      now p50/p95/max ms")
for z in sorted(n):
    print(f"z{z:<3} {len(n[z]):>5}  {pct(b[z],.5):7.1f} {pct(b[z],.95):7.1f} {max(b[z]):7.1f}    {pct(n[z],.5):7.1f} {pct(n[z],.95):7.1f} {max(n[z]):7.1f}"
          + (f"  (errors: baseline {bb[z]}, now {nb[z]})" if bb[z] or nb[z] else ""))
PY
