package stats

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

//go:embed sql/rank*.sql
var rankSQLFiles embed.FS

// hardenedMarker is replaced in rank_measure.sql by the catalog's
// hardened-road predicate, so the definition lives in one place.
const hardenedMarker = "/*layer.Hardened(r)*/ true"

// rankSQL holds the ranking queries, read once; they are constants after
// that (the only substitution is the catalog's hardened-road predicate).
var rankSQL = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"rank_planned", "rank_area", "rank_grid", "rank_measure"} {
		b, err := rankSQLFiles.ReadFile("sql/" + name + ".sql")
		if err != nil {
			panic(err)
		}
		m[name] = string(b)
	}
	if !strings.Contains(m["rank_measure"], hardenedMarker) {
		panic("stats: rank_measure.sql lacks the hardened-road marker")
	}
	m["rank_measure"] = strings.ReplaceAll(m["rank_measure"], hardenedMarker, layer.Hardened.SQL("r"))
	return m
}()

// maxRankBody bounds a ranking request body.
const maxRankBody = 32 << 20

// registerRank adds POST (and GET, for map layers) /api/sites/rank.
func (h *Handler) registerRank(r *mux.Router) {
	r.Handle("/api/sites/rank", respond.HandlerFunc(h.rank)).Methods(http.MethodPost, http.MethodGet)
}

// rank answers POST /api/sites/rank with a JSON body (see RankRequest), and
// GET /api/sites/rank with the same parameters in flag form as a query
// (source, admin_code, bbox, cell_m, weights=road=0.3,water=0.2, …).
// ?format=csv selects CSV.
func (h *Handler) rank(w http.ResponseWriter, r *http.Request) error {
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxRankBody))
		if err != nil {
			return err
		}
	}
	req, err := ParseRankValues(body, r.URL.Query())
	if err != nil {
		return err
	}
	res, err := Rank(r.Context(), h.pool, req)
	if err != nil {
		return err
	}
	h.log.Info("ranked relocation sites", "source", req.Candidates.Source,
		"candidates", res.Summary.Candidates, "ranked", res.Summary.Ranked,
		"excluded", res.Summary.Excluded, "ms", res.Summary.ElapsedMS,
		"request_id", respond.RequestID(r.Context()))
	if req.Format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="sites-rank.csv"`)
		if p, err := rankJSONCompact(res.Parameters); err == nil {
			w.Header().Set("Lastmile-Rank-Parameters", p)
		}
		w.WriteHeader(http.StatusOK)
		return res.WriteCSV(w)
	}
	w.Header().Set("Content-Type", "application/geo+json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	return res.WriteGeoJSON(w)
}

// rankCandidate is one site to rank.
type rankCandidate struct {
	id   string
	name string
	geom orb.Geometry
	wkb  []byte
	grid *rankGridCell // set for grid candidates
}

type rankGridCell struct {
	I int `json:"i"`
	J int `json:"j"`
}

func newRankCandidate(id, name string, g orb.Geometry, b []byte) rankCandidate {
	if b == nil {
		b, _ = wkb.Marshal(g)
	}
	return rankCandidate{id: id, name: name, geom: g, wkb: b}
}

// rankNearest is the nearest feature of one kind and its geodesic distance.
type rankNearest struct {
	Layer     string  `json:"layer"`
	ID        int64   `json:"id"`
	Name      string  `json:"name,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	DistanceM float64 `json:"-"`
}

// rankMeasures are a candidate's raw values from PostGIS.
type rankMeasures struct {
	areaM2                                                         *float64
	hazard, road, pipeline, source, power, school, clinic, village *rankNearest
	population, villages                                           int64
}

// water is the nearer of the pipeline and the water source.
func (m rankMeasures) water() *rankNearest {
	switch {
	case m.pipeline == nil:
		return m.source
	case m.source == nil:
		return m.pipeline
	case m.source.DistanceM < m.pipeline.DistanceM:
		return m.source
	}
	return m.pipeline
}

// Rank loads the candidates, measures them in PostGIS and scores them.
func Rank(ctx context.Context, pool *pgxpool.Pool, req RankRequest) (res *RankResult, err error) {
	defer lastmile.Wrap(&err, "stats.Rank(%s)", req.Candidates.Source)
	start := time.Now()
	cands, estimated, err := rankLoadCandidates(ctx, pool, req)
	if err != nil {
		return nil, err
	}
	loaded := time.Since(start)
	ms, err := rankMeasure(ctx, pool, req, cands)
	if err != nil {
		return nil, err
	}
	res = rankEvaluate(req, cands, ms)
	res.Summary.CellsEstimated = estimated
	res.Summary.CandidatesMS = rankRound(loaded.Seconds()*1000, 1)
	res.Summary.ElapsedMS = rankRound(time.Since(start).Seconds()*1000, 1)
	return res, nil
}

