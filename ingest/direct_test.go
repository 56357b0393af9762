package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// importString imports body as a GeoJSONSeq file named name into layer.
func importString(t *testing.T, pool *pgxpool.Pool, layerName, name, body string, opt Options) (*Report, error) {
	t.Helper()
	return importReader(t, pool, layerName, name, NewGeoJSONSeqReader(strings.NewReader(body)), opt)
}

func importReader(t *testing.T, pool *pgxpool.Pool, layerName, name string, r Reader, opt Options) (*Report, error) {
	t.Helper()
	if opt.Actor == "" {
		opt.Actor = "test"
	}
	return NewImporter(pool, layer.Default(), nil).Import(context.Background(), []Job{{Source: name, Layer: layerName, Reader: r}}, opt)
}

// noSpool checks at the end of the test that no spool of a direct load is
// left (the package's tests run one at a time).
func noSpool(t *testing.T) {
	spools := func() []string {
		m, _ := filepath.Glob(filepath.Join(os.TempDir(), "lastmile-import-*"))
		return m
	}
	before := len(spools())
	t.Cleanup(func() {
		if m := spools(); len(m) != before {
			t.Errorf("spool files left: %v", m)
		}
	})
}

// TestDirectLoadMatchesStaged: a file loaded into an empty layer (copied
// straight into the table) and the same file loaded into a layer with
// other features (staged, then INSERT … SELECT) give the same report, the
// same rows and the same history; a re-import of it changes nothing.
func TestDirectLoadMatchesStaged(t *testing.T) {
	noSpool(t)
	body := seqOf(1, 300, "cement") +
		`{"type":"Feature","id":"other","geometry":{"type":"MultiLineString","coordinates":[[[117.5,37.2],[117.51,37.21]]]},"properties":{"status":"在建","width_m":4.5,"completed_on":"2015/6/1","养护单位":"县交通局"}}` + "\n"
	load := func(seed bool) (*Report, *pgxpool.Pool) {
		pool := pgtest.New(t)
		if seed {
			if _, err := pool.Exec(context.Background(), `INSERT INTO lastmile.roads (ext_id, geom) VALUES ('seed', 'SRID=4326;LINESTRING(100 20, 100.1 20.1)')`); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := importString(t, pool, "roads", "roads.geojsonl", body, Options{RequestID: "req-1"})
		if err != nil {
			t.Fatalf("import: %v %+v", err, rep)
		}
		return rep, pool
	}
	direct, dpool := load(false)
	staged, spool := load(true)
	if !direct.direct || staged.direct {
		t.Fatalf("direct load: %v, staged load: %v (direct)", direct.direct, staged.direct)
	}
	if d, s := *direct.Layers[0], *staged.Layers[0]; !reflect.DeepEqual(d, s) || d.Inserted != 301 {
		t.Fatalf("reports differ: direct %+v, staged %+v", d, s)
	}
	for _, sql := range []string{
		`SELECT string_agg((to_jsonb(t) - 'id' - 'updated_at')::text, '|' ORDER BY ext_id) FROM lastmile.roads t WHERE ext_id <> 'seed'`,
		`SELECT string_agg(h.op || h.version || (h.new_row - 'id' - 'updated_at')::text || ST_AsEWKT(h.new_geom) || h.actor || h.request_id || h.source,
			'|' ORDER BY h.new_row->>'ext_id') FROM lastmile.feature_history_full h WHERE h.new_row->>'ext_id' <> 'seed'`,
		`SELECT props::text || status || completed_on FROM lastmile.roads WHERE ext_id = 'other'`,
	} {
		if d, s := queryString(t, dpool, sql), queryString(t, spool, sql); d != s {
			t.Errorf("%s:\ndirect %s\nstaged %s", sql, d, s)
		}
	}
	if got := queryString(t, dpool, `SELECT props->>'养护单位' || status || (SELECT props::text FROM lastmile.roads WHERE ext_id = 'road:1')
		FROM lastmile.roads WHERE ext_id = 'other'`); got != "县交通局under_construction{}" {
		t.Errorf("other, road:1: %s", got)
	}
	// no status in a layer where it is optional: the column's default
	rep, err := importString(t, dpool, "villages", "v.geojsonl", `{"type":"Feature","id":"v1","geometry":{"type":"Point","coordinates":[117.1,37.2]},"properties":{"name":"V"}}`, Options{})
	if err != nil || !rep.direct {
		t.Fatalf("villages: %v, direct %v", err, rep.direct)
	}
	if got := queryString(t, dpool, `SELECT status || props::text FROM lastmile.villages`); got != "completed{}" {
		t.Errorf("village: %s", got)
	}
	before := tableState(t, dpool, "roads")
	rep, err = importString(t, dpool, "roads", "roads.geojsonl", body, Options{})
	if err != nil || rep.direct || rep.Layers[0].Unchanged != 301 {
		t.Fatalf("re-import: %v %+v", err, rep.Layers)
	}
	if after := tableState(t, dpool, "roads"); after != before {
		t.Fatalf("re-import changed the table: %s → %s", before, after)
	}
}

// hookReader calls hook before the at-th record.
type hookReader struct {
	Reader
	at, n int
	hook  func()
}

func (h *hookReader) Next() (*Record, error) {
	h.n++
	if h.n == h.at {
		h.hook()
	}
	return h.Reader.Next()
}

// TestDirectLoadFallsBack: whatever stops a direct load half-way — a row
// PostgreSQL refuses, an ext_id twice in the file or created meanwhile by
// another writer, a row in a CRS for PostGIS to transform, a row rejected
// in Go — the outcome is the staged path's: the same problems, nothing
// written on failure, the good rows with skip-invalid, no spool left.
func TestDirectLoadFallsBack(t *testing.T) {
	noSpool(t)
	ctx := context.Background()
	invalid := func(t *testing.T, err error, want string) {
		t.Helper()
		var le *lastmile.Error
		if !errors.As(err, &le) || le.Code != lastmile.EINVALID {
			t.Fatalf("err = %v, want invalid", err)
		}
		text := le.Error()
		for _, p := range le.Details {
			text += " | " + p.String()
		}
		if !strings.Contains(text, want) {
			t.Fatalf("error %q does not mention %q", text, want)
		}
	}
	empty := func(t *testing.T, pool *pgxpool.Pool) {
		t.Helper()
		if n := queryInt(t, pool, `SELECT (SELECT count(*) FROM lastmile.roads) + (SELECT count(*) FROM lastmile.hazard_zones) + (SELECT count(*) FROM lastmile.feature_history)`); n != 0 {
			t.Fatalf("%d rows written by a failed import", n)
		}
	}

	t.Run("invalid polygon", func(t *testing.T) {
		pool := pgtest.New(t)
		var b strings.Builder
		for i := range 50 {
			poly := fmt.Sprintf(`[[[117.%02d,37.2],[117.%02d,37.2],[117.%02d,37.21],[117.%02d,37.2]]]`, i, i+1, i+1, i)
			if i == 30 { // a bow tie
				poly = fmt.Sprintf(`[[[117.%02d,37.2],[117.%02d,37.21],[117.%02d,37.2],[117.%02d,37.21],[117.%02d,37.2]]]`, i, i+1, i+1, i, i)
			}
			b.WriteString(`{"type":"Feature","properties":{"kind":"flood"},"geometry":{"type":"Polygon","coordinates":` + poly + "}}\n")
		}
		_, err := importString(t, pool, "hazard_zones", "zones.geojsonl", b.String(), Options{})
		invalid(t, err, "row 31: geometry: invalid geometry: Self-intersection")
		empty(t, pool)
		rep, err := importString(t, pool, "hazard_zones", "zones.geojsonl", b.String(), Options{SkipInvalid: true})
		if err != nil || rep.direct || rep.Layers[0].Inserted != 49 || rep.Layers[0].Rejected != 1 {
			t.Fatalf("skip-invalid: %v %+v", err, rep.Layers)
		}
		if n := queryInt(t, pool, `SELECT count(*) FROM lastmile.feature_history WHERE layer = 'hazard_zones' AND op = 'insert'`); n != 49 {
			t.Fatalf("history rows %d", n)
		}
	})

	t.Run("ext_id twice", func(t *testing.T) {
		pool := pgtest.New(t)
		_, err := importString(t, pool, "roads", "roads.geojsonl", seqOf(1, 200, "cement")+seqOf(150, 150, "gravel"), Options{})
		invalid(t, err, "row 201: ext_id: is also the ext_id of row 150")
		empty(t, pool)
	})

	t.Run("ext_id created meanwhile", func(t *testing.T) {
		pool := pgtest.New(t)
		r := &hookReader{Reader: NewGeoJSONSeqReader(strings.NewReader(seqOf(1, 300, "cement"))), at: 100, hook: func() {
			if _, err := pool.Exec(ctx, `INSERT INTO lastmile.roads (ext_id, surface, geom) VALUES ('road:250', 'gravel', 'SRID=4326;LINESTRING(100 20, 100.1 20.1)')`); err != nil {
				t.Error(err)
			}
		}}
		rep, err := importReader(t, pool, "roads", "roads.geojsonl", r, Options{})
		if err != nil || rep.direct {
			t.Fatalf("import: %v, direct %v", err, rep.direct)
		}
		if l := rep.Layers[0]; l.Inserted != 299 || l.Updated != 1 {
			t.Fatalf("report %+v", l)
		}
		if got := queryString(t, pool, `SELECT surface || version FROM lastmile.roads WHERE ext_id = 'road:250'`); got != "cement2" {
			t.Fatalf("road:250 = %s", got)
		}
		if n := queryInt(t, pool, `SELECT count(*) FROM lastmile.feature_history`); n != 301 {
			t.Fatalf("history rows %d, want 301", n)
		}
	})

	t.Run("a CRS for PostGIS", func(t *testing.T) {
		pool := pgtest.New(t)
		rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, filepath.Join(fixtures, "roads_wkt.csv"))
		if err != nil || rep.direct || rep.Layers[0].Inserted != 4 {
			t.Fatalf("import: %v, direct %v, %+v", err, rep.direct, rep.Layers)
		}
		if got := queryString(t, pool, `SELECT round(ST_X(ST_StartPoint(geom))::numeric, 4)||' '||round(ST_Y(ST_StartPoint(geom))::numeric, 4) FROM roads WHERE ext_id='W3'`); got != "103.9081 30.6084" {
			t.Fatalf("W3 starts at %s", got)
		}
	})

	t.Run("rows rejected in Go", func(t *testing.T) {
		pool := pgtest.New(t)
		rep, err := importFiles(t, pool, nil, "roads", ReadOptions{}, Options{}, filepath.Join(fixtures, "roads_bad.geojson"))
		invalid(t, err, "row 7: geometry: geometry is missing")
		if rep.Rejected() != 6 || rep.Committed {
			t.Fatalf("rejected %d, committed %v", rep.Rejected(), rep.Committed)
		}
		empty(t, pool)
	})
}

