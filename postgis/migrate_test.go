package postgis_test

import (
	"context"
	"testing"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMigrateIdempotent(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	applied, err := postgis.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
	pending, err := postgis.Pending(ctx, pool)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
	for _, table := range append(layer.Default().Names(), "feature_history", "schema_migrations") {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('lastmile.' || $1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table lastmile.%s missing (%v)", table, err)
		}
	}
	// Extensions live in public, not in the lastmile schema.
	var postgisSchema string
	if err := pool.QueryRow(ctx, `SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'`).Scan(&postgisSchema); err != nil || postgisSchema != "public" {
		t.Errorf("postgis installed in %q (%v)", postgisSchema, err)
	}
}
