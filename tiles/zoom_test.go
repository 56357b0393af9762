package tiles

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// features returns the features of one MVT layer of a tile, as property
// maps (nil for an empty tile), through the HTTP handler.
func (h *harness) features(layers string, tl maptile.Tile, query, name string) []map[string]any {
	h.t.Helper()
	res := h.get(tilePath(layers, tl, query))
	if res.status == http.StatusNoContent {
		return nil
	}
	if res.status != http.StatusOK {
		h.t.Fatalf("%s %v: status %d: %s", layers, tl, res.status, res.body)
	}
	var out []map[string]any
	for _, d := range decodeTile(h.t.(*testing.T), res.body, tl) {
		if d.Layer == name {
			for _, f := range d.Features.Features {
				out = append(out, f.Properties)
			}
		}
	}
	return out
}

// featureIDs counts the features of one MVT layer of a tile with an id and
// without one.
func (h *harness) featureIDs(layers string, tl maptile.Tile, name string) (with, without int) {
	h.t.Helper()
	res := h.get(tilePath(layers, tl, ""))
	if res.status != http.StatusOK {
		h.t.Fatalf("%s %v: status %d", layers, tl, res.status)
	}
	for _, d := range decodeTile(h.t.(*testing.T), res.body, tl) {
		if d.Layer == name {
			for _, f := range d.Features.Features {
				if f.ID != nil {
					with++
				} else {
					without++
				}
			}
		}
	}
	return with, without
}

func values(fs []map[string]any, key string) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprint(f[key]))
	}
	sort.Strings(out)
	return out
}