// TestReimportDuplicateRejected: an ext_id twice in a re-imported file is
// rejected even when one of the copies equals the stored feature (the
// staged path leaves unchanged rows out before its INSERT).
func TestReimportDuplicateRejected(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := importString(t, pool, "roads", "a.geojsonl", seqOf(1, 20, "cement"), Options{}); err != nil {
		t.Fatal(err)
	}
	before := tableState(t, pool, "roads")
	for _, body := range []string{
		seqOf(1, 20, "cement") + seqOf(5, 5, "gravel"),
		seqOf(5, 5, "gravel") + seqOf(1, 20, "cement"),
	} {
		_, err := importString(t, pool, "roads", "a.geojsonl", body, Options{})
		var le *lastmile.Error
		if !errors.As(err, &le) || le.Code != lastmile.EINVALID || !strings.Contains(fmt.Sprint(le.Details), "is also the ext_id of row") {
			t.Fatalf("err = %v, want the duplicate ext_id reported", err)
		}
		if after := tableState(t, pool, "roads"); after != before {
			t.Fatal("the table changed")
		}
	}
	// with skip-invalid the first copy is imported, the other reported
	rep, err := importString(t, pool, "roads", "a.geojsonl", seqOf(1, 20, "cement")+seqOf(5, 5, "gravel"), Options{SkipInvalid: true})
	if l := rep.Layers[0]; err != nil || l.Rejected != 1 || l.Unchanged != 20 || len(rep.Problems) != 1 || rep.Problems[0].Row != 21 {
		t.Fatalf("skip-invalid: %v %+v %v", err, rep.Layers, rep.Problems)
	}
	if after := tableState(t, pool, "roads"); after != before {
		t.Fatal("the table changed")
	}
	// an unchanged re-import, then one changed feature among unchanged ones
	rep, err = importString(t, pool, "roads", "a.geojsonl", seqOf(1, 20, "cement"), Options{})
	if err != nil || rep.Layers[0].Unchanged != 20 {
		t.Fatalf("re-import: %v %+v", err, rep.Layers)
	}
	rep, err = importString(t, pool, "roads", "a.geojsonl", seqOf(1, 4, "cement")+seqOf(5, 5, "gravel")+seqOf(6, 21, "cement"), Options{})
	if l := rep.Layers[0]; err != nil || l.Inserted != 1 || l.Updated != 1 || l.Unchanged != 19 {
		t.Fatalf("changed re-import: %v %+v", err, rep.Layers)
	}
	if got := queryString(t, pool, `SELECT surface || version FROM lastmile.roads WHERE ext_id = 'road:5'`); got != "gravel2" {
		t.Fatalf("road:5 = %s", got)
	}
}

