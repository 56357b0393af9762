#!/usr/bin/env bash
# bench/contend.sh BASE [SECONDS] [LOOPERS]: an anonymous client loops the most
# expensive questions it can form (grid rankings near the cell limit, far from the
# data and over it, 100 far candidates, network coverage, yearly series; the limit
# varies so no answer comes from a cache) in LOOPERS parallel loops, while another
# client asks for item pages, tiles and /readyz one after another. The other
# client first runs alone for BASELINE seconds (default SECONDS/2), so one run
# gives both figures. Prints the other client's p50/p99/max per kind, alone and
# under the loops, and the anonymous answers by status. SPOOF=1: every
# anonymous request also sends a made-up X-Forwarded-For (a fresh address each
# time): with the server not trusting the bench's address (--trusted-proxies
# ''), it must stay one client with its per-client limit.
set -uo pipefail
BASE=${1:?base URL}; SECS=${2:-60}; LOOPERS=${3:-4}; BASELINE=${BASELINE:-$((SECS / 2))}; SPOOF=${SPOOF:-0}
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
python3 - > "$tmp/far.json" <<'PY'
import json
fs=[{"type":"Feature","id":i,"geometry":{"type":"Point","coordinates":[80+i*0.05,35]},"properties":{}} for i in range(100)]
print(json.dumps({"candidates":{"source":"features","features":{"type":"FeatureCollection","features":fs}},"limit":1}))
PY
expensive=(
  "/api/sites/rank?source=grid&bbox=80,30,90,40&cell_m=2350"
  "/api/sites/rank?source=grid&bbox=117.04,37.16,117.36,37.45&cell_m=70"
  "/api/sites/rank?source=grid&bbox=-180,-85,180,-80&cell_m=50000"
  "/api/sites/rank?source=grid&bbox=117.04,37.16,117.36,37.45&cell_m=180"
  "/api/stats/coverage?target=villages&source=roads&within_m=5000&method=network&group_by=township"
  "/api/stats/progress?layer=roads&series=year&group_by=township"
)
other() { # SECONDS to run, label: item pages, tiles and /readyz one after another
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt $until ]; do
    for k in items tile readyz; do
      case $k in
        items) u="$BASE/ogc/collections/roads/items?limit=50&offset=$((RANDOM % 700))" ;;
        tile) u="$BASE/tiles/roads/12/$((3380 + RANDOM % 4))/$((1589 + RANDOM % 4)).mvt" ;;
        readyz) u="$BASE/readyz" ;;
      esac
      curl -s -o /dev/null -w "$k %{http_code} %{time_total}\n" --max-time 40 "$u" >> "$tmp/other.$2"
    done
  done
}
report() { # label
  for k in items tile readyz; do
    grep "^$k " "$tmp/other.$1" | awk '{print $3}' | sort -n > "$tmp/$k"
    n=$(wc -l < "$tmp/$k")
    pct() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$tmp/$k"; }
    printf '%-8s %-7s n=%-4s p50=%ss p99=%ss max=%ss non-200=%s\n' "$1" "$k" "$n" "$(pct 50)" "$(pct 99)" "$(tail -1 "$tmp/$k")" "$(grep "^$k " "$tmp/other.$1" | awk '$2!=200' | wc -l)"
  done
}
[ "$BASELINE" -gt 0 ] && other "$BASELINE" alone
end=$((SECONDS + SECS))
for l in $(seq "$LOOPERS"); do
  ( i=0; while [ $SECONDS -lt $end ]; do
      i=$((i + 1)); p=${expensive[$((i % ${#expensive[@]}))]}
      spoof=()
      [ "$SPOOF" = 1 ] && spoof=(-H "X-Forwarded-For: 198.51.$((RANDOM % 256)).$((RANDOM % 256))")
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 40 "${spoof[@]}" "$BASE$p&limit=$i$l" >> "$tmp/anon"
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 40 "${spoof[@]}" -X POST --data-binary @"$tmp/far.json" "$BASE/api/sites/rank?limit=$i$l" >> "$tmp/anon"
    done ) &
done
sleep 2
other $((end - SECONDS)) loaded
wait
[ "$BASELINE" -gt 0 ] && report alone
report loaded
echo "anonymous answers: $(sort "$tmp/anon" | uniq -c | tr '\n' ' ')"
