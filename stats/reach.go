package stats

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// NetworkSource is a kind of destination reached along the road network
// by NetworkDistances: roads (reached where the way joins one), a layer
// of points (facilities: each snapped onto the network) or of lines
// (water pipelines: reached at any of their points, taken every
// LineStepM metres along them).
type NetworkSource struct {
	Layer string // "roads", or a layer of points or lines
	// Where is an SQL predicate on the layer aliased s, written by the
	// caller from catalog constants (never from request text); completed
	// status is the caller's to require.
	Where string
	// RadiusM, when above 0, leaves out the sources farther than this in
	// a straight line from every point: a network distance is never
	// shorter, so nothing within RadiusM by road is lost, and a point
	// whose nearest source lies beyond gets +Inf.
	RadiusM float64
}

// LineStepM is the spacing of the points a line source is reached at.
const LineStepM = 100.0

// NetworkReach is a point's way to its nearest source of one kind.
type NetworkReach struct {
	DistanceM float64 // geodesic metres along the network; +Inf when unreachable (or beyond RadiusM)
	SnapM     float64 // the point's own snap leg onto the network
	Layer     string
	ID        int64 // the source reached (a road's id for roads)
	Name      string
	Kind      string // the source's kind, when its layer has one
}

// NetworkDistances measures, for each point (WKB, EPSG:4326; an area by
// its ST_PointOnSurface), the network distance to the nearest source of
// each kind: the point is snapped like a coverage target, sources like
// access-to-services places, and one multi-source search per kind runs
// over the completed roads (no cut-off). out[i][k] is point i's reach of
// sources[k]. It is network coverage for points that are not in a layer
// (the site ranking's candidates).
func NetworkDistances(ctx context.Context, pool *pgxpool.Pool, points [][]byte, sources []NetworkSource) (out [][]NetworkReach, err error) {
	defer lastmile.Wrap(&err, "stats.NetworkDistances")
	c := layer.Default()
	roads, _ := c.Layer("roads")
	out = make([][]NetworkReach, len(points))
	for i := range out {
		out[i] = make([]NetworkReach, len(sources))
		for k := range out[i] {
			out[i][k] = NetworkReach{DistanceM: math.Inf(1), SnapM: math.NaN(), Layer: sources[k].Layer}
		}
	}
	if len(points) == 0 || len(sources) == 0 {
		return out, nil
	}
	tx, err := networkTx(ctx, pool)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	g, err := loadGraph(ctx, tx, nil, false, "")
	if err != nil {
		return nil, err
	}
	// the points are snapped once per roads predicate (qual: whether the
	// edge snapped onto is on a qualifying road); place kinds take any
	// snap with qual off
	var snapped map[string][]networkSnap
	snapsFor := func(qual string) ([]networkSnap, error) {
		if snapped == nil {
			snapped = map[string][]networkSnap{}
			first := "false"
			for _, src := range sources {
				if src.Layer == "roads" {
					first = src.Where
					break
				}
			}
			sn, err := snapPoints(ctx, tx, roads, points, "("+first+")")
			if err != nil {
				return nil, err
			}
			snapped[first] = sn
		}
		if sn, ok := snapped[qual]; ok {
			return sn, nil
		}
		if qual == "false" {
			for _, sn := range snapped {
				plain := make([]networkSnap, len(sn))
				for i := range sn {
					plain[i] = sn[i]
					plain[i].qual = false
				}
				snapped[qual] = plain
				return plain, nil
			}
		}
		sn, err := snapPoints(ctx, tx, roads, points, "("+qual+")")
		snapped[qual] = sn
		return sn, err
	}
	for k, src := range sources {
		qual := "false"
		if src.Layer == "roads" {
			qual = src.Where
		}
		snaps, err := snapsFor(qual)
		if err != nil {
			return nil, err
		}
		var seeds []seed
		onEdge := map[int64][]placeOnEdge{}
		var ids []int64
		var names, kinds []string
		if src.Layer == "roads" {
			if seeds, ids, names, err = roadSeeds(ctx, tx, src.Where); err != nil {
				return nil, err
			}
			kinds = make([]string, len(ids))
		} else {
			var wkbs [][]byte
			if ids, names, kinds, wkbs, err = sourcePoints(ctx, tx, c, src, points); err != nil {
				return nil, err
			}
			ps, err := snapPoints(ctx, tx, roads, wkbs, "false")
			if err != nil {
				return nil, err
			}
			// as placeSeeds: each place seeds both ends of its edge
			for i, sn := range ps {
				if !sn.ok {
					continue
				}
				along := math.Max(0, math.Min(sn.along, sn.cost))
				o := int32(i)
				seeds = append(seeds,
					seed{v: sn.source, d: sn.dist + along, l: sn.dist + along, origin: o},
					seed{v: sn.target, d: sn.dist + sn.cost - along, l: sn.dist + sn.cost - along, origin: o})
				onEdge[sn.edge] = append(onEdge[sn.edge], placeOnEdge{along: along, cost: sn.dist, snap: sn.dist, origin: o})
			}
		}
		found, err := g.search(ctx, seeds)
		if err != nil {
			return nil, err
		}
		var direct map[int64]edgeRoad // for points snapped onto a qualifying road
		for i, sn := range snaps {
			if !sn.ok {
				continue
			}
			r := &out[i][k]
			r.SnapM = sn.dist
			d, _, origin := reach(found, sn, onEdge[sn.edge], 0, false)
			if math.IsInf(d, 1) || (src.RadiusM > 0 && d > src.RadiusM) {
				continue
			}
			r.DistanceM = d
			switch {
			case sn.qual:
				if direct == nil {
					if direct, err = edgeRoads(ctx, tx, snaps); err != nil {
						return nil, err
					}
				}
				r.ID, r.Name = direct[sn.edge].id, direct[sn.edge].name
			case origin >= 0 && int(origin) < len(ids):
				r.ID, r.Name, r.Kind = ids[origin], names[origin], kinds[origin]
			}
		}
	}
	return out, nil
}

