package fieldpkg

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile/layer"
)

// TestQGIS: QGIS 3.22 (its OGR provider, as QField's) opens every table of
// a field package of the demo county with the database's feature counts,
// then edits it through its editing buffer — an attribute, a moved vertex,
// a new feature, a deleted one — and the sync applies exactly those edits.
func TestQGIS(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is missing: run scripts/setup (Debian packages qgis, python3-qgis)")
	}
	ctx := context.Background()
	pool, code := county(t)
	file, rep := export(t, pool, Area{AdminCode: code})
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // QStandardPaths wants a private runtime directory

	// the database's count per table, computed independently of the export
	expected := map[string]int{}
	for _, l := range layer.Default().Layers() {
		for _, tb := range tables(l) {
			var n int
			kinds := []string{}
			for _, k := range tb.family.kinds {
				kinds = append(kinds, "ST_"+k)
			}
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.`+l.Table+` t, lastmile.admin_areas a
				WHERE a.code = $1 AND ST_Intersects(t.geom, a.geom) AND ST_GeometryType(t.geom) = ANY($2)`, code, kinds).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				expected[tb.Name] = n
			}
		}
	}
	if len(expected) < 9 {
		t.Fatalf("only %d non-empty tables: %v", len(expected), expected)
	}
	var roads []int64
	rows, _ := pool.Query(ctx, `SELECT r.id FROM lastmile.roads r, lastmile.admin_areas a WHERE a.code = $1 AND ST_Intersects(r.geom, a.geom) ORDER BY r.id LIMIT 3`, code)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		roads = append(roads, id)
	}
	rows.Close()
	edits := map[string]any{
		"change": []any{"roads", roads[0], "surface", "stone"},
		"move":   []any{"roads", roads[1], 0.0004, 0.0002},
		"add":    []any{"villages", map[string]any{"name": "QGIS village", "code": "371426999999", "population": 321, "is_poor_village": true}, "POINT(117.2 37.3)"},
		"delete": []any{"roads", roads[2]},
	}
	write := func(name string, v any) string {
		p := filepath.Join(dir, name)
		b, _ := json.Marshal(v)
		os.WriteFile(p, b, 0o644)
		return p
	}
	cmd := exec.Command("/usr/bin/python3", "../e2e/qgis/gpkg.py", file, write("expected.json", expected), write("edits.json", edits))
	cmd.Env = append(os.Environ(), "QT_QPA_PLATFORM=offscreen", "XDG_RUNTIME_DIR="+dir, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("QGIS on a %d-byte package:\n%s", rep.Bytes, out)
	if strings.Contains(string(out), "PyQGIS is missing") {
		t.Fatal("PyQGIS is missing: run scripts/setup (Debian packages qgis, python3-qgis)")
	}
	if err != nil || !strings.Contains(string(out), " 0 failed") {
		t.Fatalf("QGIS checks failed: %v", err)
	}

	// QGIS kept the R-tree current through the triggers (bounds are float32
	// there, rounded outwards)
	pk := openPkg(t, file)
	var stale int
	for _, tb := range []string{"roads", "villages"} {
		var n int
		pk.QueryRow(`SELECT (SELECT count(*) FROM ` + tb + `) - (SELECT count(*) FROM ` + tb + ` t JOIN rtree_` + tb + `_geom r ON r.id = t.fid
			AND r.minx <= ST_MinX(t.geom) AND r.minx > ST_MinX(t.geom) - 1e-4 AND r.maxy >= ST_MaxY(t.geom) AND r.maxy < ST_MaxY(t.geom) + 1e-4)`).Scan(&n)
		stale += n
	}
	if stale != 0 {
		t.Errorf("%d features without their R-tree entry after QGIS's edits", stale)
	}
	pk.Close()

	var before orb.Geometry
	var gb []byte
	pool.QueryRow(ctx, `SELECT ST_AsBinary(geom) FROM lastmile.roads WHERE id = $1`, roads[1]).Scan(&gb)
	before, _ = wkb.Unmarshal(gb)
	srep, err := Sync(ctx, pool, layer.Default(), file, SyncOptions{})
	if err != nil {
		t.Fatalf("Sync of the QGIS-edited package: %v %v", err, srep.Problems)
	}
	counts := map[string]string{}
	for _, st := range srep.Tables {
		if st.Changed+st.Added+st.Deleted+st.Conflicts+st.Invalid > 0 {
			counts[st.Table] = fmt.Sprintf("changed %d added %d deleted %d conflicts %d invalid %d", st.Changed, st.Added, st.Deleted, st.Conflicts, st.Invalid)
		}
	}
	want := map[string]string{"roads": "changed 2 added 0 deleted 1 conflicts 0 invalid 0", "villages": "changed 0 added 1 deleted 0 conflicts 0 invalid 0"}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("sync of QGIS's edits: %v\nwant %v\nproblems %v", counts, want, srep.Problems)
	}
	var surface string
	pool.QueryRow(ctx, `SELECT surface FROM lastmile.roads WHERE id = $1`, roads[0]).Scan(&surface)
	if surface != "stone" {
		t.Errorf("road %d surface %q, want stone", roads[0], surface)
	}
	pool.QueryRow(ctx, `SELECT ST_AsBinary(geom) FROM lastmile.roads WHERE id = $1`, roads[1]).Scan(&gb)
	after, _ := wkb.Unmarshal(gb)
	ls := orb.Clone(before).(orb.LineString)
	ls[0] = orb.Point{ls[0][0] + 0.0004, ls[0][1] + 0.0002}
	got, ok := after.(orb.LineString)
	if !ok || len(got) != len(ls) || !orb.Equal(got[1:], ls[1:]) || abs(got[0][0]-ls[0][0]) > 1e-9 || abs(got[0][1]-ls[0][1]) > 1e-9 {
		t.Errorf("road %d moved to %v, want %v", roads[1], after, ls)
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.villages WHERE name = 'QGIS village' AND population = 321 AND is_poor_village AND ST_Equals(geom, ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326))`).Scan(&n)
	if n != 1 {
		t.Errorf("%d villages added by QGIS in the database, want 1", n)
	}
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads WHERE id = $1`, roads[2]).Scan(&n)
	if n != 0 {
		t.Errorf("road %d deleted in QGIS still exists", roads[2])
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