// tableShape describes a layer's table as the catalog has it: columns
// (types, defaults, identity, generated), indexes, constraints, triggers,
// comments, privileges, and what depends on it (the history view, the
// route function of its row type).
const tableShape = `SELECT concat_ws(E'\n--\n',
	(SELECT string_agg(format('%s %s %s %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
		a.attgenerated, pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)), E'\n' ORDER BY a.attnum)
	   FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped),
	(SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT pg_get_indexdef(indexrelid) x FROM pg_index WHERE indrelid = $1::regclass) i),
	(SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conname) FROM pg_constraint WHERE conrelid = $1::regclass),
	(SELECT string_agg(pg_get_triggerdef(oid) || ' ' || tgenabled::text, E'\n' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal),
	obj_description($1::regclass, 'pg_class'), (SELECT relacl::text || coalesce(reloptions::text, '') FROM pg_class WHERE oid = $1::regclass),
	(SELECT format('%s %s %s %s', pg_get_serial_sequence($1::text, 'id'), seqincrement, seqmax, seqcache) FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence($1::text, 'id')::regclass),
	pg_get_viewdef('lastmile.feature_history_full'), obj_description('lastmile.feature_history_full'::regclass, 'pg_class'),
	(SELECT relacl::text FROM pg_class WHERE oid = 'lastmile.feature_history_full'::regclass),
	(SELECT string_agg(pg_get_functiondef(p.oid) || coalesce(obj_description(p.oid, 'pg_proc'), ''), E'\n')
	   FROM pg_proc p WHERE $1::regclass::oid IN (SELECT c.oid FROM pg_class c WHERE c.reltype = ANY (p.proargtypes)))
	)`

