package archive

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/protomaps/go-pmtiles/pmtiles"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// county is the demo county's code.
const county = "371426000000"

// fixture is the demo county in a fresh database, a tile service to export
// through and the tile server (a separate service, cache on) to compare with.
type fixture struct {
	t      *testing.T
	pool   *pgxpool.Pool
	svc    *tiles.Service
	ex     *Exporter
	server *httptest.Server
	client *http.Client
	dir    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatalf("loading the demo county: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{t: t, pool: pool, dir: t.TempDir()}
	f.svc = tiles.New(pool, layer.Default(), log, tiles.Options{})
	f.ex = NewExporter(pool, f.svc)
	served := tiles.New(pool, layer.Default(), log, tiles.Options{CacheBytes: 64 << 20})
	r := mux.NewRouter()
	served.Register(r)
	f.server = httptest.NewServer(r)
	t.Cleanup(f.server.Close)
	f.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	return f
}

// serverTile fetches a tile from the tile server, uncompressed (nil: 204).
func (f *fixture) serverTile(layers string, z, x, y int, query string) []byte {
	f.t.Helper()
	u := fmt.Sprintf("%s/tiles/%s/%d/%d/%d.mvt", f.server.URL, layers, z, x, y)
	if query != "" {
		u += "?" + query
	}
	res, err := f.client.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusOK:
		return body
	case http.StatusNoContent:
		return nil
	}
	f.t.Fatalf("GET %s: %d %s", u, res.StatusCode, body)
	return nil
}

func (f *fixture) export(name string, o Options) *Report {
	f.t.Helper()
	rep, err := f.ex.Export(context.Background(), filepath.Join(f.dir, name), o)
	if err != nil {
		f.t.Fatalf("export %s: %v", name, err)
	}
	return rep
}

// readPMTiles reads every tile of a PMTiles archive with go-pmtiles (the
// reference implementation), uncompressed, by z/x/y.
func readPMTiles(t *testing.T, path string) (pmtiles.HeaderV3, map[maptile.Tile][]byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pmtiles.DeserializeHeader(b[:pmtiles.HeaderV3LenBytes])
	if err != nil {
		t.Fatal(err)
	}
	out := map[maptile.Tile][]byte{}
	fetch := func(off, n uint64) ([]byte, error) { return b[off : off+n], nil }
	err = pmtiles.IterateEntries(h, fetch, func(e pmtiles.EntryV3) {
		data := b[h.TileDataOffset+e.Offset : h.TileDataOffset+e.Offset+uint64(e.Length)]
		mvtBytes, err := gunzip(data)
		if err != nil {
			t.Fatalf("tile %d: %v", e.TileID, err)
		}
		for k := uint64(0); k < uint64(e.RunLength); k++ {
			z, x, y := pmtiles.IDToZxy(e.TileID + k)
			out[maptile.New(x, y, maptile.Zoom(z))] = mvtBytes
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, out
}

// readMBTiles reads every tile of an MBTiles file with plain SQL on the
// spec's tiles table (TMS rows), uncompressed, by z/x/y.
func readMBTiles(t *testing.T, path string) (map[string]string, map[maptile.Tile][]byte) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	meta := map[string]string{}
	rows, err := db.Query("SELECT name, value FROM metadata")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		meta[k] = v
	}
	rows.Close()
	out := map[maptile.Tile][]byte{}
	rows, err = db.Query("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var z, x, row uint32
		var data []byte
		if err := rows.Scan(&z, &x, &row, &data); err != nil {
			t.Fatal(err)
		}
		m, err := gunzip(data)
		if err != nil {
			t.Fatal(err)
		}
		out[maptile.New(x, (1<<z)-1-row, maptile.Zoom(z))] = m
	}
	return meta, out
}

// decode returns a tile's layers as comparable text: per layer, each
// feature's id, properties and geometry (tile coordinates), sorted.
func decode(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatalf("decoding a tile: %v", err)
	}
	out := map[string][]string{}
	for _, l := range layers {
		for _, ft := range l.Features {
			props, _ := json.Marshal(ft.Properties)
			geom, _ := json.Marshal(ft.Geometry)
			out[l.Name] = append(out[l.Name], fmt.Sprintf("%v %s %s", ft.ID, props, geom))
		}
		sort.Strings(out[l.Name])
	}
	return out
}

