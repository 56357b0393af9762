package stats

import (
	"context"
	"fmt"
	"net/url"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// maxComponentRows bounds the components listed (largest first); the
// total counts them all.
const maxComponentRows = 1000

// components labels every vertex of g with at least one edge by its
// connected component (0 for vertices without edges) and returns the
// number of components. Breadth-first over the CSR arrays.
func (g *graph) components() ([]int32, int) {
	n := g.vertices()
	label := make([]int32, n)
	var queue []int32
	c := int32(0)
	for v := 0; v < n; v++ {
		if label[v] != 0 || g.off[v] == g.off[v+1] {
			continue
		}
		c++
		label[v] = c
		queue = append(queue[:0], int32(v))
		for len(queue) > 0 {
			u := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			for i := g.off[u]; i < g.off[u+1]; i++ {
				if w := g.adj[i]; label[w] == 0 {
					label[w] = c
					queue = append(queue, w)
				}
			}
		}
	}
	return label, int(c)
}

// NetworkReport answers /api/stats/network: the quality of the routing
// graph for the bureaus who own the road data. Its groups are the
// connected components of the traversable graph (completed roads, by
// as_of), largest first: edges, km, the villages snapped onto each, and
// whether it holds a qualifying road (source_filter, default any completed
// road). The total counts components, km, dangling ends (graph vertices
// with one edge lying within gap_m metres, default 5, of another road:
// likely digitising gaps) and unconnected villages (whose nearest road
// is in a component without a qualifying road). list=dangling or
// list=unconnected lists those (the CSV then holds the list).
func NetworkReport(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.NetworkReport")
	q := newStatsQuery(v)
	gap := q.float("gap_m", 5, 0, 100)
	list := q.enum("list", "", "dangling", "unconnected")
	// the rest is a network coverage question's: source, targets, as_of
	cv := url.Values{"method": {"network"}, "group_by": {"none"}}
	for _, k := range []string{"source_filter", "target_filter", "as_of", "target", "format", "bom"} {
		if vs, ok := v[k]; ok {
			cv[k] = vs
			q.known[k] = true
		}
	}
	if err := q.finish(); err != nil {
		return nil, f, err
	}
	req, err := parseCoverage(c, cv, nil)
	if err != nil {
		return nil, f, err
	}
	f = req.format
	f.List = list != "" && f.CSV
	for k, val := range req.echo {
		if k != "method" && k != "group_by" {
			q.echo[k] = val
		}
	}
	tx, err := networkTx(ctx, pool)
	if err != nil {
		return nil, f, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	// the packed graph and the kept snaps when current (netcache.go), else
	// the edges as rows and the villages snapped now
	current, err := snapsCurrent(ctx, tx)
	if err != nil {
		return nil, f, err
	}
	current = current && usePack
	var pack *packedEdges
	if current {
		if pack, err = loadPack(ctx, tx); err != nil {
			return nil, f, err
		}
	}
	var g *graph
	if pack != nil {
		g = pack.graph(req.asOf, nil)
	} else if g, err = loadGraph(ctx, tx, req.asOf, false, ""); err != nil {
		return nil, f, err
	}
	label, count := g.components()
	type comp struct {
		id         int32
		arcs       int
		metres     float64
		villages   int
		qualifying bool
		vertex     int32
		lon, lat   float64
	}
	comps := make([]comp, count+1)
	for vtx := 0; vtx < g.vertices(); vtx++ {
		l := label[vtx]
		if l == 0 {
			continue
		}
		cp := &comps[l]
		if cp.id == 0 {
			cp.id, cp.vertex = l, int32(vtx)
		}
		for i := g.off[vtx]; i < g.off[vtx+1]; i++ {
			cp.arcs++
			cp.metres += g.cost[i]
		}
	}
	var starts []int64
	var qual []bool
	if pack != nil {
		if qual, err = req.qualifying(ctx, tx); err != nil {
			return nil, f, err
		}
		starts = pack.starts(qual)
	} else if starts, err = req.starts(ctx, tx); err != nil {
		return nil, f, err
	}
	for _, s := range starts {
		if s >= 0 && s < int64(len(label)) && label[s] != 0 {
			comps[label[s]].qualifying = true
		}
	}
	var targets []targetRow
	var snaps []networkSnap
	if pack != nil && req.asOf == nil && req.target.Table == "villages" {
		targets, snaps, err = req.packedTargets(ctx, tx, qual, nil, true)
	} else {
		targets, snaps, err = req.snapTargets(ctx, tx)
	}
	if err != nil {
		return nil, f, err
	}
	var unconnected []Row
	for i, t := range targets {
		if !snaps[i].ok {
			continue
		}
		l := label[snaps[i].source]
		comps[l].villages++
		if !comps[l].qualifying {
			unconnected = append(unconnected, Row{"id": t.ID, "name": derefStr(t.Name), "code": derefStr(t.Code),
				"lon": t.Lon, "lat": t.Lat, "snap_m": roundTo2(snaps[i].dist), "component_edges": int64(comps[l].arcs / 2)})
		}
	}
	// dangling ends: vertices with one edge, near another road
	var ends []int64
	for vtx := 0; vtx < g.vertices(); vtx++ {
		if g.off[vtx+1]-g.off[vtx] == 1 {
			ends = append(ends, int64(vtx))
		}
	}
	asOfArg := any(nil)
	if req.asOf != nil {
		asOfArg = *req.asOf
	}
	rows, err := tx.Query(ctx, statsSQL.Fill("network_dangling.sql", nil), ends, gap, asOfArg)
	if err != nil {
		return nil, f, err
	}
	var dangling []Row
	for rows.Next() {
		var id, road, near int64
		var lon, lat, d float64
		if err := rows.Scan(&id, &lon, &lat, &road, &near, &d); err != nil {
			rows.Close()
			return nil, f, err
		}
		dangling = append(dangling, Row{"vertex": id, "lon": lon, "lat": lat, "road_id": road, "near_road_id": near,
			"gap_m": roundTo2(d), "component_edges": int64(comps[label[id]].arcs / 2)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, f, err
	}
	// representative positions of the listed components
	sort.Slice(comps, func(i, j int) bool {
		if comps[i].metres != comps[j].metres {
			return comps[i].metres > comps[j].metres
		}
		return comps[i].id < comps[j].id
	})
	comps = comps[:count]
	shown := comps[:min(len(comps), maxComponentRows)]
	var reps []int64
	for _, cp := range shown {
		reps = append(reps, int64(cp.vertex))
	}
	pos := map[int64][2]float64{}
	prow, err := tx.Query(ctx, `SELECT id, x, y FROM lastmile.route_vertices WHERE id = ANY($1)`, reps)
	if err != nil {
		return nil, f, err
	}
	for prow.Next() {
		var id int64
		var x, y float64
		if err := prow.Scan(&id, &x, &y); err != nil {
			prow.Close()
			return nil, f, err
		}
		pos[id] = [2]float64{x, y}
	}
	prow.Close()
	if err := prow.Err(); err != nil {
		return nil, f, err
	}
	var state struct {
		tolerance float64
		joins     int64
	}
	if err := tx.QueryRow(ctx, `SELECT node_tolerance_m, tolerance_joins FROM lastmile.route_graph_state`).Scan(&state.tolerance, &state.joins); err != nil {
		return nil, f, err
	}

	res := &Result{Parameters: q.echo}
	res.Parameters["gap_m"] = gap
	if list != "" {
		res.Parameters["list"] = list
	}
	res.Definition = fmt.Sprintf("Connected components of the routing graph of completed roads%s (roads noded at every shared vertex compared at 1e-7°; node tolerance %g m, %d dangling ends joined by it), largest first (at most %d listed): edges, km (geodesic), %s snapped onto it (nearest completed road), and whether it holds a qualifying road (%s). Dangling ends: graph vertices with a single edge within %g m (geodesic) of another road. Unconnected: %s whose nearest road lies in a component without a qualifying road.",
		asOfWords(req), state.tolerance, state.joins, maxComponentRows, req.target.Name, sourceWords(req), gap, req.target.Name)
	res.Columns = []string{"component", "edges", "km", "villages", "qualifying", "lon", "lat"}
	res.Groups = []Row{}
	var km float64
	var edges int64
	for i, cp := range comps {
		km += cp.metres / 2000
		edges += int64(cp.arcs / 2)
		if i >= len(shown) {
			continue
		}
		p := pos[int64(cp.vertex)]
		res.Groups = append(res.Groups, Row{"component": int64(i + 1), "edges": int64(cp.arcs / 2), "km": roundTo2(cp.metres / 2000),
			"villages": int64(cp.villages), "qualifying": cp.qualifying, "lon": p[0], "lat": p[1]})
	}
	var largest float64
	if len(comps) > 0 {
		largest = comps[0].metres / 2000
	}
	res.Total = Row{"component": "total", "components": int64(count), "edges": edges, "km": roundTo2(km),
		"largest_km": roundTo2(largest), "largest_pct": percent(largest, km), "villages": int64(len(targets)),
		"dangling_ends": int64(len(dangling)), "unconnected_villages": int64(len(unconnected)),
		"node_tolerance_m": state.tolerance, "tolerance_joins": state.joins}
	switch list {
	case "dangling":
		res.UncoveredColumns = []string{"vertex", "lon", "lat", "road_id", "near_road_id", "gap_m", "component_edges"}
		res.Uncovered = append([]Row{}, dangling...)
	case "unconnected":
		res.UncoveredColumns = []string{"id", "name", "code", "lon", "lat", "snap_m", "component_edges"}
		res.Uncovered = append([]Row{}, unconnected...)
	}
	return res, f, nil
}

func asOfWords(req *coverageRequest) string {
	if req.asOf == nil {
		return ""
	}
	return " completed on or before " + req.asOf.Format("2006-01-02")
}

func sourceWords(req *coverageRequest) string {
	if len(req.sourceSpec) == 0 {
		return "any completed road"
	}
	return fmt.Sprint(req.sourceSpec)
}