// TestFirstLoadSwap: a first load copies into a table of its own, indexes
// it and swaps it in (migration 0101): the layer's table is then what it
// was — every column, index, constraint, trigger, comment and privilege,
// the history view and the function of its row type — with the rows, their
// history, and ids going on from where they stopped. A reader that holds
// the table delays the swap without making other readers queue behind it.
func TestFirstLoadSwap(t *testing.T) {
	noSpool(t)
	ctx := context.Background()
	pool := pgtest.New(t)
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`GRANT SELECT ON lastmile.roads TO PUBLIC`)
	exec(`GRANT SELECT ON lastmile.feature_history_full TO PUBLIC`)
	exec(`ALTER TABLE lastmile.roads SET (fillfactor = 90)`)
	exec(`INSERT INTO lastmile.roads (ext_id, geom) VALUES ('gone', 'SRID=4326;LINESTRING(100 20, 100.1 20.1)')`)
	gone := queryInt(t, pool, `SELECT id FROM lastmile.roads`)
	exec(`DELETE FROM lastmile.roads`)
	shape := queryString(t, pool, tableShape, "lastmile.roads")
	oid := queryInt(t, pool, `SELECT 'lastmile.roads'::regclass::oid::int`)

	// a reader holding the table when the swap comes
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	var n int
	if err := holder.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := importString(t, pool, "roads", "roads.geojsonl", seqOf(1, 300, "cement"), Options{})
		done <- result{rep, err}
	}()
	for i := 0; queryInt(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%first_load_finish%' AND pid <> pg_backend_pid()`) == 0; i++ {
		if i == 200 {
			t.Fatal("the import did not reach the swap")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	// meanwhile other readers are answered (they wait at most one turn)
	for range 3 {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`)
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM lastmile.roads`).Scan(&n); err != nil || n != 0 {
			t.Errorf("a reader during the swap: %d rows, %v", n, err)
		}
		tx.Rollback(ctx)
	}
	select {
	case r := <-done:
		t.Fatalf("the import ended while a reader held the table: %v", r.err)
	default:
	}
	holder.Rollback(ctx)
	r := <-done
	if r.err != nil || !r.rep.direct || r.rep.Layers[0].Inserted != 300 {
		t.Fatalf("import: %v %+v", r.err, r.rep)
	}
	if after := queryString(t, pool, tableShape, "lastmile.roads"); after != shape {
		t.Errorf("the table after the swap:\n%s\nbefore:\n%s", after, shape)
	}
	if queryInt(t, pool, `SELECT 'lastmile.roads'::regclass::oid::int`) == oid {
		t.Error("the load was not swapped in")
	}
	if got := queryString(t, pool, `SELECT min(id) - $1::bigint || ' ' || count(*) || ' ' ||
		(SELECT count(*) FROM lastmile.feature_history_full WHERE layer = 'roads' AND op = 'insert' AND new_geom IS NOT NULL)
		FROM lastmile.roads`, gone); got != "1 300 301" {
		t.Errorf("ids after the deleted one, rows, inserts with images: %s, want 1 300 301", got)
	}
	exec(`INSERT INTO lastmile.roads (ext_id, geom) VALUES ('next', 'SRID=4326;LINESTRING(100 20, 100.1 20.1)')`)
	if got := queryInt(t, pool, `SELECT (SELECT id FROM lastmile.roads WHERE ext_id = 'next') - max(id) FROM lastmile.roads WHERE ext_id <> 'next'`); got != 1 {
		t.Errorf("the next id is max + %d", got)
	}
	if n := queryInt(t, pool, `SELECT count(*) FROM pg_class WHERE relnamespace = 'lastmile_load'::regnamespace`); n != 0 {
		t.Errorf("%d relations left in lastmile_load", n)
	}
}

