package rank

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// queries holds the ranking queries, parsed once; they are constants after
// that (the only part filled in is the catalog's hardened-road predicate, so
// the definition lives in one place).
var queries = func() map[string]string {
	ts := pgsql.MustParseFS(sqlFiles, "sql/*.sql")
	slots := pgsql.Slots{"hardened": layer.Hardened.SQL("r")}
	m := map[string]string{}
	for _, name := range []string{"planned", "area", "grid", "measure"} {
		m[name] = ts.Fill(name+".sql", slots)
	}
	return m
}()

// Nearest is the nearest feature of one kind and its geodesic distance.
type Nearest struct {
	Layer     string  `json:"layer"`
	ID        int64   `json:"id"`
	Name      string  `json:"name,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	DistanceM float64 `json:"-"`
	// ByRoad: DistanceM runs along the road network (distance: network).
	ByRoad bool `json:"-"`
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
	village := req.Constraint(ConstraintVillage)
	rows, err := tx.Query(ctx, queries["measure"], geoms, withPop, req.Population.RadiusM, village.Enabled, searchRadii(req), village.Limit)
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

// searchRadii are the radii measure.sql searches each kind within
// (hazard, road, water, power, school, clinic), in metres: the largest of
// the kind's constraint limit (when on) and its factor's d_max_m (when its
// weight is above 0); 0 when neither uses the kind. Nothing beyond them
// changes a verdict or a score: a constraint fails the same without a road
// as with one beyond max_m, and a factor normalises to 0 at d_max_m.
func searchRadii(req Request) []float64 {
	radius := func(constraint, factor string) float64 {
		r := 0.0
		if c := req.Constraint(constraint); constraint != "" && c.Enabled {
			r = c.Limit
		}
		if factor != "" && req.Weights.Get(factor) > 0 {
			r = max(r, req.DMax.Get(factor))
		}
		return r
	}
	return []float64{
		radius(ConstraintHazard, ""),
		radius(ConstraintRoad, FactorRoad),
		radius(ConstraintWater, FactorWater),
		radius(ConstraintPower, FactorPower),
		radius("", FactorSchool),
		radius("", FactorClinic),
	}
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
