#!/usr/bin/env bash
# National-scale coverage benchmark (issue 6): generates VILLAGES villages and
# SEGMENTS road segments in SQL (bench/national.sql) on a throwaway
# PostgreSQL cluster (or on $DATABASE_URL), then times
#   cold  — the first coverage question after a server restart, which
#           builds lastmile.village_access (the one-time preparation),
#   warm  — the same question again (from the precomputed distances),
#   edit  — one road update (through SQL, triggers on) and the next answer
#           (which applies the change incrementally),
#   direct — the same question with precomputed=false (ST_DWithin per village).
# Question: villages within 1 km of a graded highway, by county.
# Usage: bench/bench-national.sh [VILLAGES] [SEGMENTS]   (defaults 500000 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
VILLAGES=${1:-500000}
SEGMENTS=${2:-10000000}
. bench/lib.sh
bench_setup 1GB 1GB
ms() { date +%s%3N; }
t0=$(ms)
psql -X -q -v ON_ERROR_STOP=1 -v villages="$VILLAGES" -v segments="$SEGMENTS" -d "$DATABASE_URL" -f bench/national.sql
t1=$(ms)
echo "generated $VILLAGES villages, $SEGMENTS road segments in $(( (t1 - t0) / 1000 )) s"
psql -X -qAt -d "$DATABASE_URL" -c "SELECT 'database size ' || pg_size_pretty(pg_database_size(current_database()))"
q=(--source-filter graded --within-m 1000 --group-by county --csv)
ask() { "$tmp/lastmile" stats coverage --database-url "$DATABASE_URL" "${q[@]}" "$@" 2>/dev/null | tail -1; }
if [[ -n "${own:-}" ]]; then $as_pg pg_ctl -D "$tmp/pg" -m fast -w restart -o "-k $tmp/pg -c listen_addresses='' -c shared_buffers=1GB -c work_mem=64MB" >/dev/null; fi
t0=$(ms); total=$(ask); t1=$(ms)
echo "cold: $(( t1 - t0 )) ms  ($total)"
t0=$(ms); total=$(ask); t1=$(ms)
echo "warm: $(( t1 - t0 )) ms  ($total)"
t0=$(ms)
psql -X -qAt -d "$DATABASE_URL" -c "UPDATE lastmile.roads SET tech_grade = 'class3', status = 'completed' WHERE id = (SELECT id FROM lastmile.roads WHERE tech_grade = 'substandard' ORDER BY id LIMIT 1)"
t1=$(ms)
echo "edit (one road): $(( t1 - t0 )) ms"
t0=$(ms); total=$(ask); t1=$(ms)
echo "next answer: $(( t1 - t0 )) ms  ($total)"
t0=$(ms); total=$(ask); t1=$(ms)
echo "warm again: $(( t1 - t0 )) ms  ($total)"
if [[ "${DIRECT:-1}" == 1 ]]; then
	t0=$(ms); total=$(ask precomputed=false); t1=$(ms)
	echo "direct (precomputed=false): $(( t1 - t0 )) ms  ($total)"
fi
psql -X -qAt -d "$DATABASE_URL" -c "SELECT 'village_access ' || pg_size_pretty(pg_total_relation_size('lastmile.village_access')) || ', database ' || pg_size_pretty(pg_database_size(current_database()))"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM"