// rankLoadCandidates returns the request's candidates; for a grid, also the
// estimated cell count (checked against MaxRankCells before generating).
func rankLoadCandidates(ctx context.Context, pool *pgxpool.Pool, req RankRequest) ([]rankCandidate, int, error) {
	c := req.Candidates
	switch c.Source {
	case SourceFeatures:
		return c.features, 0, nil
	case SourcePlanned:
		rows, err := pool.Query(ctx, rankSQL["rank_planned"], MaxRankCells+1)
		if err != nil {
			return nil, 0, err
		}
		var out []rankCandidate
		var id int64
		var name string
		var b []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &name, &b}, func() error {
			g, err := wkb.Unmarshal(b)
			if err != nil {
				return fmt.Errorf("relocation site %d: %w", id, err)
			}
			out = append(out, newRankCandidate(strconv.FormatInt(id, 10), name, g, append([]byte(nil), b...)))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if len(out) > MaxRankCells {
			return nil, 0, lastmile.Invalid("too many candidates", lastmile.Problem{Field: "candidates.source",
				Message: fmt.Sprintf("more than %d planned relocation sites; rank them as features in batches", MaxRankCells)})
		}
		return out, 0, nil
	case SourceGrid:
		return rankLoadGrid(ctx, pool, c)
	}
	return nil, 0, lastmile.Invalid("unknown candidate source", lastmile.Problem{Field: "candidates.source", Value: c.Source, Message: "expected features, planned or grid"})
}