// TestFirstLoadInPlace: a layer's table that the swap cannot carry over (a
// view on a view of it), or whose load table cannot be created (a table of
// that name left in lastmile_load), is loaded in place, as before the swap.
func TestFirstLoadInPlace(t *testing.T) {
	ctx := context.Background()
	for name, setup := range map[string]string{
		"a view on a view": `CREATE VIEW public.road_ids AS SELECT id FROM lastmile.roads;
			CREATE VIEW public.road_count AS SELECT count(*) AS n FROM public.road_ids`,
		"a table left in lastmile_load": `CREATE TABLE lastmile_load.roads (id bigint);
			CREATE VIEW public.road_count AS SELECT count(*) AS n FROM lastmile.roads`,
	} {
		t.Run(name, func(t *testing.T) {
			pool := pgtest.New(t)
			if _, err := pool.Exec(ctx, setup); err != nil {
				t.Fatal(err)
			}
			oid := queryInt(t, pool, `SELECT 'lastmile.roads'::regclass::oid::int`)
			rep, err := importString(t, pool, "roads", "roads.geojsonl", seqOf(1, 50, "cement"), Options{})
			if err != nil || !rep.direct {
				t.Fatalf("import: %v, direct %v", err, rep.direct)
			}
			if queryInt(t, pool, `SELECT 'lastmile.roads'::regclass::oid::int`) != oid || queryInt(t, pool, `SELECT n FROM public.road_count`) != 50 {
				t.Error("not loaded in place")
			}
		})
	}
}
