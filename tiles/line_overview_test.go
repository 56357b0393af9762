package tiles

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// lineOverviewFixture adds, in county 522302 (lon 104.3–104.6, one z8
// tile), pipelines of 400, 150 and 50 mm and power lines of 110, 10 and
// 0.4 kV, transformers of 35 and 0.4 kV, and in county 522399 (far away) a
// 350 mm pipeline and a 35 kV line.
func lineOverviewFixture(t *testing.T, h *harness) {
	t.Helper()
	_, err := h.pool.Exec(context.Background(), `
		INSERT INTO lastmile.water_pipelines (ext_id, name, status, diameter_mm, admin_code, geom) VALUES
		 ('wb', 'Main W', 'completed', 400, '522302001001', ST_GeomFromText('LINESTRING(104.30 28.00, 104.40 28.02, 104.50 28.05)', 4326)),
		 ('wm', 'Branch W', 'planned', 150, '522302001001', ST_GeomFromText('LINESTRING(104.35 28.03, 104.42 28.08)', 4326)),
		 ('ws', 'Service W', 'completed', 50, '522302001001', ST_GeomFromText('LINESTRING(104.36 28.01, 104.39 28.04)', 4326)),
		 ('wf', 'Far W', 'completed', 350, '522399001001', ST_GeomFromText('LINESTRING(108.30 30.00, 108.40 30.05)', 4326));
		INSERT INTO lastmile.power_upgrades (ext_id, name, status, kind, voltage_kv, admin_code, geom) VALUES
		 ('lh', 'High L', 'completed', 'line', 110, '522302001001', ST_GeomFromText('LINESTRING(104.30 28.10, 104.45 28.12, 104.55 28.15)', 4326)),
		 ('lm', 'Medium L', 'under_construction', 'line', 10, '522302001001', ST_GeomFromText('LINESTRING(104.33 28.11, 104.40 28.16)', 4326)),
		 ('ll', 'Low L', 'completed', 'line', 0.4, '522302001001', ST_GeomFromText('LINESTRING(104.36 28.12, 104.39 28.14)', 4326)),
		 ('th', 'Substation T', 'completed', 'transformer', 35, '522302001001', ST_GeomFromText('POINT(104.41 28.13)', 4326)),
		 ('tl', 'Pole T', 'planned', 'transformer', 0.4, '522302001001', ST_GeomFromText('POINT(104.37 28.13)', 4326)),
		 ('lf', 'Far L', 'completed', 'line', 35, '522399001001', ST_GeomFromText('LINESTRING(108.30 30.10, 108.40 30.15)', 4326))`)
	if err != nil {
		t.Fatal(err)
	}
	z8 := tileAt(104.4, 28.05, 8)
	for _, p := range []orb.Point{{104.30, 28.00}, {104.50, 28.05}, {104.36, 28.01}, {104.55, 28.15}, {104.37, 28.13}} {
		if tileAt(p[0], p[1], 8) != z8 {
			t.Fatalf("fixture: %v is not in z8 tile %v", p, z8)
		}
	}
}

