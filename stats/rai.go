package stats

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// raiDefinition states the Rural Access Index as computed here.
const raiDefinition = "Rural Access Index (World Bank; SDG indicator 9.1.1): the share of the rural population living within 2 km (within_m) of an all-season road. Rural population: the population of the villages layer. All-season road: %s; only roads with status completed count (completed on or before as_of when given). Distance: %s. rai = population_covered / population × 100, to 0.1."

// raiDistance states how the RAI's distance is measured, by method.
var raiDistance = map[string]string{
	"straight": "geodesic on the WGS84 ellipsoid (PostGIS geography), in a straight line",
	"network":  "along the road network (method=network): the geodesic snap from the village to the geodesic-nearest point of its nearest completed road, plus the shortest way over completed roads to an all-season road (roads noded at every shared vertex; geodesic edge lengths) — the World Bank's 2 km walk, which cannot cross where no road joins",
}

// RAI answers GET /api/stats/rai: coverage of villages by all-season roads
// weighted by population.
func RAI(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.RAI")
	var problems lastmile.Problems
	for _, fixed := range []string{"target", "source", "source_filter", "metric", "within_min", "speeds"} {
		if v.Has(fixed) {
			problems.Add(fixed, v.Get(fixed), "is fixed by the Rural Access Index definition (villages, all-season roads, a distance; method may be straight or network); use /api/stats/coverage for other questions")
		}
	}
	if err := problems.Err("the statistics request has invalid parameters"); err != nil {
		return nil, f, err
	}
	req, err := parseCoverage(c, v, map[string]string{
		"target": "villages", "source": "roads", "source_filter": layer.AllSeason.Name, "within_m": "2000",
	})
	if err != nil {
		return nil, f, err
	}
	delete(req.echo, "target")
	delete(req.echo, "source")
	delete(req.echo, "source_filter")
	req.echo["method"] = req.method
	delete(req.echo, "metric")
	res, err := req.result(ctx, pool)
	if err != nil {
		return nil, f, err
	}
	res.Definition = fmt.Sprintf(raiDefinition, layer.AllSeason.Description, raiDistance[req.method])
	res.Columns = []string{"code", "name", "population", "population_covered", "rai", "total", "covered"}
	for _, g := range append(res.Groups, res.Total) {
		g["rai"] = g["population_pct"]
	}
	return res, req.format, nil
}
