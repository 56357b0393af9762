package rank

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CandidateCost is the measured CPU time of ranking one candidate near
// data: 0.28–0.39 ms a cell for a 250 m grid over the demo county (14 573
// cells, 4.1–5.7 CPU-s of PostgreSQL and lastmile; bench/hardening.sh). A
// candidate far from every feature costs 0.05–0.2 ms (its bounded searches
// find nothing; unbounded it was 8 ms), so candidates × CandidateCost
// bounds a request's cost from above.
const CandidateCost = 400 * time.Microsecond

// NetworkCandidateCost is the extra cost of a candidate measured by road
// (distance: network): its snap onto the network, about 2.5 ms under load
// (the network coverage's measure of a village's snap, docs/statistics.md).
const NetworkCandidateCost = 2500 * time.Microsecond

// Estimate is the estimated database time of req: its number of
// candidates (a grid's from its area, before any cell is made) times
// CandidateCost.
func Estimate(ctx context.Context, pool *pgxpool.Pool, req Request) (time.Duration, int, error) {
	c := req.Candidates
	n := 0.0
	switch c.Source {
	case SourceFeatures:
		n = float64(len(c.features))
	case SourcePlanned:
		var k int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM relocation_sites WHERE status = 'planned'`).Scan(&k); err != nil {
			return 0, 0, err
		}
		n = float64(k)
	case SourceGrid:
		area := 0.0
		if c.AdminCode != "" {
			var lon, lat float64
			err := pool.QueryRow(ctx, queries["area"], c.AdminCode).Scan(&area, &lon, &lat)
			if err != nil && err != pgx.ErrNoRows {
				return 0, 0, err
			}
		} else {
			area = bboxAreaM2(c.BBox)
		}
		n = estimateCells(area, c.CellM)
	}
	cost := time.Duration(n * float64(CandidateCost))
	if req.anyByRoad() { // the graph, and each candidate's snap onto it
		cost += NetworkCandidateCost*time.Duration(n) + 100*time.Millisecond
	}
	return cost, int(n), nil
}
