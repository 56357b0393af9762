package postgis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/ingest"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// installOracle records, beside lastmile.feature_history, the history as
// the triggers before migration 0095 wrote it (0085's record_history_rows,
// every insert with its own copy of the row and geometry) into
// lastmile.feature_history_oracle, from the same statements.
func installOracle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	b, err := os.ReadFile("migrations/0085_history_precondition.sql")
	if err != nil {
		t.Fatal(err)
	}
	fn := regexp.MustCompile(`(?s)CREATE OR REPLACE FUNCTION lastmile.record_history_rows\(\).*?\n\$\$;`).FindString(string(b))
	if fn == "" {
		t.Fatal("no record_history_rows in 0085")
	}
	fn = strings.ReplaceAll(fn, "lastmile.record_history_rows()", "lastmile.record_history_oracle()")
	fn = strings.ReplaceAll(fn, "INSERT INTO lastmile.feature_history\n", "INSERT INTO lastmile.feature_history_oracle\n")
	if strings.Count(fn, "feature_history_oracle") != 3 {
		t.Fatalf("0085's function is not as expected:\n%s", fn)
	}
	sql := `CREATE TABLE lastmile.feature_history_oracle (LIKE lastmile.feature_history INCLUDING DEFAULTS INCLUDING IDENTITY);` + fn
	for _, l := range layer.Default().Layers() {
		sql += fmt.Sprintf(`
			CREATE TRIGGER %[1]s_oracle_ins AFTER INSERT ON lastmile.%[1]s REFERENCING NEW TABLE AS new_rows
				FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_oracle();
			CREATE TRIGGER %[1]s_oracle_upd AFTER UPDATE ON lastmile.%[1]s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
				FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_oracle();
			CREATE TRIGGER %[1]s_oracle_del AFTER DELETE ON lastmile.%[1]s REFERENCING OLD TABLE AS old_rows
				FOR EACH STATEMENT EXECUTE FUNCTION lastmile.record_history_oracle();`, l.Table)
	}
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// compareWithOracle fails on every history row whose columns, as
// feature_history_full reads them, differ from the oracle's (rows are
// paired by layer, feature, op and version, unique per write), and returns
// how many rows there are.
func compareWithOracle(t *testing.T, pool *pgxpool.Pool, when string) int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT coalesce(h.layer, o.layer), coalesce(h.feature_id, o.feature_id), coalesce(h.op, o.op), coalesce(h.version, o.version),
		       h.id IS NULL, o.id IS NULL,
		       h.old_row IS NOT DISTINCT FROM o.old_row, h.new_row IS NOT DISTINCT FROM o.new_row,
		       ST_AsEWKB(h.old_geom) IS NOT DISTINCT FROM ST_AsEWKB(o.old_geom), ST_AsEWKB(h.new_geom) IS NOT DISTINCT FROM ST_AsEWKB(o.new_geom),
		       (h.actor, h.request_id, h.source, h.precondition) IS NOT DISTINCT FROM (o.actor, o.request_id, o.source, o.precondition),
		       h.new_row::text, o.new_row::text
		FROM lastmile.feature_history_full h
		FULL JOIN lastmile.feature_history_oracle o USING (layer, feature_id, op, version)
		ORDER BY 1, 2, coalesce(h.id, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			lay, op                              string
			id                                   int64
			version                              int
			noNew, noOld, oldRow, newRow, og, ng bool
			meta                                 bool
			gotNew, wantNew                      *string
		)
		if err := rows.Scan(&lay, &id, &op, &version, &noNew, &noOld, &oldRow, &newRow, &og, &ng, &meta, &gotNew, &wantNew); err != nil {
			t.Fatal(err)
		}
		n++
		switch {
		case noNew:
			t.Errorf("%s: %s %d %s v%d: in the old history only", when, lay, id, op, version)
		case noOld:
			t.Errorf("%s: %s %d %s v%d: in the new history only", when, lay, id, op, version)
		case !oldRow || !newRow || !og || !ng || !meta:
			t.Errorf("%s: %s %d %s v%d differs: old_row %v new_row %v old_geom %v new_geom %v actor… %v\nnew_row %v\nwant    %v",
				when, lay, id, op, version, oldRow, newRow, og, ng, meta, str(gotNew), str(wantNew))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// storeHistories returns store.History of every feature ever written.
func storeHistories(t *testing.T, pool *pgxpool.Pool, store *postgis.Store) map[string][]postgis.HistoryEntry {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT DISTINCT layer, feature_id FROM lastmile.feature_history`)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		layer string
		id    int64
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.layer, &k.id); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	out := map[string][]postgis.HistoryEntry{}
	for _, k := range keys {
		h, err := store.History(ctx, k.layer, k.id)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%s/%d", k.layer, k.id)] = h
	}
	return out
}

func importSeq(t *testing.T, im *ingest.Importer, layerName, source, body string) *ingest.Report {
	t.Helper()
	rep, err := im.Import(context.Background(), []ingest.Job{{Source: source, Layer: layerName,
		Reader: ingest.NewGeoJSONSeqReader(strings.NewReader(body))}}, ingest.Options{Actor: "cli:loader", RequestID: "req-" + source})
	if err != nil {
		t.Fatalf("import %s: %v", source, err)
	}
	return rep
}

// TestHistoryInsertReference: since 0095 an insert's history row refers to
// the row instead of copying it. A history made of bulk first loads (one
// COPY straight into the table), a staged re-import, updates and deletes
// in plain SQL and through the store, a TRUNCATE and a later migration that
// adds a column reads, row by row and through the feature history endpoint,
// exactly as the history the triggers before 0095 recorded from the same
// statements.
func TestHistoryInsertReference(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	installOracle(t, pool)
	store := postgis.NewStore(pool, layer.Default())
	im := ingest.NewImporter(pool, layer.Default(), store)

	var roads, villages, facilities strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&roads, `{"type":"Feature","id":"r%d","properties":{"name":"Road %d","status":"completed","surface":"cement","width_m":%d,"completed_on":"2015-06-01","note":"n%d"},"geometry":{"type":"LineString","coordinates":[[117.%04d,37.2],[117.%04d,37.21],[117.%04d,37.215]]}}`+"\n",
			i, i, 3+i%5, i, i, i, i+1)
	}
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&villages, `{"type":"Feature","id":"v%d","properties":{"name":"V%d","status":"completed","code":"3714261010%02d","population":%d},"geometry":{"type":"Point","coordinates":[117.%04d,37.3]}}`+"\n",
			i, i, i, 100*i, i)
	}
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&facilities, `{"type":"Feature","id":"f%d","properties":{"name":"F%d","status":"completed","kind":"school"},"geometry":{"type":"Point","coordinates":[117.%04d,37.4]}}`+"\n", i, i, i)
	}
	for _, f := range []struct{ layer, source, body string }{
		{"roads", "roads.geojsonl", roads.String()}, {"villages", "villages.geojsonl", villages.String()},
		{"facilities", "facilities.geojsonl", facilities.String()},
	} {
		// one file into an empty layer: one COPY straight into the table
		if rep := importSeq(t, im, f.layer, f.source, f.body); rep.Layers[0].Inserted == 0 {
			t.Fatalf("%s: nothing inserted: %+v", f.source, rep.Layers[0])
		}
	}
	var refs int
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history WHERE op = 'insert' AND new_row IS NULL AND new_geom IS NULL`).Scan(&refs)
	if refs != 330 {
		t.Fatalf("%d inserts refer to their rows, want 330 (the history copies them)", refs)
	}
	if n := compareWithOracle(t, pool, "after the first loads"); n != 330 {
		t.Fatalf("%d history rows, want 330", n)
	}

	if err := asActor(t, pool, "bob",
		`UPDATE lastmile.roads SET surface = 'gravel' WHERE id % 3 = 0`,
		`UPDATE lastmile.roads SET geom = ST_Translate(geom, 0.001, 0) WHERE id % 5 = 0`,
		`DELETE FROM lastmile.roads WHERE id % 7 = 0`,
		`UPDATE lastmile.villages SET code = '371426102000', population = population + 1 WHERE id % 4 = 0`,
		`DELETE FROM lastmile.villages WHERE id % 6 = 0`,
		`INSERT INTO lastmile.roads (ext_id, name, geom) VALUES ('sql1', 'S1', 'SRID=4326;LINESTRING(118 37, 118.01 37)'),
			('sql2', 'S2', 'SRID=4326;LINESTRING(118 37.1, 118.01 37.1)')`,
		`UPDATE lastmile.roads SET name = 'S1b' WHERE ext_id = 'sql1'`); err != nil {
		t.Fatal(err)
	}
	// the feature API: a create, a create then an update, a delete
	a, err := store.Create(ctx, "roads", map[string]any{"name": "api a", "surface": "asphalt", "status": "completed"}, orb.LineString{{118.1, 37}, {118.11, 37}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Create(ctx, "villages", map[string]any{"name": "api b", "status": "completed"}, orb.Point{118.2, 37})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Replace(ctx, "villages", b.ID, postgis.Precondition{}, map[string]any{"name": "api b2", "population": 5, "status": "completed"}, orb.Point{118.2, 37.01}); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, "roads", a.ID, postgis.Precondition{}); err != nil {
		t.Fatal(err)
	}
	// a re-import (staged): r1…r20 changed, r301…r310 new, the rest unchanged
	var again strings.Builder
	for i := 1; i <= 310; i++ {
		surface := "cement"
		if i <= 20 {
			surface = "stone"
		}
		fmt.Fprintf(&again, `{"type":"Feature","id":"r%d","properties":{"name":"Road %d","status":"completed","surface":%q,"width_m":%d,"completed_on":"2015-06-01","note":"n%d"},"geometry":{"type":"LineString","coordinates":[[117.%04d,37.2],[117.%04d,37.21],[117.%04d,37.215]]}}`+"\n",
			i, i, surface, 3+i%5, i, i, i, i+1)
	}
	importSeq(t, im, "roads", "again.geojsonl", again.String())
	compareWithOracle(t, pool, "after the edits")

	// A TRUNCATE leaves no delete rows: the inserts it removes keep their
	// images (copied in before it).
	if _, err := pool.Exec(ctx, `TRUNCATE lastmile.facilities`); err != nil {
		t.Fatal(err)
	}
	compareWithOracle(t, pool, "after a TRUNCATE")

	// A later migration that adds a column to roads: the inserted images
	// are copied in before it runs, so they do not grow the column.
	ms, err := postgis.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, postgis.Migration{Version: 99999, Name: "99999_test_column.sql",
		SQL: `ALTER TABLE lastmile.roads ADD COLUMN test_note text DEFAULT 'added later'`})
	if _, err := postgis.MigrateWith(ctx, pool, ms); err != nil {
		t.Fatal(err)
	}
	pool.QueryRow(ctx, `SELECT count(*) FROM lastmile.feature_history WHERE op = 'insert' AND new_row IS NULL`).Scan(&refs)
	if refs != 0 {
		t.Errorf("%d inserts still refer to their rows after a migration", refs)
	}
	if err := asActor(t, pool, "carol", `UPDATE lastmile.roads SET name = 'later' WHERE id % 11 = 0`,
		`INSERT INTO lastmile.roads (ext_id, name, geom) VALUES ('sql3', 'S3', 'SRID=4326;LINESTRING(118 37.2, 118.01 37.2)')`); err != nil {
		t.Fatal(err)
	}
	total := compareWithOracle(t, pool, "after a migration")

	// The feature history endpoint answers the same from both.
	got := storeHistories(t, pool, store)
	if _, err := pool.Exec(ctx, `CREATE OR REPLACE VIEW lastmile.feature_history_full AS
		SELECT h.id, o.layer, o.feature_id, o.op, o.version, o.old_row, o.new_row, o.old_geom, o.new_geom,
		       o.actor, o.request_id, o.source, h.at, o.precondition
		FROM lastmile.feature_history_oracle o JOIN lastmile.feature_history h USING (layer, feature_id, op, version)`); err != nil {
		t.Fatal(err)
	}
	want := storeHistories(t, pool, store)
	if len(got) != len(want) || len(got) < 340 {
		t.Fatalf("%d features with history, the old history has %d", len(got), len(want))
	}
	entries := 0
	for k, w := range want {
		entries += len(w)
		if !reflect.DeepEqual(got[k], w) {
			g, _ := json.Marshal(got[k])
			wj, _ := json.Marshal(w)
			t.Errorf("history of %s:\n%s\nwant\n%s", k, g, wj)
		}
	}
	if entries != total {
		t.Errorf("%d history entries through the store, %d rows", entries, total)
	}
}
