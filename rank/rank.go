// Package rank ranks relocation-site candidates for /api/sites/rank and
// `lastmile rank`: hard constraints exclude candidates, a weighted sum of
// normalised geodesic distances (and a population benefit) scores the rest.
//
// A request (request.go, parsed in parse.go) names its candidates
// (candidates.go: given features, the planned relocation sites, or a grid);
// PostGIS measures them (measure.go, sql/*.sql); score.go applies the
// constraints and weights; result.go renders GeoJSON and CSV; handler.go
// serves HTTP.
package rank

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
)

// Run loads the candidates, measures them in PostGIS and scores them.
func Run(ctx context.Context, pool *pgxpool.Pool, req Request) (res *Result, err error) {
	defer lastmile.Wrap(&err, "rank.Run(%s)", req.Candidates.Source)
	start := time.Now()
	cands, estimated, err := loadCandidates(ctx, pool, req)
	if err != nil {
		return nil, err
	}
	if req.Candidates.Source == SourceFeatures {
		if err := validCandidates(ctx, pool, cands); err != nil {
			return nil, err
		}
	}
	loaded := time.Since(start)
	ms, err := measure(ctx, pool, req, cands)
	if err != nil {
		return nil, err
	}
	if req.anyByRoad() {
		if err := byRoad(ctx, pool, req, cands, ms); err != nil {
			return nil, err
		}
	}
	res = evaluate(req, cands, ms)
	res.Summary.CellsEstimated = estimated
	res.Summary.CandidatesMS = round(loaded.Seconds()*1000, 1)
	res.Summary.ElapsedMS = round(time.Since(start).Seconds()*1000, 1)
	return res, nil
}
