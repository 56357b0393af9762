package stats

import (
	"context"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestRepairEqualsSearch: on random graphs, a search repaired after random
// edits — edges removed, added and re-costed, seeds moved, vertices added —
// equals a whole search of the edited graph bit for bit, and reports
// exactly the vertices whose cost (or length) changed. Costs are drawn
// from a few values so that ties (several least paths) are common, except
// on timed graphs: there they are distinct, so that the length of the
// least path is defined.
func TestRepairEqualsSearch(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1414))
	type edge struct {
		s, d      int32
		c, length float64
	}
	build := func(n int, es []edge, timed bool) *graph {
		src, dst := make([]int32, len(es)), make([]int32, len(es))
		cost, length := make([]float64, len(es)), []float64(nil)
		if timed {
			length = make([]float64, len(es))
		}
		for i, e := range es {
			src[i], dst[i], cost[i] = e.s, e.d, e.c
			if timed {
				length[i] = e.length
			}
		}
		return newGraph(n, src, dst, cost, length)
	}
	timed := false
	randCost := func() float64 {
		if timed { // distinct: each least path and its length unique
			return 1 + rng.Float64()
		}
		return float64(1 + rng.Intn(4))
	}
	randEdge := func(n int) edge {
		return edge{s: int32(rng.Intn(n)), d: int32(rng.Intn(n)), c: randCost(), length: rng.Float64() * 100}
	}
	randSeeds := func(n int) []seed {
		var out []seed
		for k := rng.Intn(4); k >= 0; k-- {
			out = append(out, seed{v: int64(rng.Intn(n)), origin: -1})
		}
		return out
	}
	cases, repairedAny := 0, 0
	for trial := 0; trial < 400; trial++ {
		timed = trial%2 == 1
		n := 5 + rng.Intn(60)
		var es []edge
		for k := rng.Intn(3 * n); k > 0; k-- {
			es = append(es, randEdge(n))
		}
		seeds := randSeeds(n)
		old, err := build(n, es, timed).search(ctx, seeds)
		if err != nil {
			t.Fatal(err)
		}
		// the edit
		n2 := n + rng.Intn(3)
		var es2 []edge
		for _, e := range es {
			switch rng.Intn(10) {
			case 0: // removed
			case 1: // re-costed
				e.c = randCost()
				es2 = append(es2, e)
			default:
				es2 = append(es2, e)
			}
		}
		for k := rng.Intn(4); k > 0; k-- {
			es2 = append(es2, randEdge(n2))
		}
		if rng.Intn(3) == 0 {
			seeds = randSeeds(n2)
		}
		g := build(n2, es2, timed)
		want, err := g.search(ctx, seeds)
		if err != nil {
			t.Fatal(err)
		}
		got, changed, err := g.repair(ctx, seeds, old)
		if err != nil {
			t.Fatal(err)
		}
		cases++
		var wantChanged []int32
		for v := range want.cost {
			if got.cost[v] != want.cost[v] || (timed && got.length[v] != want.length[v]) || got.origin[v] != -1 {
				t.Fatalf("trial %d (timed %v), vertex %d: repaired cost %v length %v origin %d, searched %v %v",
					trial, timed, v, got.cost[v], got.length[v], got.origin[v], want.cost[v], want.length[v])
			}
			if v >= len(old.cost) && !math.IsInf(want.cost[v], 1) || v < len(old.cost) && (old.cost[v] != want.cost[v] || timed && old.length[v] != want.length[v]) {
				wantChanged = append(wantChanged, int32(v))
			}
		}
		if len(wantChanged) > 0 {
			repairedAny++
		}
		if !reflect.DeepEqual(changed, wantChanged) {
			t.Fatalf("trial %d: changed %v, want %v", trial, changed, wantChanged)
		}
	}
	if repairedAny < cases/2 {
		t.Fatalf("only %d of %d edits changed any cost: the trials do not exercise the repair", repairedAny, cases)
	}
}

// TestNetworkRepairAfterEdits: after every kind of road and village edit,
// the first tally of each kept definition is answered by repairing its
// search (and, when only roads changed, its village measures) rather than
// by a new search over every village — and equals the answer of the edges
// read as rows with every village snapped per question.
func TestNetworkRepairAfterEdits(t *testing.T) {
	pool := pgtest.New(t)
	ids, node := gridNetwork(t, pool)
	questions := []string{
		"source_filter=hardened&within_m=400&method=network&group_by=township",
		"source_filter=surface:asphalt&within_m=700&method=network",
		"source_filter=hardened&within_min=2&metric=time&method=network&group_by=county",
		// the first definition's measures, summed in SQL with a target filter
		"source_filter=hardened&within_m=300&method=network&target_filter=population>30",
	}
	const definitions = 3
	ask := func(packed bool) []*Result { return askCoverage(t, pool, packed, questions) }
	compare := func(name string) {
		t.Helper()
		searches, measures := repairedSearches.Load(), repairedMeasures.Load()
		got := ask(true)
		roadsOnly := name != "" && !strings.Contains(name, "village")
		if d := repairedSearches.Load() - searches; roadsOnly && d != definitions {
			t.Errorf("%s: %d searches repaired, want %d", name, d, definitions)
		}
		if d := repairedMeasures.Load() - measures; roadsOnly && d != definitions {
			t.Errorf("%s: %d village measures repaired, want %d", name, d, definitions)
		}
		want := ask(false)
		for i := range questions {
			if !reflect.DeepEqual(got[i].Groups, want[i].Groups) || !reflect.DeepEqual(got[i].Total, want[i].Total) {
				t.Fatalf("%s, %s:\nrepaired %v %v\nsearched %v %v", name, questions[i], got[i].Total, got[i].Groups, want[i].Total, want[i].Groups)
			}
		}
	}
	compare("")
	res := ask(true)
	for i := 0; i < definitions; i++ {
		if c, tot := res[i].Total["covered"].(int64), res[i].Total["total"].(int64); c == 0 || c == tot {
			t.Fatalf("%s: %d of %d covered: the fixture does not discriminate", questions[i], c, tot)
		}
	}
	changedSome := false
	for _, e := range gridEdits(ids, node) {
		before := ask(true)
		mustExec(t, pool, e.sql)
		compare(e.name)
		if !reflect.DeepEqual(before[0].Total, ask(true)[0].Total) {
			changedSome = true
		}
	}
	if !changedSome {
		t.Fatal("no edit changed the first answer: the edits do not exercise the repair")
	}
	// a whole rebuild (new vertex ids) is searched again, not repaired
	searches := repairedSearches.Load()
	mustExec(t, pool, `SELECT lastmile.route_graph_rebuild(true)`)
	compare("")
	if d := repairedSearches.Load() - searches; d != 0 {
		t.Errorf("whole rebuild: %d searches repaired, want 0", d)
	}
}