func rankLoadGrid(ctx context.Context, pool *pgxpool.Pool, c RankCandidates) ([]rankCandidate, int, error) {
	var areaM2, lon, lat float64
	var code any
	var box [4]any
	if c.AdminCode != "" {
		err := pool.QueryRow(ctx, rankSQL["rank_area"], c.AdminCode).Scan(&areaM2, &lon, &lat)
		if err == pgx.ErrNoRows {
			return nil, 0, lastmile.Invalid("unknown admin area", lastmile.Problem{Field: "candidates.admin_code", Value: c.AdminCode, Message: "no admin area has this code"})
		}
		if err != nil {
			return nil, 0, err
		}
		code = c.AdminCode
	} else {
		areaM2 = rankBBoxAreaM2(c.BBox)
		lon, lat = (c.BBox[0]+c.BBox[2])/2, (c.BBox[1]+c.BBox[3])/2
		for i := range box {
			box[i] = c.BBox[i]
		}
	}
	est := rankEstimateCells(areaM2, c.CellM)
	if est > MaxRankCells {
		return nil, int(est), lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Value: fmt.Sprint(c.CellM),
			Message: fmt.Sprintf("a %g m grid over this area (%.1f km²) would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, areaM2/1e6, est, MaxRankCells)})
	}
	rows, err := pool.Query(ctx, rankSQL["rank_grid"], code, box[0], box[1], box[2], box[3], c.CellM, rankUTMSRID(lon, lat))
	if err != nil {
		return nil, 0, err
	}
	var out []rankCandidate
	var i, j int
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&i, &j, &b}, func() error {
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return err
		}
		cand := newRankCandidate(strconv.Itoa(len(out)+1), "", g, append([]byte(nil), b...))
		cand.grid = &rankGridCell{I: i, J: j}
		out = append(out, cand)
		if len(out) > MaxRankCells {
			return lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Message: fmt.Sprintf("the grid has more than %d cells", MaxRankCells)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, int(est), nil
}

// rankUTMSRID is the EPSG code of the WGS84 UTM zone containing lon/lat.
func rankUTMSRID(lon, lat float64) int {
	zone := int(math.Floor((lon+180)/6)) + 1
	zone = max(1, min(60, zone))
	if lat < 0 {
		return 32700 + zone
	}
	return 32600 + zone
}

// rankMeasure runs rank_measure.sql over the candidates, in chunks on several
// connections at once (each chunk is one query whose nearest-neighbour
// probes are index scans; PostgreSQL runs a query on one core).
func rankMeasure(ctx context.Context, pool *pgxpool.Pool, req RankRequest, cands []rankCandidate) ([]rankMeasures, error) {
	workers := max(1, min(runtime.GOMAXPROCS(0), int(pool.Config().MaxConns)/2, len(cands)/minRankChunk))
	return rankMeasureChunks(ctx, pool, req, cands, workers)
}

// rankMeasureChunks measures cands in workers chunks at once.
func rankMeasureChunks(ctx context.Context, pool *pgxpool.Pool, req RankRequest, cands []rankCandidate, workers int) ([]rankMeasures, error) {
	out := make([]rankMeasures, len(cands))
	if len(cands) == 0 {
		return out, nil
	}
	size := (len(cands) + workers - 1) / workers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, workers)
	for lo := 0; lo < len(cands); lo += size {
		hi := min(lo+size, len(cands))
		go func() {
			err := rankMeasureChunk(ctx, pool, req, cands[lo:hi], out[lo:hi])
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for lo := 0; lo < len(cands); lo += size {
		if err := <-errs; err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	return out, first
}

// rankSessionSettings are set for each measuring transaction (see
// measureChunk).
const rankSessionSettings = `SET LOCAL enable_sort = off; SET LOCAL enable_memoize = off; SET LOCAL jit = off`

// minRankChunk is the fewest candidates worth a connection of their own.
const minRankChunk = 2000

func rankMeasureChunk(ctx context.Context, pool *pgxpool.Pool, req RankRequest, cands []rankCandidate, out []rankMeasures) error {
	geoms := make([][]byte, len(cands))
	for i, c := range cands {
		geoms[i] = c.wkb
	}
	withPop := req.Weights.Get(FactorPopulation) > 0
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The query is all nearest-neighbour probes, each an index scan ordered
	// by distance. Without statistics (right after a bulk load, before
	// autovacuum analyzes) the planner prefers the status index and a sort
	// of the whole layer per candidate: a 250 m grid over the demo county
	// went from 6 s to over 30 s. Sorts are therefore disabled (the only
	// one left is over the few hazard zones in the search disk). Every
	// candidate is distinct, so memoizing probes only costs; and the plan's
	// cost estimate triggers JIT compilation, which took 1.9 s of a 4.7 s
	// chunk (measured).
	if _, err := tx.Exec(ctx, rankSessionSettings); err != nil {
		return err
	}
	withVillage := req.Constraint(ConstraintVillage).Enabled
	rows, err := tx.Query(ctx, rankSQL["rank_measure"], geoms, withPop, req.Population.RadiusM, withVillage)
	if err != nil {
		return err
	}
	var (
		ord      int64
		area     *float64
		nb       [8]rankNearestScan
		pop, vil int64
	)
	dest := []any{&ord, &area}
	kinds := []struct {
		layer   string
		hasKind bool
	}{{"hazard_zones", true}, {"roads", false}, {"water_pipelines", false}, {"facilities", false},
		{"power_upgrades", true}, {"facilities", false}, {"facilities", true}, {"villages", false}}
	for i, k := range kinds {
		dest = append(dest, &nb[i].id, &nb[i].name)
		if k.hasKind {
			dest = append(dest, &nb[i].kind)
		}
		dest = append(dest, &nb[i].d)
	}
	dest = append(dest, &pop, &vil)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		if ord < 1 || int(ord) > len(out) {
			return fmt.Errorf("measure: row %d out of range", ord)
		}
		m := &out[ord-1]
		if area != nil {
			a := *area
			m.areaM2 = &a
		}
		ptrs := []**rankNearest{&m.hazard, &m.road, &m.pipeline, &m.source, &m.power, &m.school, &m.clinic, &m.village}
		for i, k := range kinds {
			*ptrs[i] = nb[i].get(k.layer)
		}
		if m.source != nil {
			m.source.Kind = "water_source"
		}
		if m.school != nil {
			m.school.Kind = "school"
		}
		m.population, m.villages = pop, vil
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type rankNearestScan struct {
	id   *int64
	name *string
	kind *string
	d    *float64
}

func (s rankNearestScan) get(layer string) *rankNearest {
	if s.id == nil || s.d == nil {
		return nil
	}
	n := &rankNearest{Layer: layer, ID: *s.id, DistanceM: *s.d}
	if s.name != nil {
		n.Name = *s.name
	}
	if s.kind != nil {
		n.Kind = *s.kind
	}
	return n
}

func rankRound(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}
