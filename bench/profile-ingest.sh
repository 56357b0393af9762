#!/usr/bin/env bash
# Where a first load's time goes (issue 19): the same N-road GeoJSONSeq file
# as bench-ingest.sh, loaded by `lastmile import --layer roads` into the empty
# lastmile.roads again and again, taking one more thing away from the table
# each time (on this throw-away cluster only): triggers, then each index,
# then the CHECKs, then the generated columns. Each line prints the wall
# time, the import's phases, the client's CPU (reading, parsing, mapping,
# validating, encoding: GNU time) and PostgreSQL's CPU (every backend the
# postmaster reaped, autovacuum off), so the difference between two lines is
# the cost of what was taken away. Usage: bench/profile-ingest.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
. bench/lib.sh
bench_setup 512MB 512MB
file="$tmp/roads.geojsonl"
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
q -v n="$N" -f bench/roads1m.sql
q -c "\\copy (SELECT json_build_object('type', 'Feature', 'id', ext_id,
	'properties', json_build_object('name', name, 'status', status, 'completed_on', completed_on, 'road_class', road_class,
		'tech_grade', tech_grade, 'surface', surface, 'width_m', width_m),
	'geometry', ST_AsGeoJSON(geom)::json) FROM lastmile.roads ORDER BY id) TO '$file'"
chmod 644 "$file"
pm=$(head -1 "$tmp/pg/postmaster.pid")
tck=$(getconf CLK_TCK)
# CPU seconds of the postmaster's reaped children (the backends)
pgcpu() { awk -v t="$tck" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$pm/stat"; }
echo "file: $N features, $(du -m "$file" | cut -f1) MB; $(nproc) cores; $(uptime)"
printf '%-44s %8s %8s %8s  %s\n' "table" "wall s" "client" "backend" "phases"
run() {
	q -c "SET session_replication_role = replica; TRUNCATE lastmile.roads, lastmile.feature_history" -c "VACUUM ANALYZE lastmile.roads" -c CHECKPOINT
	sleep 1
	local c0 t0 t1 c1
	c0=$(pgcpu)
	t0=$(date +%s%3N)
	LASTMILE_INGEST_TRACE=1 /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$tmp/lastmile" import --database-url "$DATABASE_URL" --layer roads "$file" >/dev/null 2>"$tmp/trace"
	t1=$(date +%s%3N)
	sleep 1 # the backend's exit reaped
	c1=$(pgcpu)
	printf '%-44s %8.2f %8.2f %8.2f  %s\n' "$1" "$(echo "($t1 - $t0) / 1000" | bc -l)" "$(awk '{ print $1 + $2 }' "$tmp/cpu")" \
		"$(echo "$c1 - $c0" | bc -l)" "$(grep -E '^(copy|upsert|commit):' "$tmp/trace" | tr '\n' ' ')"
}
run "as is"
q -c "ALTER TABLE lastmile.roads DISABLE TRIGGER roads_history"
run "- history"
q -c "ALTER TABLE lastmile.roads DISABLE TRIGGER USER"
run "- every trigger (stamp, route, access, overview)"
q -c "DROP INDEX lastmile.roads_geog"
run "- GiST geom::geography"
q -c "DROP INDEX lastmile.roads_geom_3857"
run "- GiST geom_3857"
q -c "DROP INDEX lastmile.roads_geom"
run "- GiST geom"
q -c "DROP INDEX lastmile.roads_status"
run "- btree status"
q -c "ALTER TABLE lastmile.roads DROP CONSTRAINT roads_ext_id_key" -c "\\d lastmile.roads" >&2
run "- unique ext_id"
q -c "DO \$\$ DECLARE c text; BEGIN FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'lastmile.roads'::regclass AND contype = 'c' LOOP
	EXECUTE format('ALTER TABLE lastmile.roads DROP CONSTRAINT %I', c); END LOOP; END \$\$"
run "- CHECKs"
q -c "ALTER TABLE lastmile.roads DROP COLUMN geom_3857, DROP COLUMN length_m, ADD COLUMN length_m double precision"
run "- generated geom_3857, length_m"
