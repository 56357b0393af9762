package fieldpkg

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// snapshot is every feature of every layer: "layer/id" → version, content
// (without updated_at) and geometry as WKT.
func snapshot(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range layer.Default().Layers() {
		rows, err := pool.Query(context.Background(), `SELECT id, version, (to_jsonb(t) - 'geom' - 'geom_3857' - 'updated_at')::text, ST_AsText(geom)
			FROM lastmile.`+l.Table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var v int
			var j, g string
			if err := rows.Scan(&id, &v, &j, &g); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s/%d", l.Name, id)] = fmt.Sprintf("v%d %s %s", v, j, g)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// differences lists the keys whose value differs between a and b.
func differences(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// blob writes a GeoPackage geometry blob by hand, as the spec lays it out
// (independently of encodeBlob): "GP", version 0, flags 0b011 (XY envelope,
// little-endian), srs_id, minx maxx miny maxy, WKB.
func blob(t *testing.T, g orb.Geometry) []byte {
	t.Helper()
	w, err := wkb.Marshal(g, binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	b := g.Bound()
	out := []byte{'G', 'P', 0, 0b011}
	out = binary.LittleEndian.AppendUint32(out, 4326)
	for _, v := range []float64{b.Min[0], b.Max[0], b.Min[1], b.Max[1]} {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return append(out, w...)
}

func execSQL(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s %v: %d rows affected, want 1", query, args, n)
	}
}

func copyFile(t *testing.T, from, to string, n int64) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if n < 0 {
		_, err = io.Copy(dst, src)
	} else {
		_, err = io.CopyN(dst, src, n)
	}
	if err != nil {
		t.Fatal(err)
	}
	dst.Close()
}

// TestSync exports the demo county, edits the package as a field worker
// would (SQL through SQLite, as QGIS writes it) while the office edits the
// database, and syncs: unchanged, changed, moved, added, deleted,
// conflicting and doubly-edited features, checked row by row and in the
// history; a dry run, a second sync of the same package and damaged
// packages change nothing.
func TestSync(t *testing.T) {
	ctx := context.Background()
	pool, code := county(t)
	catalog := layer.Default()
	store := postgis.NewStore(pool, catalog)
	file, exp := export(t, pool, Area{AdminCode: code})
	pk := openPkg(t, file)

	// roads of the package, by id, and the exported versions
	var ids []int64
	rows, err := pk.Query(`SELECT id FROM roads ORDER BY id LIMIT 10`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != 10 {
		t.Fatalf("%d roads in the package", len(ids))
	}
	B, C, D, E, F, G, H, I, J, U := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7], ids[8], ids[9]
	version := func(l string, id int64) int {
		f, err := store.Get(ctx, l, id)
		if err != nil {
			t.Fatal(err)
		}
		return f.Version
	}
	exported := map[int64]int{}
	for _, id := range ids {
		exported[id] = version("roads", id)
	}

	// the office, after the export
	alice := postgis.WithActor(ctx, postgis.Actor{Name: "alice"})
	patch := func(id int64, props map[string]any) {
		t.Helper()
		if _, err := store.Patch(alice, "roads", id, postgis.IfVersion(version("roads", id)), props, nil); err != nil {
			t.Fatal(err)
		}
	}
	patch(E, map[string]any{"surface": "gravel"})
	patch(F, map[string]any{"name": "Office name"})
	patch(H, map[string]any{"width_m": 9.0})
	grade := "class3"
	if f, _ := store.Get(ctx, "roads", I); f.Properties["tech_grade"] == grade {
		grade = "class2"
	}
	patch(I, map[string]any{"tech_grade": grade})
	if err := store.Delete(alice, "roads", J, postgis.IfVersion(version("roads", J))); err != nil {
		t.Fatal(err)
	}

	// the field worker, in the package
	execSQL(t, pk, `UPDATE roads SET surface = 'asphalt', width_m = 7.5 WHERE id = ?`, B)
	var cg []byte
	if err := pk.QueryRow(`SELECT geom FROM roads WHERE id = ?`, C).Scan(&cg); err != nil {
		t.Fatal(err)
	}
	old, _, err := decodeBlob(cg)
	if err != nil {
		t.Fatal(err)
	}
	moved := orb.Clone(old).(orb.MultiLineString)
	moved[0][0][0] += 0.0005
	moved[0][0][1] -= 0.0003
	execSQL(t, pk, `UPDATE roads SET geom = ? WHERE id = ?`, blob(t, moved), C)
	var cfid int64
	var minx float64
	pk.QueryRow(`SELECT r.id, r.minx FROM roads t JOIN rtree_roads_geom r ON r.id = t.fid WHERE t.id = ?`, C).Scan(&cfid, &minx)
	if want := moved.Bound().Min[0]; math.Abs(minx-want) > 1e-5 {
		t.Errorf("the R-tree has minx %v for the moved road (fid %d), want %v", minx, cfid, want)
	}
	execSQL(t, pk, `DELETE FROM roads WHERE id = ?`, D)
	execSQL(t, pk, `UPDATE roads SET surface = 'earth' WHERE id = ?`, E)
	execSQL(t, pk, `UPDATE roads SET name = 'First try' WHERE id = ?`, G)
	execSQL(t, pk, `UPDATE roads SET name = 'Field name' WHERE id = ?`, G) // edited twice
	execSQL(t, pk, `UPDATE roads SET width_m = 9.0 WHERE id = ?`, H)       // as the office did
	execSQL(t, pk, `DELETE FROM roads WHERE id = ?`, I)
	execSQL(t, pk, `UPDATE roads SET name = 'Renamed in the field' WHERE id = ?`, J)
	newRoad := orb.MultiLineString{{{117.2, 37.3}, {117.201, 37.301}, {117.203, 37.3015}}}
	execSQL(t, pk, `INSERT INTO roads (geom, name, status, road_class, surface, completed_on, props) VALUES (?, 'New track', 'completed', 'group', 'earth', '2024-06-01', '{"found_by": "field team"}')`, blob(t, newRoad))
	var village int64
	if err := pk.QueryRow(`SELECT id FROM villages WHERE is_poor_village = 0 ORDER BY id LIMIT 1`).Scan(&village); err != nil {
		t.Fatal(err)
	}
	execSQL(t, pk, `UPDATE villages SET population = population + 12, is_poor_village = 1 WHERE id = ?`, village)
	transformer := orb.Point{117.25, 37.31}
	tb, _ := wkb.Marshal(transformer, binary.LittleEndian)
	tb = append(binary.LittleEndian.AppendUint32([]byte{'G', 'P', 0, 0b001}, 4326), tb...) // a point, no envelope
	execSQL(t, pk, `INSERT INTO power_upgrades_points (geom, status, kind, capacity_kva) VALUES (?, 'planned', 'transformer', 200)`, tb)
	pk.Close()

	before := snapshot(t, pool)
	var historyBefore int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history`).Scan(&historyBefore)

	unchanged := func(t *testing.T, what string) {
		t.Helper()
		if d := differences(before, snapshot(t, pool)); len(d) > 0 {
			t.Errorf("%s changed the database: %v", what, d)
		}
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history`).Scan(&n)
		if n != historyBefore {
			t.Errorf("%s wrote %d history rows", what, n-historyBefore)
		}
	}

	t.Run("dry run", func(t *testing.T) {
		rep, err := Sync(ctx, pool, catalog, file, SyncOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Committed || len(rep.Conflicts) != 3 {
			t.Errorf("dry run: committed %v, %d conflicts", rep.Committed, len(rep.Conflicts))
		}
		unchanged(t, "a dry run")
	})

	damage := []struct {
		name, want string
		edit       func(t *testing.T, path string)
	}{
		{"truncated", "integrity check", func(t *testing.T, path string) {
			st, _ := os.Stat(file)
			copyFile(t, file, path, st.Size()/2)
		}},
		{"missing table", "has no table roads", func(t *testing.T, path string) {
			copyFile(t, file, path, -1)
			db := openPkg(t, path)
			if _, err := db.Exec(`DROP TABLE roads`); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"bad geometry blob", "table villages, fid", func(t *testing.T, path string) {
			copyFile(t, file, path, -1)
			db := openPkg(t, path)
			execSQL(t, db, `UPDATE villages SET geom = x'47500003e6100000' WHERE id = ?`, village)
			db.Close()
		}},
		{"not a GeoPackage", "not a GeoPackage", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("roads,villages\n", 200)), 0o644)
		}},
		{"another database", "was exported from database 42/elsewhere", func(t *testing.T, path string) {
			copyFile(t, file, path, -1)
			db := openPkg(t, path)
			execSQL(t, db, `UPDATE lastmile_export SET value = '42/elsewhere' WHERE key = 'database'`)
			db.Close()
		}},
		{"missing column", "table roads has no column surface", func(t *testing.T, path string) {
			copyFile(t, file, path, -1)
			db := openPkg(t, path)
			if _, err := db.Exec(`ALTER TABLE roads DROP COLUMN surface`); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"missing metadata", "has no table lastmile_export_layers", func(t *testing.T, path string) {
			copyFile(t, file, path, -1)
			db := openPkg(t, path)
			db.Exec(`DROP TABLE lastmile_export_layers`)
			db.Close()
		}},
	}
	for _, d := range damage {
		t.Run("damaged: "+d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.gpkg")
			d.edit(t, path)
			rep, err := Sync(ctx, pool, catalog, path, SyncOptions{})
			if err == nil || !strings.Contains(err.Error(), d.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("err = %v, want %q and nothing was changed", err, d.want)
			}
			if rep != nil && rep.Committed {
				t.Error("committed")
			}
			unchanged(t, "a damaged package")
		})
	}

	t.Run("invalid values: nothing written", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "invalid.gpkg")
		copyFile(t, file, path, -1)
		db := openPkg(t, path)
		execSQL(t, db, `UPDATE roads SET surface = 'lava', width_m = 'wide' WHERE id = ?`, U)
		db.Close()
		rep, err := Sync(ctx, pool, catalog, path, SyncOptions{})
		if err == nil || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("err = %v", err)
		}
		got := map[string]bool{}
		for _, p := range rep.Problems {
			if p.ID == U {
				got[p.Field] = true
			}
		}
		if !got["surface"] || !got["width_m"] || len(rep.Problems) != 2 {
			t.Errorf("problems = %v, want surface and width_m of road %d", rep.Problems, U)
		}
		unchanged(t, "an invalid package")
		// --skip-invalid: the other edits go through (here as a dry run)
		rep, err = Sync(ctx, pool, catalog, path, SyncOptions{SkipInvalid: true, DryRun: true})
		if err != nil || len(rep.Problems) != 2 || rep.Tables[0].Changed != 3 || rep.Tables[0].Invalid != 1 {
			t.Errorf("skip invalid: %v, %d problems, roads %+v", err, len(rep.Problems), rep.Tables[0])
		}
		unchanged(t, "a dry run skipping the invalid")
	})

	rep, err := Sync(ctx, pool, catalog, file, SyncOptions{})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	after := snapshot(t, pool)

	t.Run("report", func(t *testing.T) {
		var roads SyncTable
		for _, st := range rep.Tables {
			if st.Table == "roads" {
				roads = st
			}
		}
		var n int
		for _, s := range exp.Tables {
			if s.Table == "roads" {
				n = s.Features
			}
		}
		want := SyncTable{Table: "roads", Layer: "roads", Read: n - 2 + 1, Unchanged: n - 8, Changed: 3, Added: 1, Deleted: 1, Already: 1, Conflicts: 3}
		if roads != want {
			t.Errorf("roads = %+v\nwant    %+v", roads, want)
		}
		kinds := map[int64]string{}
		for _, c := range rep.Conflicts {
			kinds[c.ID] = c.Kind
		}
		if kinds[E] != "changed_both" || kinds[I] != "deleted_in_package" || kinds[J] != "deleted_in_database" || len(kinds) != 3 {
			t.Errorf("conflicts = %v, want %d changed_both, %d deleted_in_package, %d deleted_in_database", kinds, E, I, J)
		}
		for _, c := range rep.Conflicts {
			var f ConflictField
			switch c.ID {
			case E:
				f = c.Fields[0]
				if len(c.Fields) != 1 || f.Field != "surface" || f.Package != `"earth"` || f.Database != `"gravel"` {
					t.Errorf("conflict %d: %+v", E, c.Fields)
				}
			case I:
				f = c.Fields[0]
				if len(c.Fields) != 1 || f.Field != "tech_grade" || f.Package != "(deleted)" || f.Database != `"`+grade+`"` {
					t.Errorf("conflict %d: %+v", I, c.Fields)
				}
			case J:
				f = c.Fields[0]
				if len(c.Fields) != 1 || f.Field != "name" || f.Package != `"Renamed in the field"` || f.Database != "(deleted)" {
					t.Errorf("conflict %d: %+v", J, c.Fields)
				}
			}
			if f.ChangedBy != "alice" || f.ChangedAt == nil || f.InVersion == 0 {
				t.Errorf("conflict %d: changed by %q at %v (version %d), want alice", c.ID, f.ChangedBy, f.ChangedAt, f.InVersion)
			}
		}
	})

	t.Run("database, row by row", func(t *testing.T) {
		var newID, trID int64
		if err := pool.QueryRow(ctx, `SELECT id FROM lastmile.roads WHERE name = 'New track'`).Scan(&newID); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT id FROM lastmile.power_upgrades WHERE kind = 'transformer' AND ST_Equals(geom, ST_SetSRID(ST_MakePoint(117.25, 37.31), 4326))`).Scan(&trID); err != nil {
			t.Fatal(err)
		}
		want := []string{fmt.Sprintf("power_upgrades/%d", trID)}
		for _, id := range []int64{B, C, D, G, newID} {
			want = append(want, fmt.Sprintf("roads/%d", id))
		}
		want = append(want, fmt.Sprintf("villages/%d", village))
		sort.Strings(want)
		if got := differences(before, after); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("changed features = %v\nwant %v", got, want)
		}
		type road struct {
			version                    int
			name, surface, by, geomWKT string
			width                      *float64
		}
		get := func(id int64) road {
			var r road
			var name, surface *string
			if err := pool.QueryRow(ctx, `SELECT version, name, surface, width_m, updated_by, ST_AsText(geom) FROM lastmile.roads WHERE id = $1`, id).
				Scan(&r.version, &name, &surface, &r.width, &r.by, &r.geomWKT); err != nil {
				t.Fatalf("road %d: %v", id, err)
			}
			if name != nil {
				r.name = *name
			}
			if surface != nil {
				r.surface = *surface
			}
			return r
		}
		actor := "sync field.gpkg"
		if r := get(B); r.surface != "asphalt" || r.width == nil || *r.width != 7.5 || r.version != exported[B]+1 || r.by != actor {
			t.Errorf("road %d (changed) = %+v", B, r)
		}
		// the moved road: the package's geometry, stored as a LineString again
		var gc []byte
		pool.QueryRow(ctx, `SELECT ST_AsBinary(geom) FROM lastmile.roads WHERE id = $1`, C).Scan(&gc)
		if g, err := wkb.Unmarshal(gc); err != nil || !orb.Equal(g, moved[0]) || get(C).version != exported[C]+1 {
			t.Errorf("road %d (moved) = %v v%d, want %v v%d", C, g, get(C).version, moved[0], exported[C]+1)
		}
		if r := get(G); r.name != "Field name" || r.version != exported[G]+1 {
			t.Errorf("road %d (edited twice) = %+v, want name Field name at version %d", G, r, exported[G]+1)
		}
		if r := get(E); r.surface != "gravel" || r.by != "alice" {
			t.Errorf("road %d (conflict) = %+v, want alice's gravel kept", E, r)
		}
		if r := get(F); r.name != "Office name" {
			t.Errorf("road %d (changed only in the office) = %+v", F, r)
		}
		if r := get(I); r.by != "alice" {
			t.Errorf("road %d (deleted in the package, changed in the office) = %+v", I, r)
		}
		for _, id := range []int64{D, J} {
			var n int
			pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads WHERE id = $1`, id).Scan(&n)
			if n != 0 {
				t.Errorf("road %d still exists", id)
			}
		}
		var props, completed, surface string
		pool.QueryRow(ctx, `SELECT props::text, completed_on::text, surface FROM lastmile.roads WHERE id = $1`, newID).Scan(&props, &completed, &surface)
		if props != `{"found_by": "field team"}` || completed != "2024-06-01" || surface != "earth" {
			t.Errorf("new road: props %s, completed_on %s, surface %s", props, completed, surface)
		}
		var pop int
		var poor bool
		pool.QueryRow(ctx, `SELECT population, is_poor_village FROM lastmile.villages WHERE id = $1`, village).Scan(&pop, &poor)
		if !poor || !strings.Contains(before[fmt.Sprintf("villages/%d", village)], fmt.Sprintf(`"population": %d`, pop-12)) {
			t.Errorf("village %d: population %d, poor %v", village, pop, poor)
		}
		// the history: one entry per written feature, by the sync
		hrows, err := pool.Query(ctx, `SELECT layer, feature_id, op, source FROM lastmile.feature_history WHERE actor = $1 ORDER BY layer, feature_id`, actor)
		if err != nil {
			t.Fatal(err)
		}
		var hist []string
		for hrows.Next() {
			var l, op, src string
			var id int64
			hrows.Scan(&l, &id, &op, &src)
			hist = append(hist, fmt.Sprintf("%s/%d %s %s", l, id, op, src))
		}
		var wantHist []string
		wantHist = append(wantHist, fmt.Sprintf("power_upgrades/%d insert field.gpkg", trID))
		for _, h := range []struct {
			id int64
			op string
		}{{B, "update"}, {C, "update"}, {D, "delete"}, {G, "update"}, {newID, "insert"}} {
			wantHist = append(wantHist, fmt.Sprintf("roads/%d %s field.gpkg", h.id, h.op))
		}
		wantHist = append(wantHist, fmt.Sprintf("villages/%d update field.gpkg", village))
		sort.Strings(hist)
		sort.Strings(wantHist)
		if fmt.Sprint(hist) != fmt.Sprint(wantHist) {
			t.Errorf("history by the sync:\n%v\nwant\n%v", hist, wantHist)
		}
	})

	t.Run("the same package again changes nothing", func(t *testing.T) {
		before, historyBefore = after, 0
		pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history`).Scan(&historyBefore)
		rep, err := Sync(ctx, pool, catalog, file, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range rep.Tables {
			if st.Changed+st.Added+st.Deleted > 0 {
				t.Errorf("%s: %+v", st.Table, st)
			}
		}
		if len(rep.Conflicts) != 3 {
			t.Errorf("%d conflicts, want the same 3", len(rep.Conflicts))
		}
		unchanged(t, "a second sync")
	})
}