// snapPoints snaps points (WKB) onto the traversable network now, as
// coverage snaps its targets; qual is the predicate (on roads s) of the
// roads a point snapped onto is already at.
func snapPoints(ctx context.Context, tx querier, roads *layer.Layer, points [][]byte, qual string) ([]networkSnap, error) {
	req := &coverageRequest{source: roads, method: "network", metric: "distance", speeds: layer.DefaultSpeeds()}
	req.targetSQL = "(SELECT u.ord AS id, NULL::text AS name, ST_GeomFromWKB(u.wkb, 4326) AS geom FROM unnest(" +
		req.args.Add(points) + "::bytea[]) WITH ORDINALITY AS u(wkb, ord))"
	req.sourceFilter = rowFilter{SQL: []string{qual}}
	rows, snaps, err := req.snapTargets(ctx, tx)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(points) {
		return nil, fmt.Errorf("snapping %d points gave %d rows", len(points), len(rows))
	}
	return snaps, nil
}

// roadSeeds returns the search starts of a roads source (every vertex of
// a completed road passing where, at 0) with the road each start is on.
func roadSeeds(ctx context.Context, tx querier, where string) ([]seed, []int64, []string, error) {
	rows, err := tx.Query(ctx, `SELECT e.source, e.target, e.road_id, coalesce(s.name, '') FROM lastmile.route_edges e
		JOIN lastmile.roads s ON s.id = e.road_id
		WHERE e.status = 'completed' AND (`+where+`) ORDER BY e.road_id, e.id`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("network starts: %w", err)
	}
	var seeds []seed
	var ids []int64
	var names []string
	var a, b, road int64
	var name string
	_, err = pgx.ForEachRow(rows, []any{&a, &b, &road, &name}, func() error {
		if len(ids) == 0 || ids[len(ids)-1] != road {
			ids, names = append(ids, road), append(names, name)
		}
		o := int32(len(ids) - 1)
		seeds = append(seeds, seed{v: a, origin: o}, seed{v: b, origin: o})
		return nil
	})
	return seeds, ids, names, err
}

// sourcePoints returns the points of a point or line source within its
// radius of some point: id, name and WKB of each (a line's points every
// LineStepM metres along it, all with the line's id).
func sourcePoints(ctx context.Context, tx querier, c *layer.Catalog, src NetworkSource, points [][]byte) ([]int64, []string, []string, [][]byte, error) {
	l, ok := c.Layer(src.Layer)
	if !ok {
		return nil, nil, nil, nil, fmt.Errorf("no layer %q", src.Layer)
	}
	name, kind := "NULL::text", "NULL::text"
	if layerHasField(l, "name") {
		name = "s.name"
	}
	if layerHasField(l, "kind") {
		kind = "s.kind::text"
	}
	pts := "s.geom"
	if !isPointLayer(l) {
		pts = fmt.Sprintf("(ST_DumpPoints(ST_Segmentize(s.geom::geography, %g)::geometry)).geom", LineStepM)
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT s.id, %s, %s, ST_AsBinary(%s) FROM %s s
		WHERE (%s) AND ($2::float8 <= 0 OR EXISTS (
			SELECT 1 FROM unnest($1::bytea[]) AS u(wkb)
			WHERE ST_DWithin(s.geom::geography, ST_GeomFromWKB(u.wkb, 4326)::geography, $2::float8)))
		ORDER BY s.id`, name, kind, pts, pgsql.Table(l), src.Where), points, src.RadiusM)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s sources: %w", src.Layer, err)
	}
	var ids []int64
	var names, kinds []string
	var wkbs [][]byte
	var id int64
	var nm, kd *string
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &nm, &kd, &b}, func() error {
		ids = append(ids, id)
		deref := func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		}
		names, kinds = append(names, deref(nm)), append(kinds, deref(kd))
		wkbs = append(wkbs, append([]byte(nil), b...))
		return nil
	})
	return ids, names, kinds, wkbs, err
}

type edgeRoad struct {
	id   int64
	name string
}

// edgeRoads maps the edges the points snapped onto to their roads.
func edgeRoads(ctx context.Context, tx querier, snaps []networkSnap) (map[int64]edgeRoad, error) {
	var edges []int64
	for _, sn := range snaps {
		if sn.ok {
			edges = append(edges, sn.edge)
		}
	}
	rows, err := tx.Query(ctx, `SELECT e.id, e.road_id, coalesce(r.name, '') FROM lastmile.route_edges e
		JOIN lastmile.roads r ON r.id = e.road_id WHERE e.id = ANY($1)`, edges)
	if err != nil {
		return nil, err
	}
	m := map[int64]edgeRoad{}
	var e, r int64
	var name string
	_, err = pgx.ForEachRow(rows, []any{&e, &r, &name}, func() error { m[e] = edgeRoad{r, name}; return nil })
	return m, err
}

func isPointLayer(l *layer.Layer) bool {
	for _, k := range l.GeomKinds {
		if k != layer.Point {
			return false
		}
	}
	return true
}
