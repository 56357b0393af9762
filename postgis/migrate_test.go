package postgis_test

import (
	"context"
	"testing"

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
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'lastmile'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 11 { // 9 layers, feature_history, schema_migrations
		t.Fatalf("lastmile schema has %d tables, want 11", n)
	}
}
