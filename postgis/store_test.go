package postgis_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func newStore(t *testing.T) (*postgis.Store, context.Context, func(table string) int) {
	pool := pgtest.New(t)
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "Transport bureau", RequestID: "req-1"})
	count := func(table string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.`+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return postgis.NewStore(pool, layer.Default()), ctx, count
}

var road = orb.LineString{{117.10, 37.20}, {117.11, 37.21}, {117.12, 37.21}}

func TestStoreCRUD(t *testing.T) {
	store, ctx, count := newStore(t)
	var changed []string
	store.OnChange(func(l string, b []orb.Bound) { changed = append(changed, l) })

	f, err := store.Create(ctx, "roads", map[string]any{
		"name": "X012 王家庄路", "status": "completed", "surface": "cement", "road_class": "village",
		"completed_on": "2015-06-30", "funding_yuan": 1200000.0, "width_m": 4.5,
	}, road)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || f.Properties["surface"] != "cement" || f.Properties["completed_on"] != "2015-06-30" {
		t.Fatalf("created = %+v", f)
	}
	if f.Properties["updated_by"] != "Transport bureau" {
		t.Errorf("updated_by = %v", f.Properties["updated_by"])
	}
	// Geodesic length of the line (about 1.43 km + 0.89 km).
	if l := f.Properties["length_m"].(float64); l < 2200 || l > 2400 {
		t.Errorf("length_m = %v", l)
	}

	got, err := store.Get(ctx, "roads", f.ID)
	if err != nil || !orb.Equal(got.Geometry, road) {
		t.Fatalf("get = %+v, %v", got, err)
	}

	// Patch with the current version succeeds and bumps it.
	p, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(1), map[string]any{"surface": "asphalt", "width_m": nil}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || p.Properties["surface"] != "asphalt" || p.Properties["width_m"] != nil || p.Properties["name"] != "X012 王家庄路" {
		t.Fatalf("patched = %+v", p.Properties)
	}
	// A stale version is a precondition error, not a silent overwrite.
	_, err = store.Patch(ctx, "roads", f.ID, postgis.IfVersion(1), map[string]any{"surface": "earth"}, nil)
	if lastmile.ErrorCode(err) != lastmile.EPRECONDITION {
		t.Fatalf("stale patch: err = %v, want precondition", err)
	}
	// Replace drops what is not sent.
	moved := orb.LineString{{117.10, 37.20}, {117.13, 37.22}}
	r, err := store.Replace(ctx, "roads", f.ID, postgis.IfVersion(2), map[string]any{"status": "planned"}, moved)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 || r.Properties["surface"] != nil || r.Properties["name"] != nil || !orb.Equal(r.Geometry, moved) {
		t.Fatalf("replaced = %+v", r)
	}
	// A patch that changes nothing keeps the version and writes no history.
	same, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(3), map[string]any{"status": "planned"}, nil)
	if err != nil || same.Version != 3 {
		t.Fatalf("no-op patch: %+v, %v", same, err)
	}
	if err := store.Delete(ctx, "roads", f.ID, postgis.IfVersion(2)); lastmile.ErrorCode(err) != lastmile.EPRECONDITION {
		t.Fatalf("stale delete: %v", err)
	}
	if err := store.Delete(ctx, "roads", f.ID, postgis.IfVersion(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "roads", f.ID); lastmile.ErrorCode(err) != lastmile.ENOTFOUND {
		t.Fatalf("get after delete: %v", err)
	}

	h, err := store.History(ctx, "roads", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range h {
		ops = append(ops, e.Op)
		if e.Actor != "Transport bureau" || e.RequestID != "req-1" {
			t.Errorf("history actor = %q request = %q", e.Actor, e.RequestID)
		}
	}
	if strings.Join(ops, ",") != "insert,update,update,delete" {
		t.Fatalf("history ops = %v", ops)
	}
	if strings.Join(h[1].Changed, ",") != "surface,width_m" {
		t.Errorf("patch changed = %v", h[1].Changed)
	}
	if !strings.Contains(strings.Join(h[2].Changed, ","), "geometry") || h[2].OldGeom == nil || h[2].NewGeom == nil {
		t.Errorf("replace history = %+v", h[2])
	}
	if count("roads") != 0 || count("feature_history") != 4 {
		t.Errorf("rows = %d roads, %d history", count("roads"), count("feature_history"))
	}
	if strings.Join(changed, ",") != "roads,roads,roads,roads" {
		t.Errorf("change notifications = %v", changed)
	}
}

// TestStorePreconditions: a write applies when the current version is one
// of the precondition's, at any version with Any or no precondition, and
// each history row says which precondition its write had.
func TestStorePreconditions(t *testing.T) {
	pool := pgtest.New(t)
	store := postgis.NewStore(pool, layer.Default())
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "Transport bureau", RequestID: "req-1"})
	f, err := store.Create(ctx, "roads", map[string]any{"status": "planned"}, road)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		write   func() error
		code    string // "" for success
		message string // part of the error message
	}{
		{"a list that holds the current version", func() error {
			_, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(7, 1), map[string]any{"name": "a"}, nil)
			return err
		}, "", ""},
		{"a list without it", func() error {
			_, err := store.Patch(ctx, "roads", f.ID, postgis.IfVersion(1, 3), map[string]any{"name": "lost"}, nil)
			return err
		}, lastmile.EPRECONDITION, "is at version 2, not 1 or 3"},
		{"any version", func() error {
			_, err := store.Replace(ctx, "roads", f.ID, postgis.Precondition{Any: true}, map[string]any{"status": "completed"}, road)
			return err
		}, "", ""},
		{"no precondition", func() error {
			_, err := store.Patch(ctx, "roads", f.ID, postgis.Precondition{}, map[string]any{"surface": "cement"}, nil)
			return err
		}, "", ""},
		{"any version of a feature that does not exist", func() error {
			_, err := store.Patch(ctx, "roads", f.ID+100, postgis.Precondition{Any: true}, map[string]any{"surface": "cement"}, nil)
			return err
		}, lastmile.ENOTFOUND, "does not exist"},
		{"delete without a precondition", func() error { return store.Delete(ctx, "roads", f.ID, postgis.Precondition{}) }, "", ""},
	}
	for _, s := range steps {
		err := s.write()
		if lastmile.ErrorCode(err) != s.code && !(s.code == "" && err == nil) || (s.code != "" && !strings.Contains(fmt.Sprint(err), s.message)) {
			t.Errorf("%s: err = %v, want %q %q", s.name, err, s.code, s.message)
		}
	}
	h, err := store.History(ctx, "roads", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%s v%d %s", e.Op, e.Version, e.Precondition))
	}
	want := []string{"insert v1 none", "update v2 if-match", "update v3 any", "update v4 none", "delete v4 none"}
	if !slices.Equal(got, want) {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
	// A write outside the store (plain SQL, an import) records no precondition.
	g, err := store.Create(ctx, "roads", map[string]any{"status": "planned"}, road)
	if err != nil {
		t.Fatal(err)
	}
	var pre *string
	if _, err := pool.Exec(ctx, `UPDATE lastmile.roads SET name = 'sql' WHERE id = $1`, g.ID); err != nil {
		t.Fatal(err)
	}
	pool.QueryRow(ctx, `SELECT precondition FROM lastmile.feature_history WHERE feature_id = $1 AND op = 'update'`, g.ID).Scan(&pre)
	if pre != nil {
		t.Errorf("plain SQL update: precondition %q, want NULL", *pre)
	}
}

func TestStoreRejectsInvalid(t *testing.T) {
	store, ctx, count := newStore(t)
	bowtie := orb.Polygon{{{117.0, 37.0}, {117.1, 37.1}, {117.1, 37.0}, {117.0, 37.1}, {117.0, 37.0}}}
	tests := []struct {
		name    string
		layer   string
		props   map[string]any
		geom    orb.Geometry
		field   string
		message string
	}{
		{"self-intersecting polygon", "relocation_sites", map[string]any{"status": "planned"}, bowtie, "geometry", "Self-intersection"},
		{"unclosed ring", "relocation_sites", map[string]any{"status": "planned"},
			orb.Polygon{{{117.0, 37.0}, {117.1, 37.0}, {117.1, 37.1}, {117.0, 37.2}}}, "geometry", "not closed"},
		{"longitude out of range", "villages", nil, orb.Point{181, 37}, "geometry", "longitude 181"},
		{"latitude out of range", "villages", nil, orb.Point{117, -91}, "geometry", "latitude -91"},
		{"wrong geometry kind", "villages", nil, road, "geometry", "LineString is not allowed"},
		{"unknown field", "roads", map[string]any{"status": "completed", "colour": "red"}, road, "colour", "unknown field"},
		{"enum value", "roads", map[string]any{"status": "completed", "surface": "mud"}, road, "surface", "must be one of"},
		{"missing required", "roads", map[string]any{}, road, "status", "is required"},
		{"bad date", "roads", map[string]any{"status": "completed", "completed_on": "2015-13-01"}, road, "completed_on", "YYYY-MM-DD"},
		{"negative money", "roads", map[string]any{"status": "completed", "funding_yuan": -1.0}, road, "funding_yuan", "at least 0"},
		{"admin code", "villages", map[string]any{"admin_code": "3714"}, orb.Point{117, 37}, "admin_code", "must match"},
		{"completed before started", "roads", map[string]any{"status": "completed", "started_on": "2016-01-01", "completed_on": "2015-01-01"}, road, "completed_on", "is before started_on 2016-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Create(ctx, tt.layer, tt.props, tt.geom)
			e, ok := err.(*lastmile.Error)
			if !ok || e.Code != lastmile.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
			found := false
			for _, p := range e.Details {
				if (tt.field == "" || p.Field == tt.field) && strings.Contains(p.Message, tt.message) {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems %+v lack %s: %q", e.Details, tt.field, tt.message)
			}
		})
	}
	for _, table := range []string{"roads", "villages", "relocation_sites", "feature_history"} {
		if n := count(table); n != 0 {
			t.Errorf("%s has %d rows after rejected writes", table, n)
		}
	}
	if _, err := store.Get(ctx, "nope", 1); lastmile.ErrorCode(err) != lastmile.ENOTFOUND {
		t.Errorf("unknown layer: %v", err)
	}
}

// TestSQLWritesLeaveHistory proves history does not depend on the store:
// a plain SQL update also bumps the version and records a row.
func TestSQLWritesLeaveHistory(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO lastmile.villages (name, geom) VALUES ('李家村', ST_SetSRID(ST_MakePoint(117.2, 37.3), 4326)) RETURNING id`).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE lastmile.villages SET population = 900 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var version, history int
	var actor string
	pool.QueryRow(ctx, `SELECT version FROM lastmile.villages WHERE id = $1`, id).Scan(&version)
	pool.QueryRow(ctx, `SELECT count(*), max(actor) FROM lastmile.feature_history WHERE feature_id = $1`, id).Scan(&history, &actor)
	if version != 2 || history != 2 || actor == "" {
		t.Fatalf("version %d, history rows %d, actor %q", version, history, actor)
	}
	// Wrong SRID is refused by the column type.
	_, err = pool.Exec(ctx, `INSERT INTO lastmile.villages (name, geom) VALUES ('x', ST_SetSRID(ST_MakePoint(117.2, 37.3), 3857))`)
	if err == nil || !strings.Contains(err.Error(), "SRID") {
		t.Fatalf("wrong SRID: err = %v", err)
	}
}

