package tiles

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tile queries waiting for a database connection together are run as one
// statement when they differ only in x and y: for a small tile most of the
// database's time is the statement's own (its round trip, snapshot,
// executor start and end), not the tile's (the OSM extract's z14 tiles,
// 1.3 KB: 6 300 tiles/s a statement each, 10 800/s sixteen at a time, from
// four connections). A request that finds a free connection runs at once,
// alone, as before; only requests that would have queued behind busy
// connections are batched, behind the first of them. Tiles whose
// statements take long gain nothing from it and are not batched
// (batchBudget).

const (
	// maxBatch bounds the tiles of one statement.
	maxBatch = 32
	// batchBudget bounds a batch's expected time in the database: a
	// group's tiles are batched at most budget / (its mean time per tile)
	// at a time, and not at all from half the budget per tile.
	batchBudget = 20 * time.Millisecond
)

// tileGroup is the tile queries of one statement text (one layer set,
// zoom and filters), x and y apart.
type tileGroup struct {
	batchSQL string // the statement for several tiles: tile_xy.x and .y for $2 and $3
	mu       sync.Mutex
	forming  *tileBatch   // waiting for a connection; others may join it
	perTile  atomic.Int64 // mean time per tile in the database, ns (moving average); 0: none measured yet
}

// tileBatch is tiles run in one statement.
type tileBatch struct {
	x, y []int
	done chan struct{}
	mvts [][]byte
	err  error
}

var (
	paramX = regexp.MustCompile(`\$2\b`)
	paramY = regexp.MustCompile(`\$3\b`)
)

func newTileGroup(sql string) *tileGroup {
	// lastmile.tile_batch (migration 0102) is unnest(xs, ys) WITH
	// ORDINALITY behind a fixed row estimate, so that the statement's
	// generic plan costs what its custom plans do and is kept: replanning
	// the statement at every run cost more than batching saved.
	inner := paramY.ReplaceAllString(paramX.ReplaceAllString(sql, "tile_xy.x"), "tile_xy.y")
	return &tileGroup{batchSQL: `SELECT tile_xy.i, (` + inner + `) FROM lastmile.tile_batch($2::int[], $3::int[]) tile_xy`}
}

// limit is how many of the group's tiles one statement may take.
func (g *tileGroup) limit() int {
	per := time.Duration(g.perTile.Load())
	if per <= 0 || per > batchBudget/2 {
		return 1
	}
	return min(maxBatch, int(batchBudget/per))
}

// measured adds a statement's time for n tiles to the moving average.
func (g *tileGroup) measured(d time.Duration, n int) {
	per := int64(d) / int64(n)
	if old := g.perTile.Load(); old > 0 {
		per = (7*old + per) / 8
	}
	g.perTile.Store(per)
}

// runGrouped runs q, a query of group g, batched with the group's other
// tiles waiting for a connection when the group's tiles are quick.
func (s *Service) runGrouped(ctx context.Context, g *tileGroup, q query) ([]byte, error) {
	limit := g.limit()
	if limit == 1 { // not timed yet, or heavy tiles
		return s.runOne(ctx, g, q)
	}
	x, y := q.args[1].(int), q.args[2].(int)
	g.mu.Lock()
	if b := g.forming; b != nil && len(b.x) < limit {
		i := len(b.x)
		b.x, b.y = append(b.x, x), append(b.y, y)
		g.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if b.err != nil {
			if ctx.Err() == nil {
				return s.runOne(ctx, g, q) // the batch failed: this tile alone
			}
			return nil, b.err
		}
		return b.mvts[i], nil
	}
	b := &tileBatch{x: []int{x}, y: []int{y}, done: make(chan struct{})}
	g.forming = b
	g.mu.Unlock()

	conn, err := s.pool.Acquire(ctx) // meanwhile other tiles of the group join b
	g.mu.Lock()
	if g.forming == b {
		g.forming = nil
	}
	g.mu.Unlock()
	if err == nil {
		start := time.Now()
		if len(b.x) == 1 {
			var mvt []byte
			if mvt, b.err = oneTile(ctx, conn, q); b.err == nil {
				b.mvts = [][]byte{mvt}
			}
		} else {
			if b.mvts, b.err = runBatch(ctx, conn, g, q, b); b.err == nil {
				s.batched.Add(uint64(len(b.x)))
			}
		}
		conn.Release()
		if b.err == nil {
			g.measured(time.Since(start), len(b.x))
		}
	} else {
		b.err = err
	}
	close(b.done)
	if b.err != nil {
		if len(b.x) > 1 && ctx.Err() == nil {
			return s.runOne(ctx, g, q) // the batch failed: this tile alone
		}
		return nil, b.err
	}
	return b.mvts[0], nil
}

// runOne runs q alone and adds its time to g's, from when it has a
// connection (the wait for one is not the tile's cost: counted, it would
// keep a busy server's groups from ever being batched).
func (s *Service) runOne(ctx context.Context, g *tileGroup, q query) ([]byte, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	start := time.Now()
	mvt, err := oneTile(ctx, conn, q)
	if err == nil {
		g.measured(time.Since(start), 1)
	}
	return mvt, err
}

// oneTile runs q's statement on db (the pool or a connection of it).
func oneTile(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, q query) ([]byte, error) {
	var mvt []byte
	if err := db.QueryRow(ctx, q.sql, q.args...).Scan(&mvt); err != nil {
		return nil, err
	}
	return mvt, nil
}

// runBatch runs b's tiles in one statement and returns their MVTs in b's
// order.
func runBatch(ctx context.Context, conn *pgxpool.Conn, g *tileGroup, q query, b *tileBatch) ([][]byte, error) {
	args := slices.Clone(q.args)
	args[1], args[2] = b.x, b.y
	rows, err := conn.Query(ctx, g.batchSQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mvts := make([][]byte, len(b.x))
	for rows.Next() {
		var i int
		var mvt []byte
		if err := rows.Scan(&i, &mvt); err != nil {
			return nil, err
		}
		mvts[i-1] = mvt
	}
	return mvts, rows.Err()
}