// coverOf returns the tiles of the demo county's admin area at z.
func (f *fixture) coverOf(z int) maptile.Set {
	a, err := f.ex.resolveArea(context.Background(), &Options{AdminCode: county})
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := a.cover(z)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestExportEqualsServerTiles(t *testing.T) {
	f := newFixture(t)
	all := strings.Join(layer.Default().Names(), ",")
	pm := f.export("county.pmtiles", Options{AdminCode: county, MinZoom: 6, MaxZoom: 12, Layers: layer.Default().Layers(), Workers: 3})
	mb := f.export("county.mbtiles", Options{AdminCode: county, MinZoom: 6, MaxZoom: 12, Layers: layer.Default().Layers(), Workers: 3})

	header, fromPM := readPMTiles(t, pm.Path)
	meta, fromMB := readMBTiles(t, mb.Path)
	covered, nonEmpty, features := 0, 0, 0
	for z := 6; z <= 12; z++ {
		for tl := range f.coverOf(z) {
			covered++
			want := f.serverTile(all, z, int(tl.X), int(tl.Y), "")
			for name, got := range map[string][]byte{"pmtiles": fromPM[tl], "mbtiles": fromMB[tl]} {
				if !bytes.Equal(got, want) {
					t.Errorf("%s tile %d/%d/%d: %d bytes, server %d bytes", name, z, tl.X, tl.Y, len(got), len(want))
					continue
				}
				if want != nil && !reflect.DeepEqual(decode(t, got), decode(t, want)) {
					t.Errorf("%s tile %d/%d/%d decodes differently", name, z, tl.X, tl.Y)
				}
			}
			if want != nil {
				nonEmpty++
				for _, fs := range decode(t, want) {
					features += len(fs)
				}
			}
		}
	}
	if len(fromPM) != nonEmpty || len(fromMB) != nonEmpty {
		t.Errorf("archives hold %d (pmtiles) and %d (mbtiles) tiles; the server has %d non-empty tiles over the county", len(fromPM), len(fromMB), nonEmpty)
	}
	if pm.Tiles != nonEmpty || pm.Covered != covered {
		t.Errorf("report: %d tiles of %d covered; want %d of %d", pm.Tiles, pm.Covered, nonEmpty, covered)
	}
	if nonEmpty < 40 || features < 1000 {
		t.Fatalf("the test archive is too small to mean much: %d tiles, %d features", nonEmpty, features)
	}
	t.Logf("county z6-12: %d tiles covered, %d non-empty, %d features; pmtiles %d bytes, mbtiles %d bytes", covered, nonEmpty, features, pm.Bytes, mb.Bytes)

	// Header and metadata.
	if header.MinZoom != 6 || header.MaxZoom != 12 || header.TileType != pmtiles.Mvt || header.TileCompression != pmtiles.Gzip || !header.Clustered {
		t.Errorf("pmtiles header: %+v", header)
	}
	if header.AddressedTilesCount != uint64(nonEmpty) {
		t.Errorf("addressed tiles %d, want %d", header.AddressedTilesCount, nonEmpty)
	}
	tj, err := f.svc.TileJSON(context.Background(), "", layer.Default().Layers(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var bound orb.Bound
	if err := f.pool.QueryRow(context.Background(), "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM lastmile.admin_areas WHERE code = $1", county).
		Scan(&bound.Min[0], &bound.Min[1], &bound.Max[0], &bound.Max[1]); err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }
	for i, v := range []float64{bound.Min[0], bound.Min[1], bound.Max[0], bound.Max[1]} {
		gotE7 := []int32{header.MinLonE7, header.MinLatE7, header.MaxLonE7, header.MaxLatE7}[i]
		if !near(float64(gotE7)/1e7, v) {
			t.Errorf("pmtiles bounds[%d] = %v, want %v", i, float64(gotE7)/1e7, v)
		}
	}
	var pmMeta map[string]any
	{
		b, _ := os.ReadFile(pm.Path)
		raw, err := gunzip(b[header.MetadataOffset : header.MetadataOffset+header.MetadataLength])
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(raw, &pmMeta)
	}
	wantLayers, _ := json.Marshal(tj.VectorLayers)
	gotLayers, _ := json.Marshal(pmMeta["vector_layers"])
	if !sameJSON(gotLayers, wantLayers) {
		t.Errorf("pmtiles vector_layers differ from the TileJSON's:\n got %s\nwant %s", gotLayers, wantLayers)
	}
	if pmMeta["attribution"] != "lastmile" || pmMeta["format"] != "pbf" {
		t.Errorf("pmtiles metadata: attribution %v, format %v", pmMeta["attribution"], pmMeta["format"])
	}
	var mbJSON struct {
		VectorLayers json.RawMessage `json:"vector_layers"`
	}
	json.Unmarshal([]byte(meta["json"]), &mbJSON)
	if !sameJSON(mbJSON.VectorLayers, wantLayers) {
		t.Errorf("mbtiles json vector_layers differ from the TileJSON's:\n got %s\nwant %s", mbJSON.VectorLayers, wantLayers)
	}
	wantMeta := map[string]string{"format": "pbf", "minzoom": "6", "maxzoom": "12", "attribution": "lastmile",
		"bounds": joinFloats([]float64{round7(bound.Min[0]), round7(bound.Min[1]), round7(bound.Max[0]), round7(bound.Max[1])})}
	for k, v := range wantMeta {
		if meta[k] != v {
			t.Errorf("mbtiles metadata %s = %q, want %q", k, meta[k], v)
		}
	}
	c := bound.Center()
	if meta["center"] != joinFloats([]float64{round7(c[0]), round7(c[1])})+",10" {
		t.Errorf("mbtiles center %q (county centre %v, zoom 10)", meta["center"], c)
	}

	// GDAL's MBTiles driver reads the same features: at z12 the ids of
	// the roads it returns are those of the roads in the tiles.
	wantIDs := map[string]bool{}
	for tl, b := range fromMB {
		if tl.Z != 12 {
			continue
		}
		layers, _ := mvt.Unmarshal(b)
		for _, l := range layers {
			if l.Name == "roads" {
				for _, ft := range l.Features {
					wantIDs[fmt.Sprint(ft.ID)] = true
				}
			}
		}
	}
	out, err := exec.Command("ogrinfo", "-ro", "-oo", "ZOOM_LEVEL=12", mb.Path, "roads").CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo (GDAL, installed by scripts/setup): %v\n%s", err, out)
	}
	gotIDs := map[string]bool{}
	for _, m := range regexp.MustCompile(`mvt_id \(Integer64\) = (\d+)`).FindAllStringSubmatch(string(out), -1) {
		gotIDs[m[1]] = true
	}
	if len(wantIDs) < 100 || !reflect.DeepEqual(gotIDs, wantIDs) {
		t.Errorf("GDAL reads %d distinct roads at z12, the tiles hold %d", len(gotIDs), len(wantIDs))
	}
}

func TestIdenticalTilesStoredOnce(t *testing.T) {
	f := newFixture(t)
	// Inside the county polygon, z13-14 tiles of the admin_areas layer
	// alone are the same square: one content, runs of tile ids.
	admin, _ := layer.Default().Layer("admin_areas")
	rep := f.export("admin.pmtiles", Options{AdminCode: county, MinZoom: 13, MaxZoom: 14, Layers: []*layer.Layer{admin}, Filters: mustFilters(t, admin, "level=county")})
	h, got := readPMTiles(t, rep.Path)
	distinct := map[string]bool{}
	for _, b := range got {
		distinct[string(b)] = true
	}
	if int(h.TileContentsCount) != len(distinct) || rep.Contents != len(distinct) {
		t.Errorf("contents: header %d, report %d; distinct tiles %d", h.TileContentsCount, rep.Contents, len(distinct))
	}
	if len(distinct)*3 > len(got) {
		t.Errorf("%d distinct contents for %d tiles: interior tiles are not shared", len(distinct), len(got))
	}
	if h.TileEntriesCount >= h.AddressedTilesCount {
		t.Errorf("%d entries for %d tiles: no run-length entries", h.TileEntriesCount, h.AddressedTilesCount)
	}
	mb := f.export("admin.mbtiles", Options{AdminCode: county, MinZoom: 13, MaxZoom: 14, Layers: []*layer.Layer{admin}, Filters: mustFilters(t, admin, "level=county")})
	db, _ := sql.Open("sqlite", "file:"+mb.Path+"?mode=ro")
	defer db.Close()
	var images, maps int
	db.QueryRow("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM map)").Scan(&images, &maps)
	if images != len(distinct) || maps != len(got) {
		t.Errorf("mbtiles: %d images for %d map rows; want %d for %d", images, maps, len(distinct), len(got))
	}
	t.Logf("%d tiles, %d distinct, %d pmtiles entries", len(got), len(distinct), h.TileEntriesCount)
}

func mustFilters(t *testing.T, l *layer.Layer, q string) tiles.Filters {
	t.Helper()
	vals, _ := url.ParseQuery(q)
	fs, err := tiles.ParseFilters([]*layer.Layer{l}, vals)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// hashes returns the tiles' content hashes by tile.
func hashes(m map[maptile.Tile][]byte) map[maptile.Tile]Hash {
	out := map[maptile.Tile]Hash{}
	for k, v := range m {
		out[k] = HashOf(v)
	}
	return out
}

func TestUpdateChangesExactlyTheEditedTiles(t *testing.T) {
	for _, ext := range []string{"pmtiles", "mbtiles"} {
		t.Run(ext, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			o := Options{AdminCode: county, MinZoom: 8, MaxZoom: 13, Layers: layer.Default().Layers()}
			rep := f.export("live."+ext, o)
			read := func(path string) map[maptile.Tile][]byte {
				if ext == "pmtiles" {
					_, m := readPMTiles(t, path)
					return m
				}
				_, m := readMBTiles(t, path)
				return m
			}
			before := hashes(read(rep.Path))
			time.Sleep(10 * time.Millisecond)
			// Move one road and delete one village.
			var roadID, villageID int64
			var oldB, newB, villageB orb.Bound
			err := f.pool.QueryRow(ctx, `
				UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.01, 0.005)
				WHERE id = (SELECT id FROM lastmile.roads ORDER BY length_m DESC LIMIT 1 OFFSET 20)
				RETURNING id`).Scan(&roadID)
			if err != nil {
				t.Fatal(err)
			}
			err = f.pool.QueryRow(ctx, `DELETE FROM lastmile.villages WHERE id = (SELECT min(id) FROM lastmile.villages) RETURNING id`).Scan(&villageID)
			if err != nil {
				t.Fatal(err)
			}
			f.pool.QueryRow(ctx, `SELECT ST_XMin(old_geom), ST_YMin(old_geom), ST_XMax(old_geom), ST_YMax(old_geom),
				ST_XMin(new_geom), ST_YMin(new_geom), ST_XMax(new_geom), ST_YMax(new_geom)
				FROM lastmile.feature_history WHERE layer = 'roads' AND feature_id = $1 AND op = 'update'`, roadID).
				Scan(&oldB.Min[0], &oldB.Min[1], &oldB.Max[0], &oldB.Max[1], &newB.Min[0], &newB.Min[1], &newB.Max[0], &newB.Max[1])
			f.pool.QueryRow(ctx, `SELECT ST_XMin(old_geom), ST_YMin(old_geom), ST_XMax(old_geom), ST_YMax(old_geom)
				FROM lastmile.feature_history WHERE layer = 'villages' AND feature_id = $1 AND op = 'delete'`, villageID).
				Scan(&villageB.Min[0], &villageB.Min[1], &villageB.Max[0], &villageB.Max[1])

			up, err := f.ex.Update(ctx, rep.Path, time.Time{}, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			fresh := f.export("fresh."+ext, o)
			after, want := hashes(read(up.Path)), hashes(read(fresh.Path))
			if !reflect.DeepEqual(after, want) {
				n := 0
				for k, v := range want {
					if after[k] != v {
						n++
					}
				}
				t.Fatalf("the updated archive differs from a fresh export in %d tiles (%d vs %d tiles)", n, len(after), len(want))
			}
			// The tiles that changed are within the tile buffer of the edits.
			near := maptile.Set{}
			for z := 8; z <= 13; z++ {
				for _, b := range []orb.Bound{oldB, newB, villageB} {
					near.Merge(touchedTiles(b, z))
				}
			}
			changed := 0
			for k := range union(before, after) {
				if before[k] != after[k] {
					changed++
					if !near[k] {
						t.Errorf("tile %d/%d/%d changed but is not near the edits", k.Z, k.X, k.Y)
					}
				}
			}
			if changed == 0 || up.Changed != changed {
				t.Errorf("%d tiles changed; the update reports %d", changed, up.Changed)
			}
			if up.Rendered >= rep.Rendered/2 {
				t.Errorf("the update rendered %d tiles; the full export %d", up.Rendered, rep.Rendered)
			}
			if up.Edits != 3 { // the road's old and new geometry, the village's old
				t.Errorf("edits %d, want 3", up.Edits)
			}
			if !up.Generated.After(rep.Generated) {
				t.Errorf("generation time %v not after %v", up.Generated, rep.Generated)
			}
			// A second update finds nothing to do.
			again, err := f.ex.Update(ctx, rep.Path, time.Time{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Edits != 0 || again.Rendered != 0 || again.Changed != 0 {
				t.Errorf("second update: %d edits, %d rendered, %d changed", again.Edits, again.Rendered, again.Changed)
			}
			t.Logf("%d tiles; update rendered %d, changed %d", len(after), up.Rendered, changed)
		})
	}
}

func union(a, b map[maptile.Tile]Hash) map[maptile.Tile]bool {
	out := map[maptile.Tile]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestHandlerServesTheArchive(t *testing.T) {
	f := newFixture(t)
	roads, _ := layer.Default().Layer("roads")
	rep := f.export("roads.pmtiles", Options{AdminCode: county, MinZoom: 10, MaxZoom: 11, Layers: []*layer.Layer{roads},
		Filters: mustFilters(t, roads, "status=completed")})
	for _, path := range []string{rep.Path} {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		mr := mux.NewRouter()
		NewHandler(r, "public, max-age=60").Register(mr)
		srv := httptest.NewServer(mr)
		defer srv.Close()
		get := func(p string, gz bool) (int, http.Header, []byte) {
			req, _ := http.NewRequest("GET", srv.URL+p, nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			res, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, res.Header, b
		}
		code, _, body := get("/tiles/roads.json", false)
		var tj tiles.TileJSON
		json.Unmarshal(body, &tj)
		if code != 200 || tj.MinZoom != 10 || tj.MaxZoom != 11 || len(tj.Tiles) != 1 || tj.Tiles[0] != srv.URL+"/tiles/roads/{z}/{x}/{y}.mvt?status=completed" {
			t.Errorf("TileJSON %d: %s", code, body)
		}
		n := 0
		for tl := range f.coverOf(11) {
			want := f.serverTile("roads", 11, int(tl.X), int(tl.Y), "status=completed")
			p := fmt.Sprintf("/tiles/roads/11/%d/%d.mvt?status=completed", tl.X, tl.Y)
			code, _, plain := get(p, false)
			if want == nil {
				if code != http.StatusNoContent {
					t.Errorf("%s: %d, want 204", p, code)
				}
				continue
			}
			code2, h, zipped := get(p, true)
			unzipped, err := gunzip(zipped)
			if code != 200 || code2 != 200 || !bytes.Equal(plain, want) || err != nil || !bytes.Equal(unzipped, want) || h.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: %d/%d, %d plain bytes, %d unzipped, server %d", p, code, code2, len(plain), len(unzipped), len(want))
			}
			n++
		}
		if n == 0 {
			t.Fatal("no tile compared")
		}
		for p, want := range map[string]int{
			"/tiles/villages/11/0/0.mvt":             404,
			"/tiles/roads/11/0/0.mvt?status=planned": 404,
			"/tiles/roads/11/5000/0.mvt":             400,
			"/tiles/roads/11/0/0.png":                400,
		} {
			if code, _, body := get(p, false); code != want {
				t.Errorf("%s: %d %s, want %d", p, code, body, want)
			}
		}
	}
}

func TestQGISOpensTheMBTiles(t *testing.T) {
	f := newFixture(t)
	rep := f.export("qgis.mbtiles", Options{AdminCode: county, MinZoom: 8, MaxZoom: 11, Layers: layer.Default().Layers()})
	cmd := exec.Command("/usr/bin/python3", "testdata/qgis_open.py", rep.Path)
	cmd.Env = append(os.Environ(), "QT_QPA_PLATFORM=offscreen")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("QGIS (python3-qgis, installed by scripts/setup): %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "valid=True") || !strings.Contains(string(out), "maxzoom=11") {
		t.Errorf("QGIS says:\n%s", out)
	}
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}
