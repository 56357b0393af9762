package stats

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

// The routing graph packed for the search (postgis/migrations/0092): one
// row per 65 536 edge ids, fixed 36-byte records. Reading the pack is one
// pass over a few hundred megabytes at national scale, where reading the
// edges as rows costs seconds per question.

const (
	packChunkBits  = 12
	packRecordSize = 36
	dayNever       = math.MinInt32 // not completed: never traversable
	dayUndated     = math.MaxInt32 // completed, no date: not by any as_of
)

// usePack is false in tests that compare the packed graph and the
// precomputed snaps with the edges read as rows and snapped per question.
var usePack = true

// packedEdges holds the routing graph's edges indexed by edge id (src -1:
// no such edge).
type packedEdges struct {
	src, dst []int32
	road     []int64
	day      []int32 // completed_on in days since 2000-01-01, or dayNever / dayUndated
	cost     []float64
	maxV     int32 // the largest vertex id
	maxRoad  int64 // the largest road id
	edges    int
}

// packEpoch is the day numbers' origin.
var packEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// asOfDay is as_of in pack day numbers.
func asOfDay(asOf *time.Time) int32 {
	if asOf == nil {
		return dayUndated
	}
	d := asOf.UTC().Sub(packEpoch).Hours() / 24
	return int32(math.Max(math.MinInt32+1, math.Min(math.MaxInt32-1, math.Floor(d))))
}

// loadPack reads the packed graph; nil when the pack is not current (a
// rebuild ran without route_pack_sync, e.g. from plain SQL): the caller then
// reads the edges as rows.
func loadPack(ctx context.Context, q querier) (*packedEdges, error) {
	var dirty bool
	var maxChunk int64
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lastmile.route_pack_dirty),
		coalesce((SELECT max(chunk) FROM lastmile.route_pack), -1)`).Scan(&dirty, &maxChunk); err != nil {
		return nil, fmt.Errorf("routing graph pack: %w", err)
	}
	if dirty {
		return nil, nil
	}
	if maxChunk >= maxGraphVertices>>packChunkBits {
		return nil, fmt.Errorf("routing graph pack: chunk %d out of range", maxChunk)
	}
	n := int(maxChunk+1) << packChunkBits
	p := &packedEdges{src: make([]int32, n), dst: make([]int32, n), road: make([]int64, n), day: make([]int32, n), cost: make([]float64, n)}
	for i := range p.src {
		p.src[i] = -1
	}
	rows, err := q.Query(ctx, `SELECT data FROM lastmile.route_pack`, pgx.QueryResultFormats{pgx.BinaryFormatCode})
	if err != nil {
		return nil, fmt.Errorf("routing graph pack: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 1 || len(raw[0])%packRecordSize != 0 {
			return nil, fmt.Errorf("routing graph pack: unexpected chunk encoding")
		}
		b := raw[0]
		for o := 0; o < len(b); o += packRecordSize {
			id := int64(binary.BigEndian.Uint64(b[o:]))
			s := int32(binary.BigEndian.Uint32(b[o+8:]))
			d := int32(binary.BigEndian.Uint32(b[o+12:]))
			if id < 0 || id >= int64(n) || s < 0 || d < 0 || s >= maxGraphVertices || d >= maxGraphVertices {
				return nil, fmt.Errorf("routing graph pack: edge %d (%d–%d) out of range", id, s, d)
			}
			p.src[id], p.dst[id] = s, d
			p.road[id] = int64(binary.BigEndian.Uint64(b[o+16:]))
			p.day[id] = int32(binary.BigEndian.Uint32(b[o+24:]))
			p.cost[id] = math.Float64frombits(binary.BigEndian.Uint64(b[o+28:]))
			p.maxV = max(p.maxV, s, d)
			p.maxRoad = max(p.maxRoad, p.road[id])
			p.edges++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("routing graph pack: %w", err)
	}
	return p, nil
}

// has reports whether edge id exists.
func (p *packedEdges) has(id int64) bool { return id >= 0 && id < int64(len(p.src)) && p.src[id] >= 0 }

// traversable reports whether edge id may be travelled as of day.
func (p *packedEdges) traversable(id int64, day int32) bool {
	return p.has(id) && p.day[id] != dayNever && (day == dayUndated || p.day[id] <= day)
}

// graph returns the CSR graph of the edges traversable as of asOf, costed
// in metres or, with speeds (km/h by road id; a road beyond them at walking
// speed), in seconds (built in place:
// no edge list in between).
func (p *packedEdges) graph(asOf *time.Time, speeds []float64) *graph {
	day := asOfDay(asOf)
	n := int(p.maxV) + 1
	off := make([]int32, n+1)
	edges := 0
	for id, s := range p.src {
		if s >= 0 && p.traversable(int64(id), day) {
			off[s+1]++
			off[p.dst[id]+1]++
			edges++
		}
	}
	for v := 0; v < n; v++ {
		off[v+1] += off[v]
	}
	g := &graph{off: off, adj: make([]int32, 2*edges), cost: make([]float64, 2*edges), edges: edges}
	if speeds != nil {
		g.length = make([]float64, 2*edges)
	}
	fill := make([]int32, n)
	copy(fill, off[:n])
	for id, s := range p.src {
		if s < 0 || !p.traversable(int64(id), day) {
			continue
		}
		d, c := p.dst[id], p.cost[id]
		if speeds != nil {
			g.length[fill[s]], g.length[fill[d]] = c, c
			sp := 0.0
			if r := p.road[id]; r >= 0 && r < int64(len(speeds)) {
				sp = speeds[r]
			}
			c = legCost(c, sp, true)
		}
		g.adj[fill[s]], g.cost[fill[s]] = d, c
		fill[s]++
		g.adj[fill[d]], g.cost[fill[d]] = s, c
		fill[d]++
	}
	return g
}

// roadSpeeds returns the speed (km/h, speed: an SQL expression over roads
// r such as layer.Speeds.SQL) of every road, by road id.
func roadSpeeds(ctx context.Context, q querier, speed string) ([]float64, error) {
	var maxID int64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM lastmile.roads`).Scan(&maxID); err != nil {
		return nil, fmt.Errorf("road speeds: %w", err)
	}
	if maxID >= maxGraphVertices {
		return nil, fmt.Errorf("road id %d out of range", maxID)
	}
	speeds := make([]float64, maxID+1)
	rows, err := q.Query(ctx, `SELECT r.id, (`+speed+`)::float8 FROM lastmile.roads r`)
	if err != nil {
		return nil, fmt.Errorf("road speeds: %w", err)
	}
	defer rows.Close()
	var id int64
	var s float64
	if _, err := pgx.ForEachRow(rows, []any{&id, &s}, func() error {
		if id >= 0 && id <= maxID {
			speeds[id] = s
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("road speeds: %w", err)
	}
	return speeds, nil
}

// qualifying returns, by road id, whether the road is a source
// (source_filter).
func (req *coverageRequest) qualifying(ctx context.Context, q querier) ([]bool, error) {
	where, args := req.sourceWhere()
	var ids []int64
	if err := q.QueryRow(ctx, `SELECT coalesce(array_agg(s.id), '{}') FROM `+pgsql.Table(req.source)+` s WHERE `+where, args...).Scan(&ids); err != nil {
		return nil, fmt.Errorf("network sources: %w", err)
	}
	var maxID int64 = -1
	for _, id := range ids {
		maxID = max(maxID, id)
	}
	if maxID >= maxGraphVertices {
		return nil, fmt.Errorf("road id %d out of range", maxID)
	}
	qual := make([]bool, maxID+1)
	for _, id := range ids {
		if id >= 0 {
			qual[id] = true
		}
	}
	return qual, nil
}

// packedStarts returns the graph vertices on qualifying roads (as starts,
// from the pack).
func (p *packedEdges) starts(qual []bool) []int64 {
	var starts []int64
	seen := make([]bool, int(p.maxV)+1)
	for id, s := range p.src {
		if r := p.road[id]; s < 0 || r < 0 || r >= int64(len(qual)) || !qual[r] {
			continue
		}
		for _, v := range [2]int32{s, p.dst[id]} {
			if !seen[v] {
				seen[v] = true
				starts = append(starts, int64(v))
			}
		}
	}
	return starts
}

// stepTimer logs the time of each step of a network question to stderr
// when LASTMILE_NETWORK_TIMING is set (for bench/bench-national.sh).
type stepTimer struct {
	on   bool
	last time.Time
}

func newStepTimer() *stepTimer {
	return &stepTimer{on: os.Getenv("LASTMILE_NETWORK_TIMING") != "", last: time.Now()}
}

func (t *stepTimer) step(name string) {
	if !t.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "network %s: %d ms\n", name, now.Sub(t.last).Milliseconds())
	t.last = now
}