// TestLineOverviewPipelinesAndPower: below z12 pipelines and power lines
// are drawn from their overviews, per diameter / voltage class and status:
// a 400 mm pipeline and a 50 mm one share a z8 tile, and only the first is
// drawn there (class 300); at z10 the 150 mm one too (class 100); at z12
// all three, as rows. Likewise a 110 kV and a 0.4 kV line; transformers
// are drawn from the rows by the rules (35 kV from z8, 0.4 kV from z12).
// The overview's counts equal the source rows the rules admit in each band.
func TestLineOverviewPipelinesAndPower(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	lineOverviewFixture(t, h)

	z8 := tileAt(104.4, 28.05, 8)
	pipes := h.features("water_pipelines", z8, "", "water_pipelines")
	if len(pipes) != 1 || pipes[0]["diameter_class"] != float64(300) || pipes[0]["pipelines"] != float64(1) ||
		pipes[0]["status"] != "completed" || pipes[0]["name"] != nil || pipes[0]["diameter_mm"] != nil {
		t.Errorf("z8 pipelines %v, want one overview line: class 300, 1 pipeline, completed", pipes)
	}
	z10 := tileAt(104.38, 28.04, 10)
	if got := values(h.features("water_pipelines", z10, "", "water_pipelines"), "diameter_class"); !slices.Equal(got, []string{"100", "300"}) {
		t.Errorf("z10 pipeline classes %v, want [100 300] (not the 50 mm one)", got)
	}
	z12 := tileAt(104.38, 28.03, 12)
	if got := values(h.features("water_pipelines", z12, "", "water_pipelines"), "name"); !slices.Equal(got, []string{"Branch W", "Main W", "Service W"}) {
		t.Errorf("z12 pipelines %v, want all three rows", got)
	}
	// A filter on a kept field is answered from the overview; one on
	// another field from the rows, with the rules.
	if got := h.features("water_pipelines", z10, "status=planned", "water_pipelines"); len(got) != 1 || got[0]["diameter_class"] != float64(100) {
		t.Errorf("z10 planned pipelines %v, want the class-100 line", got)
	}
	if got := values(h.features("water_pipelines", z10, "diameter_mm_min=120", "water_pipelines"), "name"); !slices.Equal(got, []string{"Branch W", "Main W"}) {
		t.Errorf("z10 pipelines of 120 mm or more %v, want the rows Branch W and Main W", got)
	}

	power := h.features("power_upgrades", z8, "", "power_upgrades")
	var lines, points []map[string]any
	for _, f := range power {
		if f["kind"] == "transformer" {
			points = append(points, f)
		} else {
			lines = append(lines, f)
		}
	}
	if len(lines) != 1 || lines[0]["voltage_class"] != float64(35) || lines[0]["lines"] != float64(1) || lines[0]["name"] != nil {
		t.Errorf("z8 power lines %v, want one overview line: class 35, 1 line", lines)
	}
	if len(points) != 1 || points[0]["name"] != "Substation T" || points[0]["voltage_kv"] != float64(35) || points[0]["lines"] != nil {
		t.Errorf("z8 transformers %v, want the 35 kV row only", points)
	}
	// the overview line has no feature id, the transformer row its own
	if with, without := h.featureIDs("power_upgrades", z8, "power_upgrades"); with != 1 || without != 1 {
		t.Errorf("z8 power: %d features with an id, %d without; want the transformer with, the overview line without", with, without)
	}
	if got := values(h.features("power_upgrades", tileAt(104.37, 28.13, 10), "", "power_upgrades"), "voltage_class"); !slices.Equal(got, []string{"10", "35", "<nil>"}) {
		t.Errorf("z10 power classes %v, want [10 35] and the 35 kV transformer (no class)", got)
	}
	if got := values(h.features("power_upgrades", tileAt(104.37, 28.13, 12), "", "power_upgrades"), "name"); !slices.Equal(got, []string{"High L", "Low L", "Medium L", "Pole T", "Substation T"}) {
		t.Errorf("z12 power %v, want every row", got)
	}
	if got := values(h.features("power_upgrades", z8, "kind=transformer", "power_upgrades"), "name"); !slices.Equal(got, []string{"Substation T"}) {
		t.Errorf("z8 transformers by filter %v", got)
	}

	// Counts: per band, the features collected equal the source lines the
	// rules admit there (an independent count of the rows).
	for _, c := range []struct{ table, count, source string }{
		{"water_pipeline_overview", "pipelines", "water_pipelines WHERE diameter_mm >= %d"},
		{"power_upgrade_overview", "lines", "power_upgrades WHERE kind = 'line' AND voltage_kv >= %d"},
	} {
		thresholds := map[int]int{8: 300, 10: 100}
		if c.table == "power_upgrade_overview" {
			thresholds = map[int]int{8: 35, 10: 10}
		}
		for band, th := range thresholds {
			var got, want int
			if err := h.pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(sum(%s), 0) FROM lastmile.%s WHERE band = %d`, c.count, c.table, band)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if err := h.pool.QueryRow(ctx, "SELECT count(*) FROM lastmile."+fmt.Sprintf(c.source, th)).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if got != want || want == 0 {
				t.Errorf("%s band %d: %d features collected, the rules admit %d", c.table, band, got, want)
			}
		}
	}
	var far int
	h.pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.water_pipeline_overview WHERE area = '522399000000'`).Scan(&far)
	if far != 2 { // bands 8 and 10
		t.Errorf("%d overview rows of the far county's pipeline, want 2 (bands 8 and 10)", far)
	}

	// The archive export's tile (Render) equals the server's.
	pl, _ := h.catalog.Layer("power_upgrades")
	mvt, err := h.svc.Render(ctx, []*layer.Layer{pl}, int(z8.Z), int(z8.X), int(z8.Y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := h.get(tilePath("power_upgrades", z8, "")); string(res.body) != string(mvt) {
		t.Errorf("Render's z8 tile (%d bytes) differs from the handler's (%d bytes)", len(mvt), len(res.body))
	}

	// TileJSON states the overviews, the style reads the class where the
	// field is absent.
	var tj TileJSON
	if err := json.Unmarshal(h.get("/tiles/water_pipelines,power_upgrades.json").body, &tj); err != nil {
		t.Fatal(err)
	}
	w, p := tj.VectorLayers[0], tj.VectorLayers[1]
	if w.Overview == nil || w.Overview.Kind != "lines" || w.Overview.Below != 12 || fmt.Sprint(w.Overview.Bands) != "[8 10]" ||
		w.Overview.Class == nil || w.Overview.Class.Property != "diameter_class" || fmt.Sprint(w.Overview.Class.Thresholds) != "[300 100]" ||
		w.Overview.Count != "pipelines" || w.FieldTypes["diameter_class"] != "Number" || w.FieldTypes["pipelines"] != "Number" {
		t.Errorf("water_pipelines vector layer %+v, overview %+v", w, w.Overview)
	}
	if p.Overview == nil || p.Overview.Count != "lines" || p.Overview.Class == nil || fmt.Sprint(p.Overview.Class.Thresholds) != "[35 10]" {
		t.Errorf("power_upgrades overview %+v", p.Overview)
	}
	var st struct {
		Layers []struct {
			ID     string
			Filter any `json:"filter"`
		}
	}
	if err := json.Unmarshal(h.get("/tiles/water_pipelines/style.json").body, &st); err != nil {
		t.Fatal(err)
	}
	for _, l := range st.Layers {
		if l.ID == "water_pipelines--line" {
			f, _ := json.Marshal(l.Filter)
			want := `["all",[">=",["zoom"],8],["any",[">=",["to-number",["get","diameter_mm"],-1],300],[">=",["to-number",["get","diameter_class"],-1],300]]]`
			if got := strings.ReplaceAll(string(f), `\u003e`, ">"); !strings.Contains(got, want) {
				t.Errorf("water_pipelines--line filter %s lacks %s", got, want)
			}
		}
	}
}

// TestLineOverviewIncremental: an edit to one pipeline (through the store,
// as the API makes it) recomputes its county only: its overview row keeps
// its id and takes the new geometry, the other rows are untouched, and of
// the tiles z8–11 over the fixture only those over the edit change. A
// pipeline widened to 350 mm joins the z8 line of its class: the count
// follows in every tile of that line, so the cached tiles of the line away
// from the edit are dropped and an archive update's reach covers them. A
// TRUNCATE asks for a full rebuild.
func TestLineOverviewIncremental(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	ctx := context.Background()
	lineOverviewFixture(t, h)
	// North W shares Main W's z8 tile, class and status (so its band-8
	// row), not its z9–z11 tiles.
	if _, err := h.pool.Exec(ctx, `INSERT INTO lastmile.water_pipelines (ext_id, name, status, diameter_mm, admin_code, geom) VALUES
		('wn', 'North W', 'completed', 500, '522302001001', ST_GeomFromText('LINESTRING(104.80 28.22, 104.90 28.24)', 4326))`); err != nil {
		t.Fatal(err)
	}
	if tileAt(104.8, 28.22, 8) != tileAt(104.4, 28.05, 8) || tileAt(104.9, 28.24, 8) != tileAt(104.4, 28.05, 8) {
		t.Fatal("fixture: North W is not in Main W's z8 tile")
	}
	store := postgis.NewStore(h.pool, h.catalog)
	store.OnChange(h.svc.Invalidate)
	if rep, err := h.svc.RefreshOverviews(ctx); err != nil || !rep.Full || rep.LineRows["water_pipelines"] == 0 || rep.LineRows["power_upgrades"] == 0 {
		t.Fatalf("first refresh %+v, %v: want a full build of both", rep, err)
	}
	type row struct {
		id    int64
		n     int
		geom  string
		class *int
	}
	rows := func() map[string]row {
		out := map[string]row{}
		r, err := h.pool.Query(ctx, `SELECT area || '/' || band || '/' || cx || '/' || cy || '/' || coalesce(status, '') || '/' || coalesce(diameter_class::text, ''),
			id, pipelines, ST_AsEWKT(geom_3857), diameter_class FROM lastmile.water_pipeline_overview`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var k string
			var v row
			if err := r.Scan(&k, &v.id, &v.n, &v.geom, &v.class); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	pl, _ := h.catalog.Layer("water_pipelines")
	render := func() map[maptile.Tile]string {
		out := map[maptile.Tile]string{}
		for z := 8; z <= 11; z++ {
			for _, tl := range tilesOver(orb.Bound{Min: orb.Point{104.28, 27.98}, Max: orb.Point{104.92, 28.34}}, z) {
				mvt, err := h.svc.Render(ctx, []*layer.Layer{pl}, int(tl.Z), int(tl.X), int(tl.Y), nil)
				if err != nil {
					t.Fatal(err)
				}
				out[tl] = string(mvt)
			}
		}
		return out
	}
	before, tilesBefore := rows(), render()

	// Main W's east end moves 0.01° north (its centre stays in its tiles).
	var id int64
	var ver int
	h.pool.QueryRow(ctx, `SELECT id, version FROM lastmile.water_pipelines WHERE ext_id = 'wb'`).Scan(&id, &ver)
	moved := orb.LineString{{104.30, 28.00}, {104.40, 28.02}, {104.50, 28.06}}
	if _, err := store.Patch(ctx, "water_pipelines", id, postgis.IfVersion(ver), nil, moved); err != nil {
		t.Fatal(err)
	}
	tilesAfter := render() // the first applies the log
	after := rows()
	changedRows := 0
	for k, b := range before {
		a, ok := after[k]
		if !ok || a.id != b.id || a.n != b.n {
			t.Errorf("overview row %s: %+v → %+v (want its id and count kept)", k, b, a)
			continue
		}
		if a.geom != b.geom {
			changedRows++
			if !strings.HasPrefix(k, "522302000000/") || b.class == nil || *b.class != 300 {
				t.Errorf("row %s changed: only Main W's (class 300, county 522302) should", k)
			}
		}
	}
	if changedRows != 2 || len(after) != len(before) { // Main W's rows of bands 8 (with North W) and 10
		t.Errorf("%d rows changed (of %d; %d after), want Main W's 2", changedRows, len(before), len(after))
	}
	// Only tiles over the edit (the old and new geometry's bounds, as
	// the cache and archive updates take them, grown by the buffer)
	// change, some do at every zoom, and tiles of North W's part of the
	// changed band-8 row do not.
	edit := orb.Bound{Min: orb.Point{104.30, 28.00}, Max: orb.Point{104.50, 28.06}}
	changed, away := map[maptile.Zoom]int{}, map[maptile.Zoom]int{}
	for tl, b := range tilesBefore {
		if !tileTouches(tl, edit) {
			if b != "" {
				away[tl.Z]++
			}
			if tilesAfter[tl] != b {
				t.Errorf("tile %v changed, away from the edit", tl)
			}
		} else if tilesAfter[tl] != b {
			changed[tl.Z]++
		}
	}
	for z := maptile.Zoom(8); z <= 11; z++ {
		if changed[z] == 0 || z > 8 && away[z] == 0 {
			t.Errorf("z%d: %d tiles over the edit changed, %d non-empty tiles away from it; want some of both", z, changed[z], away[z])
		}
	}
	var changes int
	h.pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.overview_changes`).Scan(&changes)
	if changes != 0 {
		t.Errorf("%d changes left in the log", changes)
	}

	// Service W widened to 350 mm: drawn at z8 in Main W's class line,
	// which now collects 3 pipelines, also in the z9 tile of North W,
	// cached, far from Service W.
	north := tileAt(104.85, 28.23, 9)
	if tileTouches(north, edit) {
		t.Fatal("fixture: North W's z9 tile is over Main W")
	}
	northCount := func() any {
		fs := h.features("water_pipelines", north, "", "water_pipelines")
		if len(fs) != 1 {
			t.Fatalf("z9 over North W: %v", fs)
		}
		return fs[0]["pipelines"]
	}
	if n := northCount(); n != float64(2) {
		t.Fatalf("z9 over North W: %v pipelines, want 2", n)
	}
	if res := h.get(tilePath("water_pipelines", north, "")); res.header.Get("X-Cache") != "HIT" {
		t.Fatalf("z9 over North W not cached: %q", res.header.Get("X-Cache"))
	}
	var sID int64
	var sVer int
	var sB orb.Bound
	h.pool.QueryRow(ctx, `SELECT id, version, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM lastmile.water_pipelines WHERE ext_id = 'ws'`).
		Scan(&sID, &sVer, &sB.Min[0], &sB.Min[1], &sB.Max[0], &sB.Max[1])
	if _, err := store.Patch(ctx, "water_pipelines", sID, postgis.IfVersion(sVer), map[string]any{"diameter_mm": 350}, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := h.svc.RefreshOverviews(ctx)
	if err != nil || rep.Full || rep.Changes != 2 || rep.LineAreas["water_pipelines"] != 1 || rep.LineAreas["roads"] != 0 {
		t.Errorf("refresh after widening: %+v, %v; want 2 changes in 1 pipeline county", rep, err)
	}
	z8 := h.features("water_pipelines", tileAt(104.4, 28.05, 8), "", "water_pipelines")
	if len(z8) != 1 || z8[0]["pipelines"] != float64(3) || z8[0]["diameter_class"] != float64(300) {
		t.Errorf("z8 pipelines after widening %v, want one class-300 line of 3 (Main, North, Service W)", z8)
	}
	if n := northCount(); n != float64(3) {
		t.Errorf("z9 over North W after widening Service W: %v pipelines, want 3 (the cached tile dropped)", n)
	}
	reach, err := h.svc.OverviewReach(ctx, []*layer.Layer{pl}, []orb.Bound{sB}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	for _, r := range reach {
		reached = reached || r.Below == 12 && r.Bound.Contains(orb.Point{104.85, 28.23})
	}
	if !reached {
		t.Errorf("an archive update's reach of Service W's edit %v misses North W", reach)
	}
	// A power edit logs and refreshes the same way.
	if _, err := h.pool.Exec(ctx, `UPDATE lastmile.power_upgrades SET voltage_kv = 35 WHERE ext_id = 'll'`); err != nil {
		t.Fatal(err)
	}
	if rep, err = h.svc.RefreshOverviews(ctx); err != nil || rep.LineAreas["power_upgrades"] != 1 {
		t.Errorf("refresh after a power edit: %+v, %v", rep, err)
	}
	var n int
	h.pool.QueryRow(ctx, `SELECT lines FROM lastmile.power_upgrade_overview WHERE area = '522302000000' AND band = 8 AND voltage_class = 35 AND status = 'completed'`).Scan(&n)
	if n != 2 {
		t.Errorf("band-8 35 kV completed lines %d, want 2", n)
	}
	// A TRUNCATE asks for a full rebuild.
	if _, err := h.pool.Exec(ctx, `TRUNCATE lastmile.water_pipelines`); err != nil {
		t.Fatal(err)
	}
	if rep, err = h.svc.RefreshOverviews(ctx); err != nil || !rep.Full {
		t.Errorf("refresh after TRUNCATE: %+v, %v", rep, err)
	}
	h.pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.water_pipeline_overview`).Scan(&n)
	if n != 0 {
		t.Errorf("%d pipeline overview rows after TRUNCATE", n)
	}
}

// tilesOver lists the tiles of zoom z covering b.
func tilesOver(b orb.Bound, z int) []maptile.Tile {
	lo, hi := tileAt(b.Min[0], b.Max[1], z), tileAt(b.Max[0], b.Min[1], z)
	var out []maptile.Tile
	for x := lo.X; x <= hi.X; x++ {
		for y := lo.Y; y <= hi.Y; y++ {
			out = append(out, maptile.New(x, y, maptile.Zoom(z)))
		}
	}
	return out
}

// tileTouches reports whether tile tl grown by the 64/4096 buffer
// intersects b.
func tileTouches(tl maptile.Tile, b orb.Bound) bool {
	tb := tl.Bound()
	dx, dy := (tb.Max[0]-tb.Min[0])*64/4096, (tb.Max[1]-tb.Min[1])*64/4096
	return tb.Min[0]-dx <= b.Max[0] && b.Min[0] <= tb.Max[0]+dx && tb.Min[1]-dy <= b.Max[1] && b.Min[1] <= tb.Max[1]+dy
}
