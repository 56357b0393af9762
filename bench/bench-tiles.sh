#!/usr/bin/env bash
# bench/bench-tiles.sh: vector-tile throughput (make bench).
#
# For three data sets — the demo county (all tiles of its extent, z10-z14, all
# nine layers in one tile set), a synthetic table of 1 M roads (z10-z14,
# layer roads) and the OpenStreetMap extract in ../shared/data/osm
# (imported with `lastmile import --osm`, z10-z14, the layers it fills) — it
# measures with wrk (bench/tiles.lua cycling through the tile list, -c16)
# requests/s and p50/p99 latency of:
#   uncached  lastmile serve --tile-cache-bytes 0 (every request runs PostGIS)
#   cached    lastmile serve with a warm cache (cached tiles on the wire path)
#   cached-http  the same with --wire=false (every request through net/http)
#   nginx     the same gzipped tile bytes as static files (the ceiling)
#   uncached-zN, sql-zN  (1 M roads and OSM, per zoom) uncached tiles of one
#             zoom and the same tiles' SQL alone (bench/tilesql), the limit of
#             the uncached path
# Cached and nginx alternate BENCH_ROUNDS times, and so do uncached-zN and
# sql-zN; each figure is the median run, and the report prints each as a
# ratio to its limit in the same run — cached/nginx against its target 0.8,
# uncached-zN/sql-zN against 0.9 — with the load average of its run, plus
# the slowest single tile (sequential curl, cache off) of each data set.
#
# Environment: BENCH_DIR (work directory, default /tmp/lastmile-bench-tiles),
# BENCH_SECONDS (per wrk run, default 15), BENCH_CONNECTIONS (default 16),
# BENCH_ROUNDS (alternating cached/nginx and uncached/SQL runs, default 3;
# medians reported), BENCH_SETS (default "demo roads1m osm"),
# ROADS (synthetic roads, default 1000000), OSM_PBF (the extract, default the
# first ../shared/data/osm/*.pbf; the OSM set is left out, saying so, when
# there is none), LASTMILE (binary, default bin/lastmile), KEEP=1 keeps the
# work directory and its cluster data.
# It starts its own PostgreSQL cluster (pg_ctl) and installs wrk and nginx
# with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${BENCH_DIR:-/tmp/lastmile-bench-tiles}
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-16}
ROADS=${ROADS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
LASTMILE=${LASTMILE:-$ROOT/bin/lastmile}
ALL_LAYERS=roads,water_pipelines,power_upgrades,house_renovations,relocation_sites,villages,admin_areas,hazard_zones,facilities

log() { printf '[bench-tiles %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- tools -------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
	log "installing ${need_apt[*]}"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	# Keep the nginx package from starting a system-wide server.
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null ||
		{ $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null; }
	[ $made_policy = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$LASTMILE" ] || (log "building $LASTMILE" && go build -o "$LASTMILE" ./cmd/lastmile)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL binaries not found: run scripts/setup" >&2; exit 1; }

# --- work directory, cluster, cleanup -----------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
	as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/tilesql" ./bench/tilesql

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; chmod 755 "$WORK"; fi
log "starting a PostgreSQL cluster in $WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
cat >>"$WORK/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
max_connections = 100
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start >/dev/null
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -U postgres)
url() { echo "postgres://postgres@/$1?host=$WORK&sslmode=disable"; }
for db in demo roads1m osm; do
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
	"$LASTMILE" migrate --database-url "$(url $db)" >/dev/null 2>&1
done

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# start_server NAME DB CACHE_BYTES [demo]: starts lastmile, sets $PORT.
start_server() {
	local name=$1 db=$2 cache=$3 cmd=${4:-serve} extra=${5:-}
	PORT=$(free_port)
	# No access log, as nginx below (access_log off): the comparison is of
	# serving the bytes; the log costs ~15 % of the cached rate on its own.
	# --stats-refresh 0: no routing-graph rebuild (minutes on 1 M roads, one
	# of the pool's connections and a core) during the runs.
	"$LASTMILE" "$cmd" --database-url "$(url "$db")" --addr "127.0.0.1:$PORT" \
		--tile-cache-bytes "$cache" --access-log=false --stats-refresh 0 $extra >"$WORK/$name.out" 2>"$WORK/$name.log" &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	for _ in $(seq 1 600); do
		curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; return 1; }
		sleep 0.5
	done
	echo "lastmile $name did not become ready" >&2
	return 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# tile_list DB LAYERS ZMIN ZMAX EXTENT_TABLES: every tile of the data extent.
tile_list() {
	local db=$1 layers=$2 zmin=$3 zmax=$4 tables=$5 union=""
	for t in ${tables//,/ }; do union+="${union:+ UNION ALL }SELECT geom FROM lastmile.$t"; done
	"${PSQL[@]}" -d "$db" -At <<SQL
WITH e AS (SELECT ST_Extent(geom) AS b FROM ($union) s),
r AS (
    SELECT z,
           floor((ST_XMin(b) + 180) / 360 * 2 ^ z)::int AS x0,
           floor((ST_XMax(b) + 180) / 360 * 2 ^ z)::int AS x1,
           floor((1 - ln(tan(radians(ST_YMax(b))) + 1 / cos(radians(ST_YMax(b)))) / pi()) / 2 * 2 ^ z)::int AS y0,
           floor((1 - ln(tan(radians(ST_YMin(b))) + 1 / cos(radians(ST_YMin(b)))) / pi()) / 2 * 2 ^ z)::int AS y1
    FROM e, generate_series($zmin, $zmax) AS z
)
SELECT format('/tiles/%s/%s/%s/%s.mvt', '$layers', z, x, y)
FROM r, generate_series(x0, x1) AS x, generate_series(y0, y1) AS y
ORDER BY z, x, y
SQL
}

# fetch_all LIST PORT DIR: fetches every tile gzipped into DIR (warming the
# cache), keeps the non-empty ones in LIST.nonempty.
fetch_all() {
	local list=$1 port=$2 dir=$3
	mkdir -p "$dir"
	xargs -P 4 -I{} sh -c 'f="$2{}"; mkdir -p "$(dirname "$f")"; code=$(curl -s -H "Accept-Encoding: gzip" -o "$f" -w "%{http_code}" "http://127.0.0.1:$1{}"); echo "$code {}"' _ "$port" "$dir" <"$list" >"$list.codes"
	if grep -qv '^20[04] ' "$list.codes"; then
		echo "tile requests failed:" >&2
		grep -v '^20[04] ' "$list.codes" | head >&2
		return 1
	fi
	grep '^200 ' "$list.codes" | cut -d' ' -f2 | shuf --random-source=<(yes) >"$list.nonempty"
}

# run_wrk LABEL URL LIST: one wrk run; appends a row to the results.
run_wrk() {
	local label=$1 url=$2 list=$3 conns=${4:-$CONNS} out
	out=$(TILE_LIST=$list WRK_THREADS=2 wrk -t2 -c"$conns" -d"${SECONDS_PER_RUN}s" --latency -s "$ROOT/bench/tiles.lua" "$url" 2>&1)
	local line
	line=$(grep '^RESULT' <<<"$out") || { echo "$out" >&2; return 1; }
	line+=" load=$(cut -d' ' -f1 /proc/loadavg) conns=$conns tiles=$(wc -l <"$list")"
	echo "$label $line" >>"$WORK/results"
	log "$label $line"
}

# run_sql LABEL DB LIST CONNS: the same tiles' SQL alone (bench/tilesql:
# the statements the server runs, no HTTP, gzip or cache), from as many
# connections as the server runs queries on at once: the client's CONNS, at
# most the server's pool (pgxpool: max(4, cores)).
run_sql() {
	local label=$1 db=$2 list=$3 conns=$4 out line pool
	pool=$(( $(nproc) > 4 ? $(nproc) : 4 ))
	[ "$conns" -le "$pool" ] || conns=$pool
	out=$("$WORK/tilesql" -database-url "$(url "$db")" -c "$conns" -d "${SECONDS_PER_RUN}s" "$list" 2>&1)
	line=$(grep '^RESULT' <<<"$out") || { echo "$out" >&2; return 1; }
	line+=" load=$(cut -d' ' -f1 /proc/loadavg) conns=$conns"
	echo "$label $line" >>"$WORK/results"
	log "$label $line"
}

# worst_tile LIST PORT: the slowest tile fetched one at a time (cache off).
worst_tile() {
	local list=$1 port=$2
	while read -r p; do
		curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w "%{time_total} $p\n" "http://127.0.0.1:$port$p"
	done <"$list" | sort -n | tail -1
}

# nginx serving DIR with the same headers as lastmile's cached path.
start_nginx() {
	local dir=$1
	NGINX_PORT=$(free_port)
	cat >"$WORK/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    # Descriptors of the tile files kept open between requests, as a static
    # tile host is tuned (without it nginx opens each file per request).
    open_file_cache max=20000 inactive=5m;
    open_file_cache_valid 5m;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx-tmp;
    proxy_temp_path $WORK/nginx-tmp;
    fastcgi_temp_path $WORK/nginx-tmp;
    uwsgi_temp_path $WORK/nginx-tmp;
    scgi_temp_path $WORK/nginx-tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $dir;
        location /tiles/ {
            types { }
            default_type application/vnd.mapbox-vector-tile;
            add_header Content-Encoding gzip;
            add_header Cache-Control "public, max-age=60";
            add_header Vary Accept-Encoding;
            add_header X-Cache HIT;
        }
    }
}
CONF
	mkdir -p "$WORK/nginx-tmp"
	"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	for _ in $(seq 1 50); do
		curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
		sleep 0.1
	done
	echo "nginx did not start; see $WORK/nginx.err" >&2
	return 1
}
stop_nginx() { kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; rm -f "$WORK/nginx.pid"; }

