#!/usr/bin/env bash
# bench/bench-export.sh: tile-archive export, lastmile vs GDAL (make bench).
#
# From the same PostGIS, in one run:
#   lastmile  lastmile export tiles --out FILE.mbtiles (and .pmtiles)
#   gdal      ogr2ogr -f MBTILES, from views holding exactly the tile fields
#             of each layer (geom_3857, dates as text), with each layer's zoom
#             range of the catalog (-dsco CONF) and the same overall zooms
# on two data sets:
#   demo      the demo county, all nine layers, z6-z14
#   roads1m   bench/roads1m.sql (ROADS lines, default 1 000 000), roads, z12-z14
# and prints per data set and tool: the wall time, the non-empty tiles
# written and tiles/s, the archive's bytes, the features per tile (mean and
# max, decoded by bench/tilestats) and lastmile's rate over GDAL's.
#
# Environment: BENCH_DIR (default /tmp/lastmile-bench-export), ROADS (0 skips
# roads1m), GDAL_TIMEOUT (seconds ogr2ogr may take per data set, default 900:
# on 1 M roads it had not finished after 32 min; the ratio is then a lower
# bound), LASTMILE (binary; default: built from this tree), KEEP=1 keeps the work
# directory. Starts its own PostgreSQL cluster. Needs ogr2ogr (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${BENCH_DIR:-/tmp/lastmile-bench-export}
ROADS=${ROADS:-1000000}
GDAL_TIMEOUT=${GDAL_TIMEOUT:-900}
LASTMILE=${LASTMILE:-}
ALL_LAYERS=roads,water_pipelines,power_upgrades,house_renovations,relocation_sites,villages,admin_areas,hazard_zones,facilities

