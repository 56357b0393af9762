package rank

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/admit"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestSearchRadii(t *testing.T) {
	tests := []struct {
		name   string
		values url.Values
		want   []float64 // hazard, road, water, power, school, clinic
	}{
		{"defaults: the larger of limit and d_max", nil, []float64{200, 5000, 3000, 5000, 10000, 10000}},
		{"road limit above its d_max", url.Values{"constraints": {"road=8000"}}, []float64{200, 8000, 3000, 5000, 10000, 10000}},
		{"weights off: the constraint's limit only", url.Values{"weights": {"road=0,water=0,power=0,school=0,clinic=0"}},
			[]float64{200, 2000, 2000, 3000, 0, 0}},
		{"everything off: no probe", url.Values{"weights": {"road=0,water=0,power=0,school=0,clinic=0"}, "constraints": {"hazard=off,road=off,water=off,power=off"}},
			[]float64{0, 0, 0, 0, 0, 0}},
		{"d_max given", url.Values{"d_max_m": {"school=2500"}}, []float64{200, 5000, 3000, 5000, 2500, 10000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseValues(nil, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if got := searchRadii(req); !slices.Equal(got, tt.want) {
				t.Errorf("searchRadii = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBoundedSearch: a feature beyond a kind's search radius is not looked
// for (it could change neither a verdict nor a score); one inside it is
// measured exactly as before. The fixture's trunk road runs along 30°N
// from 110°E to 110.1°E; the road's d_max_m is 5000.
func TestBoundedSearch(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	inside := orb.Point{110.05, 30 - 0.045}  // 4.99 km south of the road
	outside := orb.Point{110.05, 30 - 0.046} // 5.10 km
	far := orb.Point{80, 35}                 // 3 000 km from everything
	var cands []candidate
	for i, p := range []orb.Point{inside, outside, far} {
		cands = append(cands, newCandidate(string(rune('a'+i)), "", p, nil))
	}
	req, err := ParseValues(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := measure(context.Background(), pool, req, cands)
	if err != nil {
		t.Fatal(err)
	}
	want := orbgeo.Distance(inside, orb.Point{110.05, 30}) // great circle; the spheroid differs by < 0.5 %
	if ms[0].road == nil || math.Abs(ms[0].road.DistanceM-want) > 0.005*want {
		t.Errorf("road from a point %.0f m away: %+v, want it measured", want, ms[0].road)
	}
	if ms[1].road != nil {
		t.Errorf("road beyond d_max_m 5000: got %+v, want none looked for", ms[1].road)
	}
	m := ms[2]
	for name, n := range map[string]*Nearest{"hazard": m.hazard, "road": m.road, "pipeline": m.pipeline, "source": m.source,
		"power": m.power, "school": m.school, "clinic": m.clinic, "village": m.village} {
		if n != nil {
			t.Errorf("far candidate: %s = %+v, want none within the radius", name, n)
		}
	}
	f := scoreCandidate(req, cands[2], m)
	if f.Properties.Total != 0 || !slices.Equal(f.Properties.Failed, []string{"road", "water", "power"}) {
		t.Errorf("far candidate: total %v, failed %v; want 0 and road, water, power", f.Properties.Total, f.Properties.Failed)
	}
}

// TestCandidateValidity: candidates are checked like features — a hole
// outside its shell names the ring; a self-intersecting polygon is refused
// by PostGIS's ST_IsValidReason with its feature number.
func TestCandidateValidity(t *testing.T) {
	hole := `{"candidates":{"source":"features","features":{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"geometry":{"type":"Polygon","coordinates":[[[117.2,37.3],[117.21,37.3],[117.21,37.31],[117.2,37.31],[117.2,37.3]],[[117.3,37.3],[117.301,37.3],[117.301,37.301],[117.3,37.301],[117.3,37.3]]]},"properties":{}}]}}}`
	_, err := ParseRequest([]byte(hole))
	if err == nil || !strings.Contains(err.Error(), "row 1: candidates.features: polygon, ring 1: the hole lies outside its shell (ring 0)") {
		t.Errorf("hole outside shell: %v", err)
	}
	far := `{"candidates":{"source":"features","features":{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[117,37]},"properties":{}},{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[179.9,60],[-179.9,60],[-179.9,61],[179.9,60]]]},"properties":{}}]}}}`
	if _, err := ParseRequest([]byte(far)); err == nil || !strings.Contains(err.Error(), "row 2: candidates.features: polygon, ring 0, points 0–1") {
		t.Errorf("ring across the antimeridian: %v", err)
	}
	pool := pgtest.New(t)
	bowtie := `{"candidates":{"source":"features","features":{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[117,37]},"properties":{}},{"type":"Feature","id":"b","geometry":{"type":"Polygon","coordinates":[[[117,37],[117.1,37.1],[117.1,37],[117,37.1],[117,37]]]},"properties":{}}]}}}`
	req, err := ParseRequest([]byte(bowtie))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), pool, req)
	var e *lastmile.Error
	if !errors.As(err, &e) || e.Code != lastmile.EINVALID || len(e.Details) != 1 || e.Details[0].Row != 2 || e.Details[0].Value != "b" ||
		!strings.Contains(e.Details[0].Message, "invalid geometry: Self-intersection") {
		t.Errorf("bow tie: %v", err)
	}
}

// TestHandlerGate: with a gate, an anonymous grid near the cell limit is
// refused by its estimated cost before anything runs, a token holder's is
// not; a repeated question is answered from the cache until the data
// changes.
func TestHandlerGate(t *testing.T) {
	pool := pgtest.New(t)
	fixture(t, pool)
	gate := admit.New(admit.Options{Slots: 1, Queue: 1, Wait: time.Second, PerClient: 1, Anonymous: 10 * time.Second, CacheBytes: 1 << 20, CacheTTL: time.Hour})
	r := mux.NewRouter()
	NewHandler(pool, slog.New(slog.NewTextHandler(io.Discard, nil))).WithGate(gate).Register(r)
	get := func(query string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/sites/rank?"+query, nil))
		return rec
	}
	// 10° × 10° at 2 350 m: 190 000 cells × 0.4 ms = 76 s estimated.
	rec := get("source=grid&bbox=80,30,90,40&cell_m=2350&limit=1")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "would cost about 1m1") {
		t.Fatalf("anonymous grid near the limit: %d %s", rec.Code, rec.Body)
	}
	n, _ := estimateCellsFor(t, []float64{80, 30, 90, 40}, 2350)
	if want := time.Duration(n * float64(CandidateCost)); !strings.Contains(rec.Body.String(), want.Round(time.Second).String()) {
		t.Errorf("estimate: want %s (%.0f cells × %s) in %s", want.Round(time.Second), n, CandidateCost, rec.Body)
	}
	small := "source=grid&bbox=110.03,30.002,110.05,30.008&cell_m=500&limit=3"
	for i, want := range []string{"MISS", "HIT"} {
		if rec := get(small); rec.Code != 200 || rec.Header().Get("Lastmile-Cache") != want {
			t.Fatalf("small grid, %d: %d %s %s", i, rec.Code, rec.Header().Get("Lastmile-Cache"), rec.Body)
		}
	}
	gate.Changed()
	if rec := get(small); rec.Header().Get("Lastmile-Cache") != "MISS" {
		t.Errorf("after a change: %s", rec.Header().Get("Lastmile-Cache"))
	}
}

func estimateCellsFor(t *testing.T, bbox []float64, cellM float64) (float64, error) {
	t.Helper()
	return estimateCells(bboxAreaM2(bbox), cellM), nil
}
