package rank

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/stats"
)

// byRoad replaces the straight-line measures of the kinds the request
// measures by road (distance: network) with their distances along the
// road network (stats.NetworkDistances): the candidate (a polygon by its
// ST_PointOnSurface) is snapped onto its nearest completed road, and the
// way runs over completed roads to the nearest completed hardened road,
// water pipeline (reached at a point every stats.LineStepM metres along
// it) or water source, school, clinic or hospital. Each kind is searched
// within the radius its straight measure uses (a way by road is never
// shorter than the straight line), and a kind with nothing within it by
// road is none.
func byRoad(ctx context.Context, pool *pgxpool.Pool, req Request, cands []candidate, ms []measures) error {
	radii := searchRadii(req) // hazard, road, water, power, school, clinic
	type kind struct {
		src  stats.NetworkSource
		set  func(m *measures, n *Nearest)
		name string
	}
	var kinds []kind
	add := func(factor string, radius float64, src stats.NetworkSource, set func(m *measures, n *Nearest)) {
		if req.ByRoad(factor) && radius > 0 {
			src.RadiusM = radius
			kinds = append(kinds, kind{src: src, set: set, name: factor})
		}
	}
	add(FactorRoad, radii[1], stats.NetworkSource{Layer: "roads", Where: "s.status = 'completed' AND " + layer.Hardened.SQL("s")},
		func(m *measures, n *Nearest) { m.road = n })
	add(FactorWater, radii[2], stats.NetworkSource{Layer: "water_pipelines", Where: "s.status = 'completed'"},
		func(m *measures, n *Nearest) { m.pipeline = n })
	add(FactorWater, radii[2], stats.NetworkSource{Layer: "facilities", Where: "s.status = 'completed' AND s.kind = 'water_source'"},
		func(m *measures, n *Nearest) {
			if n != nil {
				n.Kind = "water_source"
			}
			m.source = n
		})
	add(FactorSchool, radii[4], stats.NetworkSource{Layer: "facilities", Where: "s.status = 'completed' AND s.kind = 'school'"},
		func(m *measures, n *Nearest) { m.school = n })
	add(FactorClinic, radii[5], stats.NetworkSource{Layer: "facilities", Where: "s.status = 'completed' AND s.kind IN ('clinic', 'hospital')"},
		func(m *measures, n *Nearest) { m.clinic = n })
	if len(kinds) == 0 {
		return nil
	}
	points := make([][]byte, len(cands))
	for i, c := range cands {
		points[i] = c.wkb
	}
	srcs := make([]stats.NetworkSource, len(kinds))
	for k, kd := range kinds {
		srcs[k] = kd.src
	}
	reach, err := stats.NetworkDistances(ctx, pool, points, srcs)
	if err != nil {
		return err
	}
	for i := range ms {
		for k, kd := range kinds {
			r := reach[i][k]
			var n *Nearest
			if !math.IsInf(r.DistanceM, 1) {
				n = &Nearest{Layer: r.Layer, ID: r.ID, Name: r.Name, Kind: r.Kind, DistanceM: r.DistanceM, ByRoad: true}
				if kd.name == FactorSchool {
					n.Kind = "school"
				}
			}
			kd.set(&ms[i], n)
		}
	}
	return nil
}
