package demo

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
)

// seed1 is Generate(1), generated once for the tests that only read it.
var seed1 = sync.OnceValue(func() *County { return Generate(1) })

func TestChecksumDeterministic(t *testing.T) {
	tests := []struct {
		name string
		a, b int64
		same bool
	}{
		{"same seed 1", 1, 1, true},
		{"seeds 1 and 2", 1, 2, false},
		{"seeds 0 and 1", 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Generate(tt.a).Checksum(), seed1().Checksum() // a fresh county against the shared one
			if tt.b != 1 {
				b = Generate(tt.b).Checksum()
			}
			if (a == b) != tt.same {
				t.Errorf("checksums %s and %s: same = %v, want %v", a, b, a == b, tt.same)
			}
		})
	}
}

// TestChecksumCanonical checks that the serialization is byte-identical
// across runs (no map order leaks into it).
func TestChecksumCanonical(t *testing.T) {
	var a, b bytes.Buffer
	Generate(7).writeCanonical(&a)
	Generate(7).writeCanonical(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two serializations of seed 7 differ")
	}
	if !strings.Contains(a.String(), `"pinyin":`) || !strings.Contains(a.String(), "demo:villages:1|") {
		t.Errorf("serialization lacks props or ext ids:\n%.300s", a.String())
	}
}

var codeRE = regexp.MustCompile(`^371426(1[0-9]{2})([0-9]{3})$`)

// TestPlausible checks the generated data in Go for a few seeds.
func TestPlausible(t *testing.T) {
	catalog := layer.Default()
	for _, seed := range []int64{1, 2, 99} {
		c := Generate(seed)
		if seed == 1 {
			c = seed1()
		}
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			vils := c.Features("villages")
			if n := len(vils); n < 400 || n > 600 {
				t.Errorf("%d villages, want 400–600", n)
			}
			poor := 0
			for _, v := range vils {
				if v.Attrs["is_poor_village"] == true {
					poor++
				}
				if p := v.Attrs["population"].(int); p < 300 || p > 3000 {
					t.Errorf("%s: population %d outside 300–3000", v.ExtID, p)
				}
				if m := codeRE.FindStringSubmatch(v.AdminCode); m == nil || m[2] < "201" || v.Attrs["code"] != v.AdminCode {
					t.Errorf("%s: village code %q", v.ExtID, v.AdminCode)
				}
			}
			if share := float64(poor) / float64(len(vils)); share < 0.18 || share > 0.22 {
				t.Errorf("poor villages %d of %d = %.2f, want about a fifth", poor, len(vils), share)
			}

			var townships, counties int
			var county orb.MultiPolygon
			for _, a := range c.Features("admin_areas") {
				switch a.Attrs["level"] {
				case "county":
					counties++
					county = a.Geom.(orb.MultiPolygon)
				case "township":
					townships++
					if m := codeRE.FindStringSubmatch(a.AdminCode); m == nil || m[2] != "000" || a.Attrs["parent_code"] != CountyCode {
						t.Errorf("%s: township code %q parent %v", a.ExtID, a.AdminCode, a.Attrs["parent_code"])
					}
				}
			}
			if counties != 1 || townships != 12 {
				t.Errorf("%d counties and %d townships, want 1 and 12", counties, townships)
			}
			b := county.Bound()
			if b.Min[0] < 117.0 || b.Max[0] > 117.4 || b.Min[1] < 37.1 || b.Max[1] > 37.5 {
				t.Errorf("county bounds %v outside lon 117.0–117.4, lat 37.1–37.5", b)
			}
			if area := planar.Area(county) * kmPerDegLon * kmPerDegLat; area < 600 || area > 1100 {
				t.Errorf("county area %.0f km², want 600–1100", area)
			}

			renov := c.Features("house_renovations")
			var by2015 int
			end2015 := time.Date(2015, 12, 31, 0, 0, 0, 0, time.UTC)
			for _, r := range renov {
				if r.Status == "completed" && !r.CompletedOn.After(end2015) {
					by2015++
				}
			}
			if len(renov) != 565 || by2015 != 511 {
				t.Errorf("renovations %d, completed by 2015 %d; want exactly 565 and 511", len(renov), by2015)
			}

			var candidates int
			for _, s := range c.Features("relocation_sites") {
				if s.Status == "planned" {
					candidates++
				}
			}
			if candidates < 3 || candidates > 5 {
				t.Errorf("%d planned candidate sites, want 3–5", candidates)
			}

			// Every feature passes the catalog's validation and geo.Validate,
			// has a demo ext_id and a geometry kind its layer allows.
			seen := map[string]bool{}
			for _, l := range c.Layers {
				cl, ok := catalog.Layer(l.Name)
				if !ok {
					t.Fatalf("layer %s not in the catalog", l.Name)
				}
				if len(l.Features) == 0 {
					t.Errorf("layer %s is empty", l.Name)
				}
				for _, f := range l.Features {
					if seen[f.ExtID] || !strings.HasPrefix(f.ExtID, "demo:"+l.Name+":") {
						t.Errorf("ext_id %q duplicated or not demo:%s:<n>", f.ExtID, l.Name)
					}
					seen[f.ExtID] = true
					props := map[string]any{"name": f.Name, "status": f.Status, "admin_code": f.AdminCode}
					for k, v := range f.Attrs {
						props[k] = v
					}
					if _, problems := cl.Validate(jsonish(props), false); len(problems) > 0 {
						t.Errorf("%s: catalog validation: %+v", f.ExtID, problems)
					}
					if !cl.AllowsGeometry(geo.Kind(f.Geom)) {
						t.Errorf("%s: geometry %s not allowed", f.ExtID, geo.Kind(f.Geom))
					}
					if msgs := geo.Validate(f.Geom); len(msgs) > 0 {
						t.Errorf("%s: %v", f.ExtID, msgs)
					}
					if f.Status == "completed" && f.CompletedOn.IsZero() && !cl.Reference {
						t.Errorf("%s: completed without completed_on", f.ExtID)
					}
					if !f.StartedOn.IsZero() && !f.CompletedOn.IsZero() && f.CompletedOn.Before(f.StartedOn) {
						t.Errorf("%s: completed %s before started %s", f.ExtID, f.CompletedOn, f.StartedOn)
					}
				}
			}
		})
	}
}

