package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/fieldpkg"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestExportFeaturesAndSync runs lastmile export features on the demo
// county, edits the package, changes one of its features in the database
// meanwhile, and runs lastmile import --sync: the report lists the conflict
// with who changed the field and when.
func TestExportFeaturesAndSync(t *testing.T) {
	ctx := context.Background()
	fieldpkg.RegisterSQLFunctions() // the R-tree triggers of the package's tables call them
	url := pgtest.URL(t)
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := demo.Load(ctx, pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	var code string
	pool.QueryRow(ctx, `SELECT code FROM lastmile.admin_areas WHERE level = 'township' ORDER BY code LIMIT 1`).Scan(&code)
	file := filepath.Join(t.TempDir(), "township.gpkg")
	var out bytes.Buffer
	if err := run(ctx, []string{"export", "features", "--database-url", url, "--admin-code", code, "--out", file}, &out); err != nil {
		t.Fatalf("export: %v\n%s", err, out.String())
	}
	t.Logf("lastmile export features --admin-code %s --out township.gpkg\n%s", code, out.String())
	for _, w := range []string{"wrote " + file, "roads ", "power_upgrades_points", "lastmile import --sync " + file} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("export output lacks %q", w)
		}
	}

	pkg, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	var a, b int64
	pkg.QueryRow(`SELECT min(id), max(id) FROM roads`).Scan(&a, &b)
	var was string
	pkg.QueryRow(`SELECT surface FROM roads WHERE id = ?`, b).Scan(&was)
	field := "cement"
	if was == field {
		field = "stone"
	}
	if _, err := pkg.Exec(`UPDATE roads SET surface = 'asphalt', width_m = 6.5 WHERE id = ?`, a); err != nil {
		t.Fatal(err)
	}
	if _, err := pkg.Exec(`UPDATE roads SET surface = ? WHERE id = ?`, field, b); err != nil {
		t.Fatal(err)
	}
	// a deleted facility and a new village: a point blob as QGIS writes it
	// (GP, version 0, little-endian without envelope, srs 4326, WKB)
	point := "4750000" + "1e6100000" + "0101000000" + "cdcccccccc4c5d40" + "6666666666a64240" // POINT(117.2 37.3)
	for _, q := range []string{
		`DELETE FROM facilities WHERE fid = (SELECT min(fid) FROM facilities)`,
		`INSERT INTO villages (geom, name, population, is_poor_village) VALUES (x'` + point + `', 'Xincun', 412, 0)`,
	} {
		if _, err := pkg.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pkg.Close()
	store := postgis.NewStore(pool, layer.Default())
	f, _ := store.Get(ctx, "roads", b)
	surface := "gravel"
	if f.Properties["surface"] == surface || field == surface {
		surface = "earth"
	}
	if _, err := store.Patch(postgis.WithActor(ctx, postgis.Actor{Name: "token:county-office"}), "roads", b, postgis.IfVersion(f.Version), map[string]any{"surface": surface}, nil); err != nil {
		t.Fatal(err)
	}

	for _, dry := range []bool{true, false} {
		out.Reset()
		args := []string{"import", "--database-url", url, "--sync", file}
		if dry {
			args = append(args, "--dry-run")
		}
		err := run(ctx, args, &out)
		t.Logf("lastmile %s\n%s", strings.Join(args[3:], " "), out.String())
		if err == nil || !strings.Contains(err.Error(), "1 features in conflict were not written") {
			t.Fatalf("err = %v, want the conflict", err)
		}
		for _, w := range []string{
			"conflict: roads ",
			`surface:       package "` + field + `", database "` + surface + `" (changed by token:county-office at `,
		} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("report lacks %q", w)
			}
		}
		var width *float64
		var surf string
		pool.QueryRow(ctx, `SELECT surface, width_m FROM lastmile.roads WHERE id = $1`, a).Scan(&surf, &width)
		if synced := surf == "asphalt" && width != nil && *width == 6.5; synced == dry {
			t.Errorf("dry run %v: road %d surface %q width %v", dry, a, surf, width)
		}
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.villages WHERE name = 'Xincun' AND population = 412 AND status = 'completed'
		AND ST_Equals(geom, ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326))`).Scan(&n)
	if n != 1 {
		t.Errorf("%d new villages Xincun, want 1", n)
	}
	if !strings.Contains(out.String(), "synced in one transaction") {
		t.Errorf("report: %s", out.String())
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "features", "--admin-code", code}, "--out FILE.gpkg is required"},
		{[]string{"export", "features", "--out", "x.gpkg"}, "--admin-code CODE or --bbox"},
		{[]string{"export", "features", "--bbox", "1,2,3", "--out", "x.gpkg"}, "W,S,E,N"},
		{[]string{"export", "features", "--bbox", "1,2,3,4", "--out", "x.shp"}, "ends in .gpkg"},
		{[]string{"export"}, "usage: lastmile export features"},
		{[]string{"export", "maps"}, `unknown export "maps"`},
		{[]string{"import", "--sync", file, "--layer", "roads"}, "--sync takes one field package"},
		{[]string{"import", "--database-url", url, "--sync", filepath.Join(t.TempDir(), "none.gpkg")}, "none.gpkg cannot be read"},
	} {
		err := run(ctx, tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}