// searchKey names a search for roads as sources: the source filter with its
// values, the metric (with the speeds' definition) and as_of.
func (req *coverageRequest) searchKey() string {
	where, args := req.sourceWhere()
	k := fmt.Sprintf("%s|%s|%v|%v", where, req.metric, args, req.asOf)
	if req.metric == "time" {
		k += "|" + req.speeds.SQL("r") // the catalog's speeds with the request's overrides
		k += fmt.Sprintf("|walking:%g", req.speeds.WalkingKmh)
	}
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// loadSearch reads a kept search result (lastmile.route_search_cache) of
// this graph version; ok false when there is none.
func loadSearch(ctx context.Context, q querier, key string, version int64, timed bool) (r searchResult, ok bool, err error) {
	var cost, length []byte
	err = q.QueryRow(ctx, `SELECT cost, length FROM lastmile.route_search_cache WHERE key = $1 AND version = $2`, key, version).Scan(&cost, &length)
	if err == pgx.ErrNoRows {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("kept search: %w", err)
	}
	if len(cost)%8 != 0 || (timed && len(length) != len(cost)) {
		return r, false, nil
	}
	return decodeSearch(cost, length, timed), true, nil
}

// keptSearches bounds the number of search results kept.
const keptSearches = 8

// storeSearch keeps a search result for the next questions of the same
// definition on this graph version, dropping those of other epochs and all
// but the newest keptSearches (those of earlier versions of this epoch stay
// until repaired: netrepair.go).
func storeSearch(ctx context.Context, pool *pgxpool.Pool, key string, epoch, version int64, r searchResult, timed bool) error {
	var length []byte
	if timed {
		length = encodeFloats(r.length)
	}
	_, err := pool.Exec(ctx, `WITH del AS (
			DELETE FROM lastmile.route_search_cache WHERE epoch IS DISTINCT FROM $6
			   OR key IN (SELECT key FROM lastmile.route_search_cache WHERE key <> $1 ORDER BY used_at DESC OFFSET $5)
		)
		INSERT INTO lastmile.route_search_cache (key, version, epoch, cost, length) VALUES ($1, $2, $6, $3, $4)
		ON CONFLICT (key) DO UPDATE SET version = excluded.version, epoch = excluded.epoch, used_at = now(), cost = excluded.cost, length = excluded.length,
			village_ids = NULL, village_measure = NULL, villages_gen = NULL, village_codes = NULL,
			village_population = NULL, village_poor = NULL`,
		key, version, encodeFloats(r.cost), length, keptSearches-1, epoch)
	if err != nil {
		return fmt.Errorf("keeping the search: %w", err)
	}
	return nil
}
