#!/usr/bin/env bash
# bench/hardening.sh BASE TOKEN PGDATA [LASTMILE_PID]: the issue-17 cases against a running
# demo server (lastmile demo): for each, the status, seconds, bytes, the CPU-seconds the
# server and its PostgreSQL spent (process-tree CPU of the managed cluster and lastmile),
# and the start of the body. Writes go through TOKEN (scope admin).
set -uo pipefail
BASE=${1:?base URL}; TOKEN=${2:?token}; PGDATA=${3:?cluster data dir}; LMPID=${4:-}
PGPID=$(head -1 "$PGDATA/postmaster.pid")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tck=$(getconf CLK_TCK)
cpu() { # CPU ticks of the postmaster (with reaped children), its live children, and lastmile
  local t=0 p
  for p in $PGPID $(pgrep -P "$PGPID") $LMPID; do
    [ -r /proc/$p/stat ] || continue
    t=$((t + $(awk '{print $14+$15+$16+$17}' /proc/$p/stat)))
  done
  echo $t
}
run() { # name, curl args...
  local name=$1; shift
  local c0; c0=$(cpu)
  local out; out=$(curl -s -o "$tmp/body" -w '%{http_code} %{time_total} %{size_download}' --max-time 120 "$@")
  sleep 0.2
  local c1; c1=$(cpu)
  printf '%-34s %s cpu=%.2fs  %s\n' "$name" "$out" "$(echo "($c1-$c0)/$tck" | bc -l)" "$(head -c 220 "$tmp/body" | tr '\n' ' ')"
}
auth=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/geo+json')

run "grid world strip (anon)" "$BASE/api/sites/rank?source=grid&bbox=-180,-85,180,-80&cell_m=50000&limit=1"
run "grid near limit, far (anon)" "$BASE/api/sites/rank?source=grid&bbox=80,30,90,40&cell_m=2350&limit=1"
run "grid near limit, county (anon)" "$BASE/api/sites/rank?source=grid&bbox=117.04,37.16,117.36,37.45&cell_m=70&limit=1"
python3 - > "$tmp/far.json" <<'PY'
import json
fs=[{"type":"Feature","id":i,"geometry":{"type":"Point","coordinates":[80+i*0.05,35]},"properties":{}} for i in range(100)]
print(json.dumps({"candidates":{"source":"features","features":{"type":"FeatureCollection","features":fs}},"limit":1}))
PY
run "100 far candidates ($(wc -c <"$tmp/far.json") B)" -X POST --data-binary @"$tmp/far.json" "$BASE/api/sites/rank"
python3 - > "$tmp/big.json" <<'PY'
import json
n=380000
coords=[[117.1+i*1e-7,37.2+(i%2)*1e-6] for i in range(n)]
print(json.dumps({"type":"Feature","geometry":{"type":"LineString","coordinates":coords},"properties":{"ext_id":"harden-big","name":"big","road_class":"village","surface":"cement","status":"completed","completed_on":"2015-01-01"}}))
PY
run "380000-vertex road ($(wc -c <"$tmp/big.json") B)" -X POST "${auth[@]}" --data-binary @"$tmp/big.json" "$BASE/ogc/collections/roads/items"
road() { echo '{"type":"Feature","geometry":{"type":"LineString","coordinates":'"$1"'},"properties":{"ext_id":"'"$2"'","road_class":"village","surface":"cement",'"$3"'}}'; }
run "road 0001-01-01..9999-12-31" -X POST "${auth[@]}" -d "$(road '[[117.2,37.3],[117.21,37.3]]' harden-dates '"status":"completed","started_on":"0001-01-01","completed_on":"9999-12-31"')" "$BASE/ogc/collections/roads/items"
run "progress series=year by township" "$BASE/api/stats/progress?layer=roads&series=year&group_by=township"
run "completed in 2035" -X POST "${auth[@]}" -d "$(road '[[117.2,37.31],[117.21,37.31]]' harden-2035 '"status":"completed","completed_on":"2035-06-01"')" "$BASE/ogc/collections/roads/items"
run "admin_code 3000 km away" -X POST "${auth[@]}" -d "$(road '[[90.2,30.31],[90.21,30.31]]' harden-far '"status":"planned","admin_code":"371426101000"')" "$BASE/ogc/collections/roads/items"
run "antimeridian line" -X POST "${auth[@]}" -d "$(road '[[179.99,60],[-179.99,60]]' harden-am '"status":"planned"')" "$BASE/ogc/collections/roads/items"
run "TileJSON bounds after" "$BASE/tiles/roads.json"
python3 - > "$tmp/wide.csv" <<'PY'
import sys
n=1000000
sys.stdout.write("name,wkt," + ",".join("c%d"%i for i in range(n)) + "\n")
sys.stdout.write('a,"LINESTRING(117.2 37.3,117.21 37.3)",' + ",".join("x" for i in range(n)) + "\n")
PY
run "CSV 1000000 columns ($(wc -c <"$tmp/wide.csv") B)" -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @"$tmp/wide.csv" "$BASE/api/import/roads?filename=wide.csv&dry_run=true"
run "candidate hole outside shell" -X POST -d '{"candidates":{"source":"features","features":{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"geometry":{"type":"Polygon","coordinates":[[[117.2,37.3],[117.21,37.3],[117.21,37.31],[117.2,37.31],[117.2,37.3]],[[117.3,37.3],[117.301,37.3],[117.301,37.301],[117.3,37.301],[117.3,37.3]]]},"properties":{}}]}}}' "$BASE/api/sites/rank"
