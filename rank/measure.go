package rank

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// hardenedMarker is replaced in measure.sql by the catalog's
// hardened-road predicate, so the definition lives in one place.
const hardenedMarker = "/*layer.Hardened(r)*/ true"

// queries holds the ranking queries, read once; they are constants after
// that (the only substitution is the catalog's hardened-road predicate).
var queries = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"planned", "area", "grid", "measure"} {
		b, err := sqlFiles.ReadFile("sql/" + name + ".sql")
		if err != nil {
			panic(err)
		}
		m[name] = string(b)
	}
	if !strings.Contains(m["measure"], hardenedMarker) {
		panic("rank: measure.sql lacks the hardened-road marker")
	}
	m["measure"] = strings.ReplaceAll(m["measure"], hardenedMarker, layer.Hardened.SQL("r"))
	return m
}()

// candidate is one site to rank.
type candidate struct {
	id   string
	name string
	geom orb.Geometry
	wkb  []byte
	grid *GridCell // set for grid candidates
}

type GridCell struct {
	I int `json:"i"`
	J int `json:"j"`
}

func newCandidate(id, name string, g orb.Geometry, b []byte) candidate {
	if b == nil {
		b, _ = wkb.Marshal(g)
	}
	return candidate{id: id, name: name, geom: g, wkb: b}
}