log() { printf '[bench-export %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

command -v ogr2ogr >/dev/null || { echo "ogr2ogr (GDAL) not found: run scripts/setup" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL binaries not found: run scripts/setup" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
if [ -z "$LASTMILE" ]; then LASTMILE=$WORK/lastmile; go build -o "$LASTMILE" ./cmd/lastmile; fi
go build -o "$WORK.tilestats" ./bench/tilestats
PIDS=()
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true
	rm -f "$WORK.tilestats"
	[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; chmod 755 "$WORK"; fi
log "starting a PostgreSQL cluster in $WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
cat >>"$WORK/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
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
for db in demo roads1m; do
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
	"$LASTMILE" migrate --database-url "$(url "$db")" >/dev/null 2>&1
done

# gdal_views DB ARCHIVE: views gdal.<layer> with the tile fields the archive's
# vector_layers list (String fields as text, as lastmile's tiles carry them)
# and geom_3857 — the fields that are the table's columns (not those only the
# low-zoom overviews carry, e.g. roads' count "roads"); prints the -dsco CONF
# JSON with each layer's zoom range.
gdal_views() {
	local db=$1 archive=$2
	"${PSQL[@]}" -d "$db" -AtF, -c "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'lastmile'" >"$WORK/$db.columns"
	python3 - "$archive" "$WORK/$db.columns" >"$WORK/$db.views.sql" 3>"$WORK/$db.conf.json" <<'PY'
import json, os, sqlite3, sys
columns = {tuple(line.strip().split(",", 1)) for line in open(sys.argv[2]) if "," in line}
meta = dict(sqlite3.connect(sys.argv[1]).execute("SELECT name, value FROM metadata"))
layers = json.loads(meta["json"])["vector_layers"]
print("SET client_min_messages = warning; DROP SCHEMA IF EXISTS gdal CASCADE; CREATE SCHEMA gdal;")
conf = {}
for l in layers:
    cols = ", ".join(f'"{f}"::text AS "{f}"' if t == "String" else f'"{f}"::float8 AS "{f}"' if t == "Number" else f'"{f}"'
                     for f, t in sorted(l["field_types"].items()) if (l["id"], f) in columns)
    print(f'CREATE VIEW gdal."{l["id"]}" AS SELECT id, {cols}, geom_3857 AS geom FROM lastmile."{l["id"]}";')
    conf["gdal." + l["id"]] = {"target_name": l["id"], "minzoom": l["minzoom"], "maxzoom": l["maxzoom"]}
os.write(3, json.dumps(conf).encode())
PY
	"${PSQL[@]}" -d "$db" -f "$WORK/$db.views.sql" >/dev/null
}

# timed NAME CMD...: runs CMD, appends "NAME seconds" to $WORK/times.
timed() {
	local name=$1 start end
	shift
	start=$(date +%s%N)
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.log" || { cat "$WORK/$name.log" >&2; return 1; }
	end=$(date +%s%N)
	echo "$name $(((end - start) / 1000000))e-3" >>"$WORK/times"
}

# bench_set SET DB LAYERS ZMIN ZMAX: lastmile (MBTiles, then PMTiles) and GDAL.
bench_set() {
	local set=$1 db=$2 layers=$3 zmin=$4 zmax=$5 tables=""
	log "$set: lastmile export tiles z$zmin-z$zmax"
	timed "$set.lastmile" "$LASTMILE" export tiles --database-url "$(url "$db")" --layers "$layers" \
		--minzoom "$zmin" --maxzoom "$zmax" --quiet --out "$WORK/$set.lastmile.mbtiles"
	timed "$set.lastmile-pmtiles" "$LASTMILE" export tiles --database-url "$(url "$db")" --layers "$layers" \
		--minzoom "$zmin" --maxzoom "$zmax" --quiet --out "$WORK/$set.lastmile.pmtiles"
	gdal_views "$db" "$WORK/$set.lastmile.mbtiles"
	for l in ${layers//,/ }; do tables+="${tables:+,}gdal.$l"; done
	log "$set: ogr2ogr -f MBTILES z$zmin-z$zmax (at most ${GDAL_TIMEOUT}s)"
	if ! timed "$set.gdal" timeout "$GDAL_TIMEOUT" ogr2ogr -f MBTILES "$WORK/$set.gdal.mbtiles" \
		PG:"host=$WORK user=postgres dbname=$db tables=$tables" \
		-dsco MINZOOM="$zmin" -dsco MAXZOOM="$zmax" -dsco CONF="$(cat "$WORK/$db.conf.json")"; then
		log "$set: ogr2ogr did not finish in ${GDAL_TIMEOUT}s"
		echo "$set.gdal.timeout $GDAL_TIMEOUT" >>"$WORK/times"
		rm -f "$WORK/$set.gdal.mbtiles"
	fi
	for f in lastmile.mbtiles lastmile.pmtiles gdal.mbtiles; do
		[ -f "$WORK/$set.$f" ] || continue
		"$WORK.tilestats" "$WORK/$set.$f" >>"$WORK/stats"
		echo "$set.$f $(stat -c %s "$WORK/$set.$f")" >>"$WORK/sizes"
	done
}

: >"$WORK/times"; : >"$WORK/stats"; : >"$WORK/sizes"

log "loading the demo county"
"$LASTMILE" demo --database-url "$(url demo)" --addr 127.0.0.1:0 >"$WORK/demo-load.out" 2>"$WORK/demo-load.log" &
PIDS+=($!)
for _ in $(seq 1 240); do grep -q "serving on" "$WORK/demo-load.out" 2>/dev/null && break; sleep 0.5; done
kill "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null || true
"${PSQL[@]}" -d demo -c "ANALYZE"
bench_set demo demo "$ALL_LAYERS" 6 14

if [ "$ROADS" -gt 0 ]; then
	log "generating $ROADS synthetic roads"
	"${PSQL[@]}" -d roads1m -v n="$ROADS" -f "$ROOT/bench/roads1m.sql" >/dev/null
	bench_set roads1m roads1m roads 12 14
fi

# --- report -------------------------------------------------------------------
echo
echo "Tile archive export: lastmile export tiles vs GDAL ogr2ogr -f MBTILES, same PostGIS, same layers, fields and zooms"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load before: $(cut -d' ' -f1-3 /proc/loadavg); $(ogr2ogr --version)"
awk -v roads="$ROADS" '
FILENAME ~ /times$/ { secs[$1] = $2; next }
FILENAME ~ /sizes$/ { size[$1] = $2; next }
$2 == "all" { split($1, p, "."); key = p[1] "." p[2] (p[3] == "pmtiles" ? "-pmtiles" : ""); tiles[key] = $3; fpt[key] = $7; maxf[key] = $8; file[key] = $1 }
END {
	printf "%-8s %-17s %8s %7s %9s %11s %9s %9s\n", "dataset", "tool", "seconds", "tiles", "tiles/s", "bytes", "feat/tile", "max_feat"
	n = split("demo roads1m", sets, " ")
	for (i = 1; i <= n; i++) {
		s = sets[i]
		if (!((s ".lastmile") in secs)) continue
		m = split("lastmile lastmile-pmtiles gdal", tools, " ")
		for (j = 1; j <= m; j++) {
			k = s "." tools[j]
			if (!(k in tiles)) continue
			printf "%-8s %-17s %8.2f %7d %9.1f %11d %9.1f %9d\n", s, tools[j], secs[k], tiles[k], tiles[k] / secs[k], size[file[k]], fpt[k], maxf[k]
		}
		if ((s ".gdal.timeout") in secs)
			printf "%-8s gdal               did not finish in %d s: lastmile/gdal time > %.2fx\n", s, secs[s ".gdal.timeout"], secs[s ".gdal.timeout"] / secs[s ".lastmile"]
		else
			printf "%-8s lastmile/gdal tiles/s: %.2fx\n", s, (tiles[s ".lastmile"] / secs[s ".lastmile"]) / (tiles[s ".gdal"] / secs[s ".gdal"])
	}
}' "$WORK/times" "$WORK/sizes" "$WORK/stats"
echo
echo "per zoom (tilestats: file zoom tiles stored_bytes mvt_bytes features features_per_tile max_features):"
cat "$WORK/stats"
