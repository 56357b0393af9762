package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// endpoints lists every read endpoint with the parameters it parses; the
// injection tests put hostile values in each parameter and path segment.
var endpoints = []struct {
	path   string
	params []string
}{
	{"/ogc/collections/{x}/items", []string{"status", "surface", "bbox", "bbox-crs", "limit", "offset", "datetime", "name", "width_m"}},
	{"/ogc/collections/roads/items/{x}", nil},
	{"/ogc/collections/roads/items/1/history", nil},
	{"/tiles/{x}/10/844/397.mvt", []string{"status", "surface", "completed_before", "completed_after", "width_m_min", "road_class"}},
	{"/tiles/{x}.json", []string{"status"}},
	{"/api/stats/coverage", []string{"target", "source", "within_m", "source_filter", "target_filter", "group_by", "as_of", "list", "method", "format"}},
	{"/api/stats/rai", []string{"within_m", "group_by", "as_of", "format"}},
	{"/api/stats/lengths", []string{"layer", "group_by", "status", "format"}},
	{"/api/stats/progress", []string{"layer", "group_by", "as_of", "series", "format"}},
	{"/api/sites/rank", []string{"candidates", "admin_code", "cell_m", "bbox", "limit", "weights.road", "format"}},
}

// injectionTarget starts lastmile serving a loaded demo county on a fresh
// database, and returns its URL and a checksum of the database's state.
func injectionTarget(tb testing.TB) (string, func(testing.TB) string) {
	dbURL := pgtest.URL(tb)
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := postgis.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		tb.Fatal(err)
	}
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--database-url", dbURL}, out) }()
	tb.Cleanup(func() { cancel(); <-done; pool.Close() })
	base := waitServing(tb, out, done)
	checksum := func(tb testing.TB) string {
		var s string
		err := pool.QueryRow(context.Background(), `SELECT md5(string_agg(n::text, ',')) FROM (
			SELECT count(*) AS n FROM lastmile.roads UNION ALL SELECT count(*) FROM lastmile.villages
			UNION ALL SELECT count(*) FROM lastmile.feature_history UNION ALL SELECT count(*) FROM lastmile.api_tokens
			UNION ALL SELECT sum(version) FROM lastmile.roads UNION ALL SELECT count(*) FROM pg_tables WHERE schemaname = 'lastmile') c`).Scan(&s)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	return base, checksum
}

// probe sends value in every parameter and path segment of every endpoint
// and fails on any 5xx.
func probe(t testing.TB, base, value string) {
	for _, ep := range endpoints {
		paths := []string{strings.ReplaceAll(ep.path, "{x}", url.PathEscape(value))}
		for _, p := range ep.params {
			paths = append(paths, strings.ReplaceAll(ep.path, "{x}", "roads")+"?"+url.Values{p: {value}}.Encode())
		}
		for _, p := range paths {
			resp, err := http.Get(base + p)
			if err != nil {
				t.Fatalf("GET %s: %v", p, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("GET %s: %d %s", p, resp.StatusCode, b)
			}
		}
	}
}

var hostile = []string{
	`' OR 1=1 --`, `'; DROP TABLE lastmile.roads; --`, `roads; DELETE FROM lastmile.villages`,
	`1); TRUNCATE lastmile.feature_history; --`, `$1`, `"`, `\`, `%`, `_`, `'')`, `1e309`, `-1`, `NaN`,
	`2015-01-01' OR '1'='1`, `cement,asphalt' --`, `status:completed;1=1`, `ST_Buffer(geom, 1e9)`,
	"\x00", "中文", strings.Repeat("a", 5000), `117,37,118,38' UNION SELECT * FROM lastmile.api_tokens --`,
}

func TestSQLMetacharactersChangeNothing(t *testing.T) {
	base, checksum := injectionTarget(t)
	before := checksum(t)
	for _, v := range hostile {
		probe(t, base, v)
	}
	if after := checksum(t); after != before {
		t.Fatalf("the database changed: %s → %s", before, after)
	}
}

// FuzzParameters (make fuzz) sends random values to every parameter of every
// read endpoint of a live server on PostGIS: no 5xx, no change to the database.
func FuzzParameters(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	base, checksum := injectionTarget(f)
	f.Fuzz(func(t *testing.T, value string) {
		before := checksum(t)
		probe(t, base, value)
		if after := checksum(t); after != before {
			t.Fatalf("value %q changed the database", value)
		}
	})
}
