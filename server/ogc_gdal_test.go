package server_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server"
)

const liechtenstein = "../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf"

// loadOSMRoads loads the highways of the Liechtenstein extract into
// lastmile.roads (surface mapped to the catalog's enum where it is one) and
// returns how many it stored. It writes with plain SQL in one transaction:
// the point is to have real features to serve, not to test an importer.
func loadOSMRoads(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	f, err := os.Open(liechtenstein)
	if err != nil {
		t.Fatalf("the Liechtenstein extract: %v", err)
	}
	defer f.Close()
	ctx := context.Background()
	sc := osmpbf.New(ctx, f, runtime.GOMAXPROCS(0))
	defer sc.Close()
	sc.SkipRelations = true
	nodes := map[osm.NodeID]orb.Point{}
	type road struct {
		name, surface string
		line          orb.LineString
	}
	var roads []road
	for sc.Scan() {
		switch o := sc.Object().(type) {
		case *osm.Node:
			nodes[o.ID] = orb.Point{o.Lon, o.Lat}
		case *osm.Way:
			if o.Tags.Find("highway") == "" || len(o.Nodes) < 2 {
				continue
			}
			var line orb.LineString
			for _, n := range o.Nodes {
				if p, ok := nodes[n.ID]; ok && (len(line) == 0 || line[len(line)-1] != p) {
					line = append(line, p)
				}
			}
			if len(line) < 2 {
				continue
			}
			roads = append(roads, road{o.Tags.Find("name"), o.Tags.Find("surface"), line})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	surfaces := map[string]bool{}
	for _, s := range layer.Surfaces {
		surfaces[s] = true
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	postgis.SetActor(ctx, tx, postgis.Actor{Name: "osm test loader", Source: filepath.Base(liechtenstein)})
	var b pgx.Batch
	for _, r := range roads {
		g, _ := ewkb.Marshal(r.line, 4326)
		var surface any
		if surfaces[r.surface] {
			surface = r.surface
		}
		// ST_MakeValid drops nothing here; it guards self-touching ways.
		b.Queue(`INSERT INTO lastmile.roads (name, surface, status, geom)
			SELECT nullif($1, ''), $2, 'completed', g FROM (SELECT ST_GeomFromEWKB($3) AS g) s WHERE ST_IsValid(g)`, r.name, surface, g)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&n)
	return n
}

// TestGDAL runs GDAL's OGC API Features client against the server:
// ogrinfo lists the collections, ogr2ogr pages through every road.
func TestGDAL(t *testing.T) {
	for _, tool := range []string{"ogrinfo", "ogr2ogr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (run scripts/setup to install gdal-bin): %v", tool, err)
		}
	}
	e := newOGC(t, server.Options{})
	n := loadOSMRoads(t, e.pool)
	if n < 1000 {
		t.Fatalf("loaded only %d roads from the extract", n)
	}
	t.Logf("loaded %d Liechtenstein roads", n)
	var itemRequests atomic.Int64
	e.countItems(&itemRequests)

	env := append(os.Environ(), "GDAL_HTTP_TIMEOUT=60", "CPL_DEBUG=OFF")
	src := "OAPIF:" + e.url + "/ogc"
	out, err := runGDAL(env, "ogrinfo", "-ro", "-q", src)
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	var listed []string
	for _, line := range strings.Split(out, "\n") {
		// "1: roads (Line String)"
		if _, rest, ok := strings.Cut(line, ": "); ok {
			name, _, _ := strings.Cut(rest, " ")
			listed = append(listed, name)
		}
	}
	sort.Strings(listed)
	if want := server.CollectionNames(layer.Default()); strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("ogrinfo lists %v, want %v\n%s", listed, want, out)
	}

	// GDAL types the fields from the collection's schema (rel=describedBy,
	// ?profile=geojson): width_m a Real even though every width here is
	// whole or null, the dates Dates, props a String.
	out, err = runGDAL(append(env[:len(env):len(env)], "CPL_DEBUG=ON"), "ogrinfo", "-ro", "-so", src, "roads")
	if err != nil {
		t.Fatalf("ogrinfo -so roads: %v\n%s", err, out)
	}
	for _, want := range []string{"OAPIF: Using JSON schema", "width_m: Real", "started_on: Date", "updated_at: DateTime", "props: String", "funding_yuan: Real"} {
		if !strings.Contains(out, want) {
			t.Errorf("ogrinfo -so roads lacks %q:\n%s", want, out)
		}
	}

	dst := filepath.Join(t.TempDir(), "roads.json")
	itemRequests.Store(0)
	start := time.Now()
	out, err = runGDAL(env, "ogr2ogr", "-f", "GeoJSON", dst, src, "roads")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	if len(fc.Features) != n {
		t.Errorf("ogr2ogr wrote %d features, the database has %d", len(fc.Features), n)
	}
	// Every feature once: the lengths add up to the database's total.
	var sum, want float64
	for _, f := range fc.Features {
		l, _ := f.Properties["length_m"].(float64)
		sum += l
	}
	e.pool.QueryRow(context.Background(), `SELECT sum(length_m) FROM lastmile.roads`).Scan(&want)
	if math.Abs(sum-want) > 1e-6*want {
		t.Errorf("ogr2ogr's features total %.3f m, the database's %.3f m", sum, want)
	}
	pages := itemRequests.Load()
	if pages < 2 {
		t.Errorf("ogr2ogr made %d items requests; paging through next links was not exercised", pages)
	}
	t.Logf("ogr2ogr fetched %d features (%.0f km) in %d /items requests in %v", len(fc.Features), sum/1000, pages, elapsed.Round(time.Millisecond))
}

func runGDAL(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	return string(b), err
}