# bench_set NAME DB LIST [per-zoom]: the three runs on one data set; with
# per-zoom, also an uncached run for each zoom of the list.
bench_set() {
	local name=$1 db=$2 list=$3 per_zoom=${4:-}
	log "$name: $(wc -l <"$list") tiles in the list"
	start_server "$name-warm" "$db" $((1024 << 20))
	# Tiles below a layer's detail zoom are drawn from the overviews, which
	# serve builds at its start (1 M roads: about 20 s); until then they
	# answer 503. The runs measure the built state: wait for the build.
	local start=$SECONDS
	until [ "$("${PSQL[@]}" -d "$db" -At -c 'SELECT built FROM lastmile.overview_state')" = t ]; do
		[ $((SECONDS - start)) -lt 900 ] || { echo "$name: the overviews were not built after 900 s" >&2; return 1; }
		sleep 1
	done
	log "$name: overviews built $((SECONDS - start)) s after serve was ready"
	start=$SECONDS
	fetch_all "$list" "$PORT" "$WORK/www-$name"
	log "$name: $(wc -l <"$list.nonempty") non-empty tiles (empty ones answer 204 and are left out of the runs), fetched cold in $((SECONDS - start)) s"
	# Cached and nginx alternate, ROUNDS times each (the machine is shared:
	# the report takes each one's median run, and their ratio is same-run).
	# The same, warm, with every request through net/http (--wire=false):
	# what the wire path adds, in the same run.
	local wire_pid=$SERVER_PID wire_port=$PORT
	start_server "$name-warm-http" "$db" $((1024 << 20)) serve --wire=false
	local http_pid=$SERVER_PID http_port=$PORT
	xargs -P 4 -I{} curl -s -o /dev/null -H "Accept-Encoding: gzip" "http://127.0.0.1:$http_port{}" <"$list.nonempty"
	start_nginx "$WORK/www-$name"
	for _ in $(seq 1 "$ROUNDS"); do
		run_wrk "$name cached" "http://127.0.0.1:$wire_port" "$list.nonempty"
		run_wrk "$name nginx" "http://127.0.0.1:$NGINX_PORT" "$list.nonempty"
		run_wrk "$name cached-http" "http://127.0.0.1:$http_port" "$list.nonempty"
	done
	stop_nginx
	stop_server
	SERVER_PID=$wire_pid
	stop_server

	start_server "$name-cold" "$db" 0
	run_wrk "$name uncached" "http://127.0.0.1:$PORT" "$list.nonempty"
	if [ -n "$per_zoom" ]; then
		# The server and its SQL alone alternate, ROUNDS times each.
		for z in $(awk -F/ '{print $4}' "$list.nonempty" | sort -nu); do
			awk -F/ -v z="$z" '$4 == z' "$list.nonempty" >"$list.z$z"
			# At most a connection per 4 tiles of the list (z10 of a small
			# extent has a handful), so that no two ask for one tile at once.
			local n c check
			n=$(wc -l <"$list.z$z")
			c=$((n / 4 < CONNS ? n / 4 : CONNS))
			[ "$c" -ge 2 ] || c=2
			# the server's bytes are the statements' (batched or not)
			check=$("$WORK/tilesql" -database-url "$(url "$db")" -check "http://127.0.0.1:$PORT" "$list.z$z" 2>&1) ||
				{ echo "$name z$z: the server's tiles differ from their statements' bytes: $check" >&2; return 1; }
			log "$name z$z: $check"
			for _ in $(seq 1 "$ROUNDS"); do
				run_wrk "$name uncached-z$z" "http://127.0.0.1:$PORT" "$list.z$z" "$c"
				run_sql "$name sql-z$z" "$db" "$list.z$z" "$c"
			done
		done
	fi
	local sample=$list.nonempty
	if [ "$(wc -l <"$list.nonempty")" -gt 400 ]; then
		# The slowest tiles are at the lowest zoom: time those one by one.
		local zmin
		zmin=$(awk -F/ 'NR == 1 || $4 < m { m = $4 } END { print m }' "$list.nonempty")
		awk -F/ -v z="$zmin" '$4 == z' "$list.nonempty" >"$list.worst"
		sample=$list.worst
	fi
	echo "$name worst $(worst_tile "$sample" "$PORT") (of $(wc -l <"$sample") tiles fetched one at a time, cache off)" >>"$WORK/results"
	stop_server
}

