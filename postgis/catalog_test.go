package postgis_test

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestCatalogMatchesSchema proves the catalog and the migrated schema agree:
// every declared field is a column of the declared type, every enum equals
// its CHECK constraint, and every table has the geometry and system columns.
func TestCatalogMatchesSchema(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	enumCheck := regexp.MustCompile(`'([^']*)'::text`)
	for _, l := range layer.Default().Layers() {
		t.Run(l.Name, func(t *testing.T) {
			rows, err := pool.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
				WHERE table_schema = 'lastmile' AND table_name = $1`, l.Table)
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]string{}
			for rows.Next() {
				var name, typ string
				if err := rows.Scan(&name, &typ); err != nil {
					t.Fatal(err)
				}
				types[name] = typ
			}
			if len(types) == 0 {
				t.Fatalf("table lastmile.%s does not exist", l.Table)
			}
			for _, col := range []string{"id", "geom", "geom_3857"} {
				if _, ok := types[col]; !ok {
					t.Errorf("column %s missing", col)
				}
			}
			if _, ok := types["length_m"]; ok != l.IsLinear() {
				t.Errorf("length_m present = %v, layer linear = %v", ok, l.IsLinear())
			}
			for _, f := range l.Fields {
				got, ok := types[f.Name]
				want := f.Type.PGType()
				if f.Name == "updated_at" {
					want = "timestamp with time zone"
				}
				if !ok {
					t.Errorf("field %s: no such column", f.Name)
				} else if got != want {
					t.Errorf("field %s: column type %q, catalog says %q", f.Name, got, want)
				}
				if f.Type != layer.Enum {
					continue
				}
				var def string
				err := pool.QueryRow(ctx, `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
					JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
					WHERE c.conrelid = ('lastmile.' || $1)::regclass AND c.contype = 'c'
					  AND a.attname = $2 AND array_length(c.conkey, 1) = 1`, l.Table, f.Name).Scan(&def)
				if err != nil {
					t.Errorf("enum %s: no CHECK constraint: %v", f.Name, err)
					continue
				}
				var values []string
				for _, m := range enumCheck.FindAllStringSubmatch(def, -1) {
					values = append(values, m[1])
				}
				want2 := slices.Clone(f.Enum)
				sort.Strings(values)
				sort.Strings(want2)
				if strings.Join(values, ",") != strings.Join(want2, ",") {
					t.Errorf("enum %s: CHECK allows %v, catalog %v", f.Name, values, want2)
				}
			}
			// Every column (but system ones) is declared in the catalog.
			for col := range types {
				switch col {
				case "id", "geom", "geom_3857", "length_m":
					continue
				}
				if _, ok := l.Field(col); !ok {
					t.Errorf("column %s is not declared in the catalog", col)
				}
			}
		})
	}
}
