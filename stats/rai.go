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
const raiDefinition = "Rural Access Index (World Bank; SDG indicator 9.1.1): the share of the rural population living within 2 km (within_m) of an all-season road. Rural population: the population of the villages layer. All-season road: %s; only roads with status completed count (completed on or before as_of when given). Distance: geodesic on the WGS84 ellipsoid (PostGIS geography). rai = population_covered / population × 100, to 0.1."

// RAI answers GET /api/stats/rai: coverage of villages by all-season roads
// weighted by population.
func RAI(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (_ *Result, f Format, err error) {
	defer lastmile.Wrap(&err, "stats.RAI")
	var problems lastmile.Problems
	for _, fixed := range []string{"target", "source", "source_filter", "method"} {
		if v.Has(fixed) {
			problems.Add(fixed, v.Get(fixed), "is fixed by the Rural Access Index definition (villages, all-season roads, straight-line distance); use /api/stats/coverage for other questions")
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
	delete(req.echo, "method")
	res, err := req.result(ctx, pool)
	if err != nil {
		return nil, f, err
	}
	res.Definition = fmt.Sprintf(raiDefinition, layer.AllSeason.Description)
	res.Columns = []string{"code", "name", "population", "population_covered", "rai", "total", "covered"}
	for _, g := range append(res.Groups, res.Total) {
		g["rai"] = g["population_pct"]
	}
	return res, req.format, nil
}