// TestZoomRulesCountyRoadAndTrack: a county road and a track (a group road,
// substandard earth) share a z6 tile: at z6 the county road is drawn (from
// the overview, merged per class) and the track is not, whatever the
// table's size; the track appears at z12, where every road does. The tile
// an archive export renders (Render) is the handler's, byte for byte.
func TestZoomRulesCountyRoadAndTrack(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	_, err := h.pool.Exec(ctx, `
		INSERT INTO lastmile.roads (ext_id, name, status, road_class, tech_grade, surface, admin_code, geom) VALUES
		 ('zc', 'County road Z', 'completed', 'county', 'class3', 'asphalt', '522302001001',
		  ST_GeomFromText('LINESTRING(104.00 28.00, 104.10 28.02, 104.20 28.05)', 4326)),
		 ('zt', 'Track Z', 'completed', 'group', 'substandard', 'earth', '522302001001',
		  ST_GeomFromText('LINESTRING(104.05 28.03, 104.09 28.06)', 4326)),
		 ('zv', 'Village road Z', 'completed', 'village', 'class4', 'gravel', '522302001001',
		  ST_GeomFromText('LINESTRING(104.12 28.00, 104.15 28.04)', 4326));
		-- many tracks around: the tile holds far more rows than the county road
		INSERT INTO lastmile.roads (ext_id, status, road_class, tech_grade, surface, admin_code, geom)
		SELECT 'zt' || i, 'completed', 'group', 'substandard', 'earth', '522302001001',
		       ST_SetSRID(ST_MakeLine(ST_MakePoint(103.6 + (i % 50) * 0.02, 27.6 + (i / 50) * 0.02),
		                              ST_MakePoint(103.62 + (i % 50) * 0.02, 27.61 + (i / 50) * 0.02)), 4326)
		FROM generate_series(0, 1999) i`)
	if err != nil {
		t.Fatal(err)
	}
	z6 := tileAt(104.1, 28.02, 6)
	if tileAt(104.07, 28.045, 6) != z6 || tileAt(104.13, 28.02, 6) != z6 {
		t.Fatal("fixture: the roads are not in one z6 tile")
	}
	got := h.features("roads", z6, "", "roads")
	if classes := values(got, "road_class"); !slices.Equal(classes, []string{"county"}) {
		t.Fatalf("z6 road classes %v, want [county] (no village road, no track)", classes)
	}
	for _, f := range got {
		if f["roads"] != float64(1) || f["surface"] != "asphalt" {
			t.Errorf("z6 overview line %v, want the one county road, asphalt", f)
		}
	}
	// An overview line is no road: no feature id a client could look up
	// (the page's popup, QGIS's identify); a row at z12 has its own.
	if with, without := h.featureIDs("roads", z6, "roads"); with != 0 || without == 0 {
		t.Errorf("z6 overview lines: %d with a feature id, %d without; want none with", with, without)
	}
	if with, without := h.featureIDs("roads", tileAt(104.07, 28.045, 12), "roads"); with == 0 || without != 0 {
		t.Errorf("z12 roads: %d with a feature id, %d without; want all with", with, without)
	}
	// The same with a filter the overview cannot answer (from the rows).
	rows := h.features("roads", z6, "completed_after=1900-01-01&status=completed", "roads")
	if rows != nil {
		t.Errorf("z6 rows with completed_after: %v, want none (no road has completed_on)", rows)
	}
	rows = h.features("roads", z6, "filter="+url.QueryEscape("name LIKE '%Z'"), "roads") // all three roads match
	if names := values(rows, "name"); !slices.Equal(names, []string{"County road Z"}) {
		t.Errorf("z6 from the rows: %v, want [County road Z]", names)
	}
	// z8 (band 8): county and township; z10: village roads too; z12: all.
	if c := values(h.features("roads", tileAt(104.13, 28.02, 10), "", "roads"), "road_class"); !slices.Equal(c, []string{"county", "village"}) {
		t.Errorf("z10 classes %v, want [county village]", c)
	}
	z12 := tileAt(104.07, 28.045, 12)
	if names := values(h.features("roads", z12, "", "roads"), "name"); !slices.Contains(names, "Track Z") || !slices.Contains(names, "County road Z") {
		t.Errorf("z12 roads %v, want the track and the county road", names)
	}
	// The archive export's tile (Render) equals the server's.
	roads, _ := h.catalog.Layer("roads")
	mvt, err := h.svc.Render(ctx, []*layer.Layer{roads}, int(z6.Z), int(z6.X), int(z6.Y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := h.get(tilePath("roads", z6, "")); string(res.body) != string(mvt) {
		t.Errorf("Render's z6 tile (%d bytes) differs from the handler's (%d bytes)", len(mvt), len(res.body))
	}
}

// TestMinZoomSQLMatchesGo: the SQL form of the zoom rules gives every road
// class × technical grade, every admin level, pipeline diameter and line
// voltage the zoom the Go form gives.
func TestMinZoomSQLMatchesGo(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	check := func(l *layer.Layer, sqlValues string, vals map[string]any) {
		t.Helper()
		var z int
		q := "SELECT " + l.MinZoomSQL("t") + " FROM (SELECT " + sqlValues + ") t"
		if err := h.pool.QueryRow(ctx, q).Scan(&z); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want := l.FeatureMinZoom(vals); z != want {
			t.Errorf("%s %v: SQL zoom %d, Go zoom %d", l.Name, vals, z, want)
		}
	}
	roads, _ := h.catalog.Layer("roads")
	for _, c := range append(slices.Clone(layer.RoadClasses), "") {
		for _, g := range append(slices.Clone(layer.TechGrades), "") {
			vals := map[string]any{}
			sqlv := "NULL::text AS road_class, NULL::text AS tech_grade"
			if c != "" {
				vals["road_class"] = c
				sqlv = "'" + c + "'::text AS road_class"
			} else {
				sqlv = "NULL::text AS road_class"
			}
			if g != "" {
				vals["tech_grade"] = g
				sqlv += ", '" + g + "'::text AS tech_grade"
			} else {
				sqlv += ", NULL::text AS tech_grade"
			}
			check(roads, sqlv, vals)
		}
	}
	want := map[string]int{"county/class3": 6, "village/class1": 6, "township/class4": 8, "village/class4": 10, "group/substandard": 12}
	for k, z := range want {
		c, g, _ := strings.Cut(k, "/")
		if got := roads.FeatureMinZoom(map[string]any{"road_class": c, "tech_grade": g}); got != z {
			t.Errorf("road %s: zoom %d, want %d", k, got, z)
		}
	}
	pipes, _ := h.catalog.Layer("water_pipelines")
	for _, d := range []float64{50, 100, 299, 300, 800} {
		check(pipes, fmt.Sprintf("%g::int AS diameter_mm", d), map[string]any{"diameter_mm": d})
	}
	power, _ := h.catalog.Layer("power_upgrades")
	for _, v := range []float64{0.4, 10, 35, 110} {
		check(power, fmt.Sprintf("%g::float8 AS voltage_kv", v), map[string]any{"voltage_kv": v})
	}
	admin, _ := h.catalog.Layer("admin_areas")
	for _, lv := range layer.AdminLevels {
		check(admin, "'"+lv+"'::text AS level", map[string]any{"level": lv})
	}
	villages, _ := h.catalog.Layer("villages")
	for _, p := range []float64{0, 999, 1000, 5000} {
		check(villages, fmt.Sprintf("%g::int AS population", p), map[string]any{"population": p})
	}
}

// haversine is the great-circle distance in metres (mean Earth radius): an
// independent check of the geodesic 2 km test, with a wide margin.
func haversine(a, b orb.Point) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dlat, dlon := (b[1]-a[1])*rad, (b[0]-a[0])*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a[1]*rad)*math.Cos(b[1]*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// TestOverviewIncremental: the overviews are built once, then an edit
// (through the store, as the API makes it) recomputes only the areas it
// touches, and the next tile shows it: a new county road appears in the z6
// line of its county, its reclassification as a village road takes it out
// of z6, and a village edit and a road edit change the count point of
// their township (villages, population, covered).
func TestOverviewIncremental(t *testing.T) {
	h := newHarness(t, Options{CacheBytes: 1 << 20})
	ctx := context.Background()
	store := postgis.NewStore(h.pool, h.catalog)
	store.OnChange(h.svc.Invalidate)

	// Two counties: 522301 (the fixture's villages, by their codes) and
	// 522399 (a road far away, whose overview must stay untouched).
	if _, err := h.pool.Exec(ctx, `UPDATE lastmile.roads SET admin_code = '522399001001' WHERE ext_id = 'r4'`); err != nil {
		t.Fatal(err)
	}
	rep, err := h.svc.RefreshOverviews(ctx)
	if err != nil || !rep.Full {
		t.Fatalf("first refresh %+v, %v: want a full build", rep, err)
	}
	var farID int64
	var farGeom string
	if err := h.pool.QueryRow(ctx, `SELECT id, ST_AsEWKT(geom_3857) FROM lastmile.road_overview WHERE area = '522399000000' AND band = 8`).Scan(&farID, &farGeom); err != nil {
		t.Fatalf("far county's overview: %v", err)
	}
	z6 := tileAt(106.65, 26.61, 6)
	count := func() []map[string]any {
		return h.features("roads", z6, "", "roads")
	}
	before := count()
	if c := values(before, "road_class"); !slices.Equal(c, []string{"county"}) {
		t.Fatalf("z6 before: %v", c)
	}

	// A new county road in county 522301.
	line := orb.LineString{{106.60, 26.64}, {106.64, 26.66}}
	f, err := store.Create(ctx, "roads", map[string]any{"name": "New county road", "status": "completed", "road_class": "county",
		"tech_grade": "class3", "surface": "cement", "admin_code": "522301100201"}, line)
	if err != nil {
		t.Fatal(err)
	}
	after := count()
	if c := values(after, "surface"); !slices.Equal(c, []string{"asphalt", "cement"}) {
		t.Errorf("z6 surfaces after adding a cement county road: %v, want [asphalt cement]", c)
	}
	var changes int
	h.pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.overview_changes`).Scan(&changes)
	if changes != 0 {
		t.Errorf("%d changes left in the log after the tile", changes)
	}
	var id2 int64
	var geom2 string
	h.pool.QueryRow(ctx, `SELECT id, ST_AsEWKT(geom_3857) FROM lastmile.road_overview WHERE area = '522399000000' AND band = 8`).Scan(&id2, &geom2)
	if id2 != farID || geom2 != farGeom {
		t.Errorf("the far county's overview changed: id %d→%d", farID, id2)
	}

	// Reclassified as a village road: gone from z6, drawn at z10.
	if _, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(f.Version), map[string]any{"road_class": "village"}, nil); err != nil {
		t.Fatal(err)
	}
	if c := values(count(), "surface"); !slices.Equal(c, []string{"asphalt"}) {
		t.Errorf("z6 surfaces after reclassifying: %v, want [asphalt]", c)
	}
	var n int
	h.pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.road_overview WHERE area = '522301000000' AND road_class = 'village' AND surface = 'cement' AND band = 10`).Scan(&n)
	if n != 1 {
		t.Errorf("%d band-10 village/cement rows in county 522301, want 1", n)
	}

	// Village counts of township 522301100000: 3 villages, 2450 people,
	// 2 within 2 km of an all-season road (Hexi, at 106.69 26.64, is not).
	z5 := tileAt(106.65, 26.61, 5)
	township := func() map[string]any {
		for _, p := range h.features("villages", tileAt(106.65, 26.61, 8), "", "villages") {
			if p["code"] == "522301100000" {
				return p
			}
		}
		t.Fatal("no count point of township 522301100000")
		return nil
	}
	tw := township()
	if tw["villages"] != float64(3) || tw["population"] != float64(2450) || tw["covered"] != float64(2) {
		t.Fatalf("township before: %v", tw)
	}
	// A new village 1.5 km north of road A's east end, and one 2.5 km
	// north of it (distances checked by an independent formula).
	end := orb.Point{106.70, 26.62}
	near, far := orb.Point{106.70, 26.6335}, orb.Point{106.70, 26.6426}
	if d := haversine(end, near); d < 1400 || d > 1600 {
		t.Fatalf("near village %.0f m from the road", d)
	}
	if d := haversine(end, far); d < 2400 || d > 2600 {
		t.Fatalf("far village %.0f m from the road", d)
	}
	for i, p := range []orb.Point{near, far} {
		if _, err := store.Create(ctx, "villages", map[string]any{"name": fmt.Sprint("New ", i), "code": fmt.Sprintf("52230110030%d", i),
			"population": 100}, p); err != nil {
			t.Fatal(err)
		}
	}
	tw = township()
	if tw["villages"] != float64(5) || tw["population"] != float64(2650) || tw["covered"] != float64(3) || tw["covered_share"] != 0.6 {
		t.Errorf("township after two villages: %v, want 5 villages, 2650 people, 3 covered (0.6)", tw)
	}
	county := h.features("villages", z5, "", "villages")
	if len(county) != 1 || county[0]["code"] != "522301000000" || county[0]["villages"] != float64(5) {
		t.Errorf("county point at z5: %v", county)
	}
	// A road edit changes coverage: road A cancelled → no village covered
	// by it; the count point (far from the edit's tiles at z8) follows.
	var aID int64
	var aVer int
	h.pool.QueryRow(ctx, `SELECT id, version FROM lastmile.roads WHERE ext_id = 'r1'`).Scan(&aID, &aVer)
	if _, err := store.Patch(ctx, "roads", aID, postgis.IfVersion(aVer), map[string]any{"status": "cancelled"}, nil); err != nil {
		t.Fatal(err)
	}
	if tw = township(); tw["covered"] != float64(0) {
		t.Errorf("township after cancelling road A: covered %v, want 0", tw["covered"])
	}
	rep, err = h.svc.RefreshOverviews(ctx)
	if err != nil || rep.Full || rep.Changes != 0 {
		t.Errorf("refresh with nothing logged: %+v, %v", rep, err)
	}
	// A bulk statement (over 50 000 rows) asks for a full rebuild.
	if _, err := h.pool.Exec(ctx, `UPDATE lastmile.overview_state SET full_rebuild = true`); err != nil {
		t.Fatal(err)
	}
	if rep, err = h.svc.RefreshOverviews(ctx); err != nil || !rep.Full {
		t.Errorf("refresh after a bulk write: %+v, %v", rep, err)
	}
}

// TestTileJSONAndStyleZoomRules: TileJSON states each layer's zoom rules
// and overview; the style draws each road class from its zoom (filter) and
// the village count points below the villages' rows.
func TestTileJSONAndStyleZoomRules(t *testing.T) {
	h := newHarness(t, Options{})
	var tj TileJSON
	if err := json.Unmarshal(h.get("/tiles/roads,villages.json").body, &tj); err != nil {
		t.Fatal(err)
	}
	r := tj.VectorLayers[0]
	if r.ID != "roads" || r.MinZoom != 6 || r.FullZoom != 12 || len(r.ZoomRules) != 4 || r.Overview == nil ||
		r.Overview.Kind != "lines" || r.Overview.Below != 12 || fmt.Sprint(r.Overview.Bands) != "[6 8 10]" {
		t.Fatalf("roads vector layer %+v", r)
	}
	got := map[string]int{}
	for _, z := range r.ZoomRules {
		got[z.Field+"="+strings.Join(z.Values, ",")] = z.MinZoom
	}
	want := map[string]int{"road_class=county": 6, "tech_grade=expressway,class1,class2": 6, "road_class=township": 8, "road_class=village": 10}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("roads zoom rules %v, want %v", got, want)
	}
	v := tj.VectorLayers[1]
	if v.MinZoom != 3 || v.Overview == nil || v.Overview.Levels["county"] != 3 || v.Overview.Levels["township"] != 8 ||
		len(v.ZoomRules) != 1 || v.ZoomRules[0].AtLeast == nil || *v.ZoomRules[0].AtLeast != 1000 {
		t.Errorf("villages vector layer %+v", v)
	}
	var st struct {
		Layers []struct {
			ID      string
			MinZoom int   `json:"minzoom"`
			MaxZoom int   `json:"maxzoom"`
			Filter  []any `json:"filter"`
		}
	}
	if err := json.Unmarshal(h.get("/tiles/roads,villages/style.json").body, &st); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, l := range st.Layers {
		byID[l.ID] = i
	}
	line := st.Layers[byID["roads--line"]]
	f, _ := json.Marshal(line.Filter)
	f = []byte(strings.ReplaceAll(string(f), `\u003e`, ">"))
	for _, part := range []string{`[">=",["zoom"],12]`, `["all",[">=",["zoom"],6],["match",["get","road_class"],["county"],true,false]]`,
		`["all",[">=",["zoom"],8],["match",["get","road_class"],["township"],true,false]]`} {
		if !strings.Contains(string(f), part) {
			t.Errorf("roads--line filter %s lacks %s", f, part)
		}
	}
	if line.MinZoom != 6 {
		t.Errorf("roads--line minzoom %d", line.MinZoom)
	}
	areas, rows := st.Layers[byID["villages--areas"]], st.Layers[byID["villages--circle"]]
	if areas.MinZoom != 3 || areas.MaxZoom != 10 || rows.MinZoom != 10 {
		t.Errorf("villages--areas %d–%d, villages--circle from %d; want 3–10 and 10", areas.MinZoom, areas.MaxZoom, rows.MinZoom)
	}
}
