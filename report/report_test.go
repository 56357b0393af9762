package report

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
	"github.com/lastmile/lastmile/server"
	"github.com/lastmile/lastmile/stats"
	"github.com/lastmile/lastmile/tiles"
)

// demoServer serves the demo county (seed 1) with every route lastmile
// serves the report from: tiles, stats and reports.
func demoServer(t *testing.T) (*httptest.Server, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatal(err)
	}
	catalog := layer.Default()
	ts := tiles.New(pool, catalog, nil, tiles.Options{CacheBytes: 32 << 20})
	srv := server.New(server.Options{RequestTimeout: time.Minute}, server.Deps{Pool: pool, Catalog: catalog, Mounts: []server.Mount{
		ts, stats.NewHandler(pool, catalog, nil), NewHandler(pool, catalog, ts, nil),
	}})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, pool
}

func get(t *testing.T, hs *httptest.Server, path string) (int, []byte) {
	t.Helper()
	res, err := http.Get(hs.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// api answers a statistics question through HTTP, as a client would.
func api(t *testing.T, hs *httptest.Server, path string) *stats.Result {
	t.Helper()
	code, b := get(t, hs, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var res stats.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// apiRow returns the row of the answer whose key column is code.
func apiRow(t *testing.T, res *stats.Result, key, code string) stats.Row {
	t.Helper()
	for _, g := range res.Groups {
		if g[key] == code {
			return g
		}
	}
	t.Fatalf("no row %s = %s in %v", key, code, res.Groups)
	return nil
}

// thousands writes n as the report does (12,345), independently.
func thousands(v any) string {
	n := int64(v.(float64))
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pct1(v any) string { return strconv.FormatFloat(v.(float64), 'f', 1, 64) + " %" }

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/setup (it installs chromium, poppler-utils and fonts-noto-cjk)", tool)
		}
	}
}

// printPDF prints the HTML report at path (fetched over HTTP) to a PDF
// and returns its file name and its text (pdftotext, whitespace folded),
// in reading order and as laid out (a table row on one line).
func printPDF(t *testing.T, hs *httptest.Server, path string) (string, string, string) {
	t.Helper()
	code, html := get(t, hs, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, html)
	}
	out := filepath.Join(t.TempDir(), "report.pdf")
	start := time.Now()
	if err := PDF(context.Background(), html, out, PDFOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s printed in %s", path, time.Since(start).Round(time.Millisecond))
	txt, err := exec.Command("pdftotext", "-enc", "UTF-8", out, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	layout, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", out, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return out, strings.Join(strings.Fields(string(txt)), " "), strings.Join(strings.Fields(string(layout)), " ")
}

func wantText(t *testing.T, text, what string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the PDF's text lacks %q", what, w)
		}
	}
}

func TestReport(t *testing.T) {
	need(t, "pdftotext", "pdftoppm")
	if _, err := FindChromium(""); err != nil {
		t.Fatal(err)
	}
	hs, pool := demoServer(t)
	const county = demo.CountyCode
	ctx := context.Background()

	// The API's answers for the report's questions.
	straight := apiRow(t, api(t, hs, "/api/stats/coverage?target=villages&source=roads&within_m=1000&source_filter=graded&group_by=county"), "code", county)
	network := apiRow(t, api(t, hs, "/api/stats/coverage?target=villages&source=roads&within_m=1000&source_filter=graded&group_by=county&method=network"), "code", county)
	rai := apiRow(t, api(t, hs, "/api/stats/rai?within_m=2000&group_by=county"), "code", county)
	km := apiRow(t, api(t, hs, "/api/stats/lengths?layer=roads&filter=hardened&status=completed&group_by=county"), "county", county)
	ren := apiRow(t, api(t, hs, "/api/stats/progress?layer=house_renovations&group_by=county"), "county", county)
	water := apiRow(t, api(t, hs, "/api/stats/progress?layer=water_pipelines&group_by=county"), "county", county)
	power := apiRow(t, api(t, hs, "/api/stats/progress?layer=power_upgrades&group_by=county"), "county", county)
	byTownship := api(t, hs, "/api/stats/lengths?layer=roads&filter=hardened&status=completed&group_by=township")
	byYear := api(t, hs, "/api/stats/lengths?layer=roads&filter=hardened&status=completed&group_by=county,year")

	// An independent computation of two of them, in SQL written here.
	var wantKm float64
	var done, active int64
	if err := pool.QueryRow(ctx, `SELECT round((sum(ST_Length(geom::geography)) / 1000)::numeric, 2)::float8 FROM lastmile.roads
		WHERE status = 'completed' AND surface IN ('cement', 'asphalt', 'stone') AND left(admin_code, 6) = '371426'`).Scan(&wantKm); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status <> 'cancelled') FROM lastmile.house_renovations`).Scan(&done, &active); err != nil {
		t.Fatal(err)
	}
	if math.Abs(km["km"].(float64)-wantKm) > 0.011 || ren["completed"].(float64) != float64(done) {
		t.Fatalf("API km %v (SQL %v), renovations %v (SQL %d)", km["km"], wantKm, ren["completed"], done)
	}
	t.Logf("API: straight %v/%v (%v %%), network %v/%v (%v %%), RAI %v %% of %v, km %v, renovations %v of %v (%v %%), water %v %%, power %v %%",
		straight["covered"], straight["total"], straight["pct"], network["covered"], network["total"], network["pct"], rai["rai"], rai["population"],
		km["km"], ren["completed"], active, ren["pct"], water["pct"], power["pct"])
	active2 := func(r stats.Row) string { return thousands(r["total"].(float64) - r["cancelled"].(float64)) }

	headline := map[string][]string{
		"en": {
			pct1(straight["pct"]), thousands(straight["covered"]) + " of " + thousands(straight["total"]) + " villages",
			pct1(network["pct"]), thousands(network["covered"]) + " of " + thousands(network["total"]) + " villages",
			pct1(rai["rai"]), thousands(rai["population_covered"]) + " of " + thousands(rai["population"]) + " people",
			fmt.Sprintf("%.2f km", km["km"]), thousands(km["count"]) + " roads",
			pct1(ren["pct"]), thousands(ren["completed"]) + " of " + active2(ren),
			pct1(water["pct"]), thousands(water["completed"]) + " of " + active2(water),
			pct1(power["pct"]), thousands(power["completed"]) + " of " + active2(power),
		},
		"zh": {
			pct1(straight["pct"]), thousands(straight["total"]) + " 个行政村中 " + thousands(straight["covered"]) + " 个",
			pct1(network["pct"]), thousands(network["total"]) + " 个行政村中 " + thousands(network["covered"]) + " 个",
			pct1(rai["rai"]), thousands(rai["population"]) + " 人中 " + thousands(rai["population_covered"]) + " 人",
			fmt.Sprintf("%.2f 公里", km["km"]),
			pct1(ren["pct"]), active2(ren) + " 项中 " + thousands(ren["completed"]) + " 项",
			pct1(water["pct"]), active2(water) + " 项中 " + thousands(water["completed"]) + " 项",
			pct1(power["pct"]), active2(power) + " 项中 " + thousands(power["completed"]) + " 项",
			"商河县", "距等级公路 1 公里内的行政村", "农村可达性指数",
		},
	}
	for _, lang := range []string{"en", "zh"} {
		t.Run(lang, func(t *testing.T) {
			file, text, _ := printPDF(t, hs, "/reports/"+county+"?lang="+lang)
			wantText(t, text, "headline", headline[lang]...)
			// The township table: each township's hardened km, as the API says.
			n := 0
			for _, g := range byTownship.Groups {
				if s, _ := g["township"].(string); strings.HasPrefix(s, "371426") {
					wantText(t, text, "township "+s, s+" ", fmt.Sprintf(" %.2f ", g["km"]))
					n++
				}
			}
			if n < 10 {
				t.Errorf("%d townships in the API's answer", n)
			}
			for _, g := range byYear.Groups {
				if g["year"] != nil {
					wantText(t, text, fmt.Sprint("year ", g["year"]), fmt.Sprintf("%.2f", g["km"]))
				}
			}
			checkPages(t, file)
		})
	}

	t.Run("compare", func(t *testing.T) {
		const then = "2015-12-31"
		old := apiRow(t, api(t, hs, "/api/stats/coverage?target=villages&source=roads&within_m=1000&source_filter=graded&group_by=county&as_of="+then), "code", county)
		oldKm := apiRow(t, api(t, hs, "/api/stats/lengths?layer=roads&filter=hardened&status=completed&group_by=county&as_of="+then), "county", county)
		oldRen := apiRow(t, api(t, hs, "/api/stats/progress?layer=house_renovations&group_by=county&as_of="+then), "county", county)
		if old["covered"] == straight["covered"] && oldKm["km"] == km["km"] {
			t.Fatalf("the demo county did not change since %s: the test cannot tell the dates apart", then)
		}
		_, _, text := printPDF(t, hs, "/reports/"+county+"?compare="+then)
		i := strings.Index(text, "Then and now")
		if i < 0 {
			t.Fatalf("no then-and-now table in %q", text)
		}
		table := text[i:]
		// Each row on one line: the figure, then, now.
		wantText(t, table, "then and now", "Figure "+then+" current data Change",
			"straight line "+thousands(old["covered"])+"/"+thousands(old["total"])+" ("+pct1(old["pct"])+") "+
				thousands(straight["covered"])+"/"+thousands(straight["total"])+" ("+pct1(straight["pct"])+")",
			fmt.Sprintf("(km) %.2f %.2f", oldKm["km"], km["km"]),
			"completed "+thousands(oldRen["completed"])+"/"+active2(oldRen)+" ("+pct1(oldRen["pct"])+") "+thousands(ren["completed"])+"/"+active2(ren))
		t.Logf("then (%s): %v/%v villages, %v km, %v renovations; now: %v/%v, %v km, %v", then, old["covered"], old["total"], oldKm["km"], oldRen["completed"],
			straight["covered"], straight["total"], km["km"], ren["completed"])
	})

	t.Run("township", func(t *testing.T) {
		const tw = "371426100000"
		row := apiRow(t, api(t, hs, "/api/stats/coverage?target=villages&source=roads&within_m=1000&source_filter=graded&group_by=township"), "code", tw)
		twKm := apiRow(t, api(t, hs, "/api/stats/lengths?layer=roads&filter=hardened&status=completed&group_by=township"), "township", tw)
		code, b := get(t, hs, "/reports/"+tw)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, b)
		}
		html := string(b)
		for _, w := range []string{
			fmt.Sprintf(`data-figure="straight" data-covered="%v" data-total="%v" data-pct="%s"`, row["covered"], row["total"], pct1(row["pct"])),
			fmt.Sprintf(`data-figure="km" data-km="%.2f"`, twKm["km"]),
		} {
			if !strings.Contains(html, w) {
				t.Errorf("township report lacks %s", w)
			}
		}
	})

	t.Run("self-contained", func(t *testing.T) {
		_, b := get(t, hs, "/reports/"+county+"?lang=zh")
		html := strings.ReplaceAll(string(b), `xmlns="http://www.w3.org/2000/svg"`, "")
		for _, re := range []string{`(?i)\bsrc\s*=`, `(?i)<link\b`, `(?i)url\(\s*['"]?(https?:|//)`, `(?i)<script\b`, `(?i)https?://`} {
			if m := regexp.MustCompile(re).FindString(html); m != "" {
				t.Errorf("the report refers to something outside itself: %s", m)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		// A village-level admin area: known, but not what a report is about.
		if _, err := pool.Exec(ctx, `INSERT INTO lastmile.admin_areas (level, code, parent_code, name, geom)
			VALUES ('village', '371426100201', '371426100000', 'a village', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326), 0.001)))`); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path   string
			status int
			code   string
			field  string
		}{
			{"/reports/999999000000", 404, "not_found", ""},
			{"/reports/" + county + "?as_of=2015-13-45", 400, "invalid", "as_of"},
			{"/reports/" + county + "?compare=2015", 400, "invalid", "compare"},
			{"/reports/" + county + "?lang=fr", 400, "invalid", "lang"},
			{"/reports/" + county + "?format=pdf", 400, "invalid", "format"},
			{"/reports/37142", 400, "invalid", "admin_code"},
			{"/reports/371426100201", 400, "invalid", "admin_code"}, // a village
		} {
			code, b := get(t, hs, tc.path)
			var body struct {
				Error struct {
					Code    string                   `json:"code"`
					Message string                   `json:"message"`
					Details []struct{ Field string } `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Errorf("%s: not JSON: %s", tc.path, b)
				continue
			}
			if code != tc.status || body.Error.Code != tc.code || (tc.field != "" && (len(body.Error.Details) == 0 || body.Error.Details[0].Field != tc.field)) {
				t.Errorf("%s: %d %s, want %d %s on %s", tc.path, code, b, tc.status, tc.code, tc.field)
			}
		}
	})
}

// checkPages rasterises the PDF: no page is blank, and the map on page 1
// has road pixels (the surface colours) spread over a map-sized region.
func checkPages(t *testing.T, file string) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("pdftoppm", "-r", "72", "-png", file, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "p-*.png"))
	if len(pages) < 2 {
		t.Fatalf("%d pages", len(pages))
	}
	for i, p := range pages {
		img := readPNG(t, p)
		b := img.Bounds()
		ink, road := 0, 0
		x0, y0, x1, y1 := b.Max.X, b.Max.Y, 0, 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				r, g, bl = r>>8, g>>8, bl>>8
				if r < 235 || g < 235 || bl < 235 {
					ink++
				}
				if near(r, g, bl, 0x2a, 0x6f, 0xdb) || near(r, g, bl, 0x1d, 0x35, 0x57) { // cement, asphalt
					road++
					x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
				}
			}
		}
		area := b.Dx() * b.Dy()
		if ink < area/400 {
			t.Errorf("page %d is blank: %d of %d pixels inked", i+1, ink, area)
		}
		if i == 0 {
			t.Logf("page 1: %d of %d pixels inked, %d road pixels over %d×%d px", ink, area, road, x1-x0, y1-y0)
			if road < 1500 || x1-x0 < b.Dx()/2 || y1-y0 < b.Dy()/4 {
				t.Errorf("page 1: %d road pixels over %d×%d px: the map shows no roads", road, x1-x0, y1-y0)
			}
		}
	}
}

func near(r, g, b, R, G, B uint32) bool {
	d := func(a, b uint32) uint32 {
		if a > b {
			return a - b
		}
		return b - a
	}
	return d(r, R)+d(g, G)+d(b, B) < 60
}

func readPNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