// jsonish turns Go ints into float64 as decoded JSON would give them.
func jsonish(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if i, ok := v.(int); ok {
			v = float64(i)
		}
		out[k] = v
	}
	return out
}

// TestRoadsNoded checks in Go that the road network is one connected
// component over exactly shared endpoints (union-find) reaching every
// village, and that village-road hardening spans 2008–2019.
func TestRoadsNoded(t *testing.T) {
	for _, seed := range []int64{1, 5} {
		c := seed1()
		if seed != 1 {
			c = Generate(seed)
		}
		for _, p := range networkProblems(c) {
			t.Errorf("seed %d: %s", seed, p)
		}
		years := map[int]bool{}
		for _, r := range c.Features("roads") {
			if r.Attrs["road_class"] == "village" && r.Attrs["surface"] == "cement" && r.Status == "completed" {
				years[r.CompletedOn.Year()] = true
			}
		}
		for y := 2008; y <= 2019; y++ {
			if !years[y] {
				t.Errorf("seed %d: no village road hardened in %d", seed, y)
			}
		}
	}
}

func TestSegmentsConflict(t *testing.T) {
	tests := []struct {
		name           string
		p1, p2, q1, q2 vec
		want           bool
	}{
		{"crossing", vec{0, 0}, vec{2, 2}, vec{0, 2}, vec{2, 0}, true},
		{"disjoint", vec{0, 0}, vec{1, 0}, vec{0, 1}, vec{1, 1}, false},
		{"shared endpoint", vec{0, 0}, vec{1, 0}, vec{1, 0}, vec{1, 1}, false},
		{"T junction at a non-node", vec{0, 0}, vec{2, 0}, vec{1, 0}, vec{1, 1}, true},
		{"collinear overlap", vec{0, 0}, vec{2, 0}, vec{1, 0}, vec{3, 0}, true},
		{"shared endpoint, overlapping back", vec{0, 0}, vec{2, 0}, vec{0, 0}, vec{1, 0}, true},
		{"same segment", vec{0, 0}, vec{2, 0}, vec{2, 0}, vec{0, 0}, true},
		{"collinear apart", vec{0, 0}, vec{1, 0}, vec{2, 0}, vec{3, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := segmentsConflict(tt.p1, tt.p2, tt.q1, tt.q2); got != tt.want {
				t.Errorf("segmentsConflict = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVoronoiCellsPartition(t *testing.T) {
	square := []vec{{0, 0}, {10, 0}, {10, 10}, {0, 10}}
	seeds := []vec{{2, 2}, {8, 3}, {5, 8}}
	var sum float64
	for i := range seeds {
		cell := voronoiCell(square, seeds, i)
		if !inside(cell, seeds[i]) {
			t.Errorf("seed %d not inside its cell", i)
		}
		sum += signedArea(cell)
	}
	if math.Abs(sum-100) > 1e-9 {
		t.Errorf("cells cover %.12f, want 100", sum)
	}
}

// networkProblems lists what breaks the road network's invariants: two
// roads that touch other than at shared endpoints, more than one connected
// component over shared endpoints, or a village that is not a road
// endpoint.
func networkProblems(c *County) []string {
	parent := map[orb.Point]orb.Point{}
	var find func(orb.Point) orb.Point
	find = func(p orb.Point) orb.Point {
		q, ok := parent[p]
		if !ok {
			parent[p] = p
			return p
		}
		if q == p {
			return p
		}
		r := find(q)
		parent[p] = r
		return r
	}
	for _, r := range c.Features("roads") {
		l := r.Geom.(orb.LineString)
		a, b := find(l[0]), find(l[len(l)-1])
		parent[a] = b
	}
	var problems []string
	// Edges meet only at shared endpoints (checked on lon/lat: an affine
	// map of the plane the generator works in).
	roads := c.Features("roads")
	lines := make([][]vec, len(roads))
	for i, r := range roads {
		for _, p := range r.Geom.(orb.LineString) {
			lines[i] = append(lines[i], vec{p[0], p[1]})
		}
	}
	for i := range lines {
		bi := roads[i].Geom.Bound()
		for j := i + 1; j < len(lines); j++ {
			if bi.Intersects(roads[j].Geom.Bound()) && polylinesConflict(lines[i], lines[j]) {
				problems = append(problems, fmt.Sprintf("%s and %s meet other than at shared endpoints", roads[i].ExtID, roads[j].ExtID))
			}
		}
	}
	roots := map[orb.Point]bool{}
	for p := range parent {
		roots[find(p)] = true
	}
	if len(roots) != 1 {
		problems = append(problems, fmt.Sprintf("%d connected components, want 1", len(roots)))
	}
	for _, v := range c.Features("villages") {
		if _, ok := parent[v.Geom.(orb.Point)]; !ok {
			problems = append(problems, v.ExtID+" is not on the road network")
		}
	}
	return problems
}

// FuzzGenerate checks the invariants every seed must keep.
func FuzzGenerate(f *testing.F) {
	for _, seed := range []int64{1, 0, -1, 12345, math.MaxInt64, math.MinInt64} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		c := Generate(seed)
		if n := len(c.Features("villages")); n < 400 || n > 600 {
			t.Errorf("seed %d: %d villages", seed, n)
		}
		var by2015 int
		for _, r := range c.Features("house_renovations") {
			if r.Status == "completed" && r.CompletedOn.Year() <= 2015 {
				by2015++
			}
		}
		if n := len(c.Features("house_renovations")); n != 565 || by2015 != 511 {
			t.Errorf("seed %d: %d renovations, %d completed by 2015", seed, n, by2015)
		}
		for _, p := range networkProblems(c) {
			t.Errorf("seed %d: %s", seed, p)
		}
		bound := c.Features("admin_areas")[0].Geom.Bound()
		for _, l := range c.Layers {
			for _, f := range l.Features {
				if msgs := geo.Validate(f.Geom); len(msgs) > 0 {
					t.Errorf("seed %d: %s: %v", seed, f.ExtID, msgs)
				}
				if !bound.Contains(f.Geom.Bound().Min) || !bound.Contains(f.Geom.Bound().Max) {
					t.Errorf("seed %d: %s leaves the county's bounds", seed, f.ExtID)
				}
			}
		}
	})
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins seed 1 (its checksum and counts): the README's figures
// and other packages' expectations rest on it. After an intended change to
// the generator run go test ./demo -run TestGolden -update and update the
// README's figures. The checksum is only compared on amd64: architectures
// that fuse multiply-adds (arm64, ppc64, s390x) may round differently.
func TestGolden(t *testing.T) {
	c := seed1()
	got := "checksum " + c.Checksum() + "\n" + c.Summary()
	path := filepath.Join("testdata", "seed1.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		if runtime.GOARCH != "amd64" {
			t.Logf("seed 1 differs from %s on %s (expected where multiply-adds are fused):\n%s", path, runtime.GOARCH, got)
			return
		}
		t.Errorf("seed 1 differs from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
