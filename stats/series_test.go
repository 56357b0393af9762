package stats

import (
	"testing"
	"time"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestProgressSeriesBounded: a road dated 0001-01-01 … 9999-12-31 (stored
// before dates were checked, or written in SQL) gives a yearly series over
// 1949 … next year, not 9 999 years of rows.
func TestProgressSeriesBounded(t *testing.T) {
	pool := pgtest.New(t)
	mustExec(t, pool, `INSERT INTO lastmile.roads (status, started_on, completed_on, geom)
		VALUES ('completed', '0001-01-01', '9999-12-31', ST_GeomFromText('LINESTRING(110 30, 110.1 30)', 4326))`)
	for _, q := range []string{"layer=roads&series=year", "layer=roads&series=year&as_of=9999-12-31"} {
		res := run(t, pool, Progress, q)
		last := time.Now().Year() + 1
		if n := last - 1949 + 1; len(res.Groups) != n {
			t.Fatalf("%s: %d rows, want %d (1949 … %d)", q, len(res.Groups), n, last)
		}
		first, end := res.Groups[0], res.Groups[len(res.Groups)-1]
		if first["year"] != int64(1949) || end["year"] != int64(last) || end["under_construction"] != int64(1) {
			t.Errorf("%s: first %v, last %v", q, first, end)
		}
	}
}
