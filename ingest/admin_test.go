package ingest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// parallelM is the length of the arc of the parallel at lat between two
// longitudes dlon degrees apart, on the WGS84 ellipsoid (the radius of the
// parallel is N(φ)·cos φ): the geodesic between two points so close differs
// from it by far less than a metre.
func parallelM(lat, dlon float64) float64 {
	const a, e2 = 6378137.0, 0.00669437999014
	phi := lat * math.Pi / 180
	n := a / math.Sqrt(1-e2*math.Sin(phi)*math.Sin(phi))
	return n * math.Cos(phi) * dlon * math.Pi / 180
}

// withTownship returns a database with one township, 0.1° × 0.1° at
// 117.2–117.3°E 37.3–37.4°N.
func withTownship(t *testing.T) *pgxpool.Pool {
	pool := pgtest.New(t)
	if _, err := pool.Exec(context.Background(), `INSERT INTO lastmile.admin_areas (ext_id, name, level, code, geom)
		VALUES ('t1', '玉皇庙镇', 'township', '371426101000', ST_Multi(ST_MakeEnvelope(117.2, 37.3, 117.3, 37.4, 4326)))`); err != nil {
		t.Fatal(err)
	}
	return pool
}

// TestImportAdminCode: an imported row whose admin_code names an admin area
// farther than 1 km from its geometry is refused like the feature API
// refuses it — an error naming the row, the field and the distance, on the
// direct path (first load) and the staged one, CSV and GeoJSON; nothing is
// written, unless skip-invalid, which loads the other rows.
func TestImportAdminCode(t *testing.T) {
	noSpool(t)
	// row 1 (the first after the header): inside; row 2: 0.05° east of the
	// township's east edge at 37.35°N; row 3: 442 m east (within the
	// tolerance); row 4: a code without an area; row 5: no code.
	csv := "ext_id,admin_code,status,wkt\n" +
		"in,371426101000,completed,\"LINESTRING(117.21 37.31,117.22 37.31)\"\n" +
		"east,371426101000,completed,\"LINESTRING(117.35 37.35,117.36 37.35)\"\n" +
		"near,371426101000,completed,\"LINESTRING(117.305 37.35,117.306 37.35)\"\n" +
		"nocode,371426199000,completed,\"LINESTRING(90.2 30.31,90.21 30.31)\"\n" +
		"none,,completed,\"LINESTRING(90.2 30.31,90.21 30.31)\"\n"
	geojson := `{"type":"FeatureCollection","features":[
		{"type":"Feature","id":"in","geometry":{"type":"LineString","coordinates":[[117.21,37.31],[117.22,37.31]]},"properties":{"status":"completed","admin_code":"371426101000"}},
		{"type":"Feature","id":"tibet","geometry":{"type":"LineString","coordinates":[[90.2,30.31],[90.21,30.31]]},"properties":{"status":"completed","admin_code":"371426101000"}}]}`
	eastKm := fmt.Sprintf("lies %.1f km from the geometry", parallelM(37.35, 0.05)/1000) // 4.4 km
	tests := []struct {
		name    string
		format  string
		body    string
		seed    bool // a feature in the table first: the staged path
		skip    bool
		row     int
		message string
	}{
		{"CSV, first load", FormatCSV, csv, false, false, 2, eastKm},
		{"CSV, staged", FormatCSV, csv, true, false, 2, eastKm},
		{"CSV, first load, skip-invalid", FormatCSV, csv, false, true, 2, eastKm},
		{"CSV, staged, skip-invalid", FormatCSV, csv, true, true, 2, eastKm},
		{"GeoJSON, first load", FormatGeoJSON, geojson, false, false, 2, "the admin area 371426101000 (玉皇庙镇) lies 2"},
		{"GeoJSON, staged", FormatGeoJSON, geojson, true, false, 2, "the admin area 371426101000 (玉皇庙镇) lies 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := withTownship(t)
			ctx := context.Background()
			if tt.seed {
				if _, err := pool.Exec(ctx, `INSERT INTO lastmile.roads (ext_id, geom) VALUES ('seed', 'SRID=4326;LINESTRING(100 20, 100.1 20.1)')`); err != nil {
					t.Fatal(err)
				}
			}
			before := tableState(t, pool, "roads")
			r, err := NewReader(tt.format, strings.NewReader(tt.body), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := importReader(t, pool, "roads", "roads."+tt.format, r, Options{SkipInvalid: tt.skip})
			var problem *lastmile.Problem
			for i, p := range rep.Problems {
				if p.Row == tt.row && p.Field == "admin_code" && p.Value == "371426101000" && strings.Contains(p.Message, tt.message) {
					problem = &rep.Problems[i]
				}
			}
			if problem == nil || len(rep.Problems) != 1 {
				t.Fatalf("problems %+v, want one of row %d admin_code: %s", rep.Problems, tt.row, tt.message)
			}
			if rep.direct {
				t.Errorf("loaded directly: the direct load must fall back to name the row")
			}
			if !tt.skip {
				if lastmile.ErrorCode(err) != lastmile.EINVALID || !strings.Contains(err.Error(), "nothing was imported") {
					t.Fatalf("err = %v, want invalid, nothing imported", err)
				}
				if after := tableState(t, pool, "roads"); after != before {
					t.Fatalf("a refused import changed the table: %s → %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("skip-invalid: %v", err)
			}
			got := queryString(t, pool, `SELECT string_agg(ext_id, ',' ORDER BY ext_id) FROM lastmile.roads WHERE ext_id <> 'seed'`)
			if l := rep.Layers[0]; got != "in,near,nocode,none" || l.Inserted != 4 || l.Rejected != 1 {
				t.Fatalf("loaded %s, report %+v; want in,near,nocode,none, 4 inserted, 1 rejected", got, *l)
			}
		})
	}

	// The good rows alone, into an empty layer: still copied directly.
	t.Run("good rows, first load", func(t *testing.T) {
		pool := withTownship(t)
		good := strings.Replace(csv, "east,371426101000,completed,\"LINESTRING(117.35 37.35,117.36 37.35)\"\n", "", 1)
		r, err := NewReader(FormatCSV, strings.NewReader(good), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := importReader(t, pool, "roads", "roads.csv", r, Options{})
		if err != nil || !rep.direct || rep.Layers[0].Inserted != 4 {
			t.Fatalf("err %v, direct %v, report %+v; want 4 inserted directly", err, rep.direct, rep.Layers)
		}
	})

	// A re-import without an admin_code column that moves a feature away
	// from the area its stored code names: checked against the stored code.
	t.Run("re-import moving a feature", func(t *testing.T) {
		pool := withTownship(t)
		if rep, err := importString(t, pool, "roads", "a.geojsonl", `{"type":"Feature","id":"r1","geometry":{"type":"LineString","coordinates":[[117.21,37.31],[117.22,37.31]]},"properties":{"status":"completed","admin_code":"371426101000"}}`, Options{}); err != nil {
			t.Fatalf("first import: %v %+v", err, rep.Problems)
		}
		before := tableState(t, pool, "roads")
		rep, err := importString(t, pool, "roads", "b.geojsonl", `{"type":"Feature","id":"r1","geometry":{"type":"LineString","coordinates":[[117.35,37.35],[117.36,37.35]]},"properties":{"status":"completed"}}`, Options{})
		if lastmile.ErrorCode(err) != lastmile.EINVALID || len(rep.Problems) != 1 || rep.Problems[0].Row != 1 ||
			rep.Problems[0].Field != "admin_code" || !strings.Contains(rep.Problems[0].Message, eastKm) {
			t.Fatalf("err %v, problems %+v; want row 1 admin_code %s", err, rep.Problems, eastKm)
		}
		if after := tableState(t, pool, "roads"); after != before {
			t.Fatalf("a refused import changed the table: %s → %s", before, after)
		}
		// a dry run reports it too
		rep, err = importString(t, pool, "roads", "b.geojsonl", `{"type":"Feature","id":"r1","geometry":{"type":"LineString","coordinates":[[117.35,37.35],[117.36,37.35]]},"properties":{"status":"completed"}}`, Options{DryRun: true})
		if lastmile.ErrorCode(err) != lastmile.EINVALID || len(rep.Problems) != 1 || rep.Problems[0].Field != "admin_code" {
			t.Fatalf("dry run: err %v, problems %+v", err, rep.Problems)
		}
	})
}