// TestStorePatchMergesObjects: a PATCH merge-patches object fields member by
// member (RFC 7396: null removes a member, objects merge recursively,
// anything else replaces), a layer.WholeObject replaces them; a PUT replaces them.
func TestStorePatchMergesObjects(t *testing.T) {
	pool := pgtest.New(t)
	ctx := postgis.WithActor(context.Background(), postgis.Actor{Name: "test"})
	store := postgis.NewStore(pool, layer.Default())
	f, err := store.Create(ctx, "roads", map[string]any{"status": "planned",
		"props": map[string]any{"a": 1, "b": map[string]any{"c": 2, "d": 3}, "l": []any{1, 2}}}, road)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		patch any
		want  string
	}{
		{map[string]any{"b": map[string]any{"c": nil, "e": 4}, "f": "x"}, `{"a": 1, "b": {"d": 3, "e": 4}, "f": "x", "l": [1, 2]}`},
		{map[string]any{"l": []any{3}, "a": nil}, `{"b": {"d": 3, "e": 4}, "f": "x", "l": [3]}`},
		{map[string]any{"b": "flat", "g": map[string]any{"h": nil}}, `{"b": "flat", "f": "x", "g": {}, "l": [3]}`},
		{map[string]any{}, `{"b": "flat", "f": "x", "g": {}, "l": [3]}`},
		{layer.WholeObject{"m": 1}, `{"m": 1}`}, // a whole value (what a client sent as text) replaces
		{layer.WholeObject{}, `{}`},
		{map[string]any{"k": true}, `{"k": true}`},
	} {
		if _, err := store.Patch(ctx, "roads", f.ID, postgis.Precondition{}, map[string]any{"props": tc.patch}, nil); err != nil {
			t.Fatalf("patch %v: %v", tc.patch, err)
		}
		var got string
		if err := pool.QueryRow(ctx, `SELECT props::text FROM lastmile.roads WHERE id = $1`, f.ID).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("patch %v: props %s, want %s", tc.patch, got, tc.want)
		}
	}
	if _, err := store.Replace(ctx, "roads", f.ID, postgis.Precondition{}, map[string]any{"status": "planned", "props": map[string]any{"z": 1}}, road); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT props::text FROM lastmile.roads WHERE id = $1`, f.ID).Scan(&got); err != nil || got != `{"z": 1}` {
		t.Errorf("replace: props %s, %v; want {\"z\": 1}", got, err)
	}
}