: >"$WORK/results"
: >"$WORK/notes"

SETS=" ${BENCH_SETS:-demo roads1m osm} "
want() { [[ $SETS == *" $1 "* ]]; }

# --- demo county, z10-z14, all layers ----------------------------------------
if want demo; then
log "loading the demo county"
start_server demo-load demo 0 demo
stop_server
tile_list demo "$ALL_LAYERS" 10 14 admin_areas,roads,villages >"$WORK/demo.list"
bench_set demo demo "$WORK/demo.list"
fi

# --- 1 M synthetic roads, z10-z14 ---------------------------------------------
if want roads1m; then
log "generating $ROADS synthetic roads"
start=$SECONDS
"${PSQL[@]}" -d roads1m -v n="$ROADS" -f "$ROOT/bench/roads1m.sql" >/dev/null
log "generated in $((SECONDS - start)) s"
tile_list roads1m roads 10 14 roads >"$WORK/roads1m.list"
bench_set roads1m roads1m "$WORK/roads1m.list" per-zoom
fi

# --- the OpenStreetMap extract, z10-z14 ----------------------------------------
OSM_PBF=${OSM_PBF:-$(ls "$ROOT"/../shared/data/osm/*.pbf 2>/dev/null | head -1)}
OSM_LAYERS=roads,power_upgrades,villages,facilities
if ! want osm; then
	:
elif [ -n "$OSM_PBF" ] && [ -f "$OSM_PBF" ]; then
	log "importing $OSM_PBF"
	"$LASTMILE" import --osm "$OSM_PBF" --database-url "$(url osm)" >"$WORK/osm-import.out" 2>&1 ||
		{ cat "$WORK/osm-import.out" >&2; exit 1; }
	tile_list osm "$OSM_LAYERS" 10 14 "$OSM_LAYERS" >"$WORK/osm.list"
	bench_set osm osm "$WORK/osm.list" per-zoom
else
	log "osm: no extract (OSM_PBF or ../shared/data/osm/*.pbf): the OSM set is left out"
	echo "osm: no extract (OSM_PBF or ../shared/data/osm/*.pbf), set left out" >>"$WORK/notes"
fi

# --- report -------------------------------------------------------------------
echo
echo "Vector tiles: wrk -t2 -c$CONNS -d${SECONDS_PER_RUN}s, Accept-Encoding: gzip"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-12s %10s %9s %9s %9s %7s %6s %s\n' dataset mode req/s p50_ms p99_ms max_ms errors load runs
# One row per data set and mode: the run with the median req/s (of ROUNDS
# runs for cached and nginx), and every run's req/s.
awk '$2 != "worst" {
	split("", v); for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	k = $1 " " $2; if (!(k in n)) order[++nk] = k
	n[k]++; rps[k, n[k]] = v["rps"]; ld[k, n[k]] = v["load"]; cn[k, n[k]] = v["conns"]; tl[k, n[k]] = v["tiles"]; row[k, n[k]] = sprintf("%10s %9s %9s %9s %7s %6s", v["rps"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["errors"], v["load"])
}
END {
	for (j = 1; j <= nk; j++) {
		k = order[j]; m = n[k]
		for (a = 1; a <= m; a++) idx[a] = a
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (rps[k, idx[b]] + 0 < rps[k, idx[a]] + 0) { t = idx[a]; idx[a] = idx[b]; idx[b] = t }
		med = idx[int((m + 1) / 2)]; all = ""
		for (a = 1; a <= m; a++) all = all (a > 1 ? "," : "") int(rps[k, a])
		split(k, p, " "); printf "%-10s %-12s %s %s\n", p[1], p[2], row[k, med], (m > 1 ? all : "")
		print k, rps[k, med], ld[k, med], cn[k, med], tl[k, med] > "'"$WORK/medians"'"
	}
}' "$WORK/results"
awk '{ r[$1 " " $2] = $3; l[$1 " " $2] = $4; cn[$1 " " $2] = $5; tl[$1 " " $2] = $6 }
END {
	n = split("demo roads1m osm", sets, " ")
	for (i = 1; i <= n; i++) {
		s = sets[i]
		if (r[s " nginx"] > 0) { c = r[s " cached"] / r[s " nginx"]; printf "%-10s cached/nginx    = %.2f  (target 0.8: %.2f of target; load %s / %s)\n", s, c, c / 0.8, l[s " cached"], l[s " nginx"] }
		if (r[s " nginx"] > 0 && r[s " cached-http"] > 0) printf "%-10s cached-http/nginx = %.2f  (--wire=false, every request through net/http; load %s)\n", s, r[s " cached-http"] / r[s " nginx"], l[s " cached-http"]
		if (r[s " cached"] > 0) printf "%-10s uncached/cached = %.3f\n", s, r[s " uncached"] / r[s " cached"]
		for (z = 0; z <= 22; z++) if (r[s " sql-z" z] > 0) {
			u = r[s " uncached-z" z] / r[s " sql-z" z]
			printf "%-10s uncached-z%d/sql-z%d = %.2f  (target 0.9: %.2f of target; load %s / %s; %s tiles, wrk -c%s, SQL -c%s)\n", s, z, z, u, u / 0.9, l[s " uncached-z" z], l[s " sql-z" z], tl[s " uncached-z" z], cn[s " uncached-z" z], cn[s " sql-z" z]
		}
	}
}' "$WORK/medians"
cat "$WORK/notes"
grep ' worst ' "$WORK/results" | awk '{ printf "%-10s slowest tile %.0f ms: %s %s\n", $1, $3 * 1000, $4, substr($0, index($0, "(")) }'
