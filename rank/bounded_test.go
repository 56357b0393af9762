package rank

import (
	"context"
	"math"
	"net/url"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

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