// Nearest is the nearest feature of one kind and its geodesic distance.
type Nearest struct {
	Layer     string  `json:"layer"`
	ID        int64   `json:"id"`
	Name      string  `json:"name,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	DistanceM float64 `json:"-"`
}

// measures are a candidate's raw values from PostGIS.
type measures struct {
	areaM2                                                         *float64
	hazard, road, pipeline, source, power, school, clinic, village *Nearest
	population, villages                                           int64
}

// water is the nearer of the pipeline and the water source.
func (m measures) water() *Nearest {
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
func Run(ctx context.Context, pool *pgxpool.Pool, req Request) (res *Result, err error) {
	defer lastmile.Wrap(&err, "rank.Run(%s)", req.Candidates.Source)
	start := time.Now()
	cands, estimated, err := loadCandidates(ctx, pool, req)
	if err != nil {
		return nil, err
	}
	loaded := time.Since(start)
	ms, err := measure(ctx, pool, req, cands)
	if err != nil {
		return nil, err
	}
	res = evaluate(req, cands, ms)
	res.Summary.CellsEstimated = estimated
	res.Summary.CandidatesMS = round(loaded.Seconds()*1000, 1)
	res.Summary.ElapsedMS = round(time.Since(start).Seconds()*1000, 1)
	return res, nil
}

// loadCandidates returns the request's candidates; for a grid, also the
// estimated cell count (checked against MaxCells before generating).
func loadCandidates(ctx context.Context, pool *pgxpool.Pool, req Request) ([]candidate, int, error) {
	c := req.Candidates
	switch c.Source {
	case SourceFeatures:
		return c.features, 0, nil
	case SourcePlanned:
		rows, err := pool.Query(ctx, queries["planned"], MaxCells+1)
		if err != nil {
			return nil, 0, err
		}
		var out []candidate
		var id int64
		var name string
		var b []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &name, &b}, func() error {
			g, err := wkb.Unmarshal(b)
			if err != nil {
				return fmt.Errorf("relocation site %d: %w", id, err)
			}
			out = append(out, newCandidate(strconv.FormatInt(id, 10), name, g, append([]byte(nil), b...)))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if len(out) > MaxCells {
			return nil, 0, lastmile.Invalid("too many candidates", lastmile.Problem{Field: "candidates.source",
				Message: fmt.Sprintf("more than %d planned relocation sites; rank them as features in batches", MaxCells)})
		}
		return out, 0, nil
	case SourceGrid:
		return loadGrid(ctx, pool, c)
	}
	return nil, 0, lastmile.Invalid("unknown candidate source", lastmile.Problem{Field: "candidates.source", Value: c.Source, Message: "expected features, planned or grid"})
}

func loadGrid(ctx context.Context, pool *pgxpool.Pool, c Candidates) ([]candidate, int, error) {
	var areaM2, lon, lat float64
	var code any
	var box [4]any
	if c.AdminCode != "" {
		err := pool.QueryRow(ctx, queries["area"], c.AdminCode).Scan(&areaM2, &lon, &lat)
		if err == pgx.ErrNoRows {
			return nil, 0, lastmile.Invalid("unknown admin area", lastmile.Problem{Field: "candidates.admin_code", Value: c.AdminCode, Message: "no admin area has this code"})
		}
		if err != nil {
			return nil, 0, err
		}
		code = c.AdminCode
	} else {
		areaM2 = bboxAreaM2(c.BBox)
		lon, lat = (c.BBox[0]+c.BBox[2])/2, (c.BBox[1]+c.BBox[3])/2
		for i := range box {
			box[i] = c.BBox[i]
		}
	}
	est := estimateCells(areaM2, c.CellM)
	if est > MaxCells {
		return nil, int(est), lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Value: fmt.Sprint(c.CellM),
			Message: fmt.Sprintf("a %g m grid over this area (%.1f km²) would have about %.0f cells, more than the limit of %d; use a larger cell_m or a smaller area", c.CellM, areaM2/1e6, est, MaxCells)})
	}
	rows, err := pool.Query(ctx, queries["grid"], code, box[0], box[1], box[2], box[3], c.CellM, utmSRID(lon, lat))
	if err != nil {
		return nil, 0, err
	}
	var out []candidate
	var i, j int
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&i, &j, &b}, func() error {
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return err
		}
		cand := newCandidate(strconv.Itoa(len(out)+1), "", g, append([]byte(nil), b...))
		cand.grid = &GridCell{I: i, J: j}
		out = append(out, cand)
		if len(out) > MaxCells {
			return lastmile.Invalid("grid too large", lastmile.Problem{Field: "candidates.cell_m", Message: fmt.Sprintf("the grid has more than %d cells", MaxCells)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, int(est), nil
}

// utmSRID is the EPSG code of the WGS84 UTM zone containing lon/lat.
func utmSRID(lon, lat float64) int {
	zone := int(math.Floor((lon+180)/6)) + 1
	zone = max(1, min(60, zone))
	if lat < 0 {
		return 32700 + zone
	}
	return 32600 + zone
}

// measure runs measure.sql over the candidates, in chunks on several
// connections at once (each chunk is one query whose nearest-neighbour
// probes are index scans; PostgreSQL runs a query on one core).
func measure(ctx context.Context, pool *pgxpool.Pool, req Request, cands []candidate) ([]measures, error) {
	workers := max(1, min(runtime.GOMAXPROCS(0), int(pool.Config().MaxConns)/2, len(cands)/minChunk))
	return measureChunks(ctx, pool, req, cands, workers)
}

// measureChunks measures cands in workers chunks at once.
func measureChunks(ctx context.Context, pool *pgxpool.Pool, req Request, cands []candidate, workers int) ([]measures, error) {
	out := make([]measures, len(cands))
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
			err := measureChunk(ctx, pool, req, cands[lo:hi], out[lo:hi])
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

// sessionSettings are set for each measuring transaction (see
// measureChunk).
const sessionSettings = `SET LOCAL enable_sort = off; SET LOCAL enable_memoize = off; SET LOCAL jit = off`

// minChunk is the fewest candidates worth a connection of their own.
const minChunk = 2000

func measureChunk(ctx context.Context, pool *pgxpool.Pool, req Request, cands []candidate, out []measures) error {
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
	if _, err := tx.Exec(ctx, sessionSettings); err != nil {
		return err
	}
	withVillage := req.Constraint(ConstraintVillage).Enabled
	rows, err := tx.Query(ctx, queries["measure"], geoms, withPop, req.Population.RadiusM, withVillage)
	if err != nil {
		return err
	}
	var (
		ord      int64
		area     *float64
		nb       [8]nearestScan
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
		ptrs := []**Nearest{&m.hazard, &m.road, &m.pipeline, &m.source, &m.power, &m.school, &m.clinic, &m.village}
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

type nearestScan struct {
	id   *int64
	name *string
	kind *string
	d    *float64
}

func (s nearestScan) get(layer string) *Nearest {
	if s.id == nil || s.d == nil {
		return nil
	}
	n := &Nearest{Layer: layer, ID: *s.id, DistanceM: *s.d}
	if s.name != nil {
		n.Name = *s.name
	}
	if s.kind != nil {
		n.Kind = *s.kind
	}
	return n
}

func round(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(f*p) / p
}
