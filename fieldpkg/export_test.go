package fieldpkg

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/demo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// county loads the demo county into a fresh database and returns the pool
// and the county's admin code.
func county(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := demo.Load(context.Background(), pool, demo.Generate(1)); err != nil {
		t.Fatalf("demo.Load: %v", err)
	}
	var code string
	if err := pool.QueryRow(context.Background(), `SELECT code FROM lastmile.admin_areas WHERE level = 'county' ORDER BY code LIMIT 1`).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return pool, code
}

func export(t *testing.T, pool *pgxpool.Pool, area Area, layers ...string) (string, *ExportReport) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "field.gpkg")
	rep, err := Export(context.Background(), pool, layer.Default(), ExportOptions{Area: area, Layers: layers, Out: out})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return out, rep
}

func openPkg(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestExportSmoke(t *testing.T) {
	pool, code := county(t)
	out, rep := export(t, pool, Area{AdminCode: code})
	t.Logf("%+v", rep)
	b, err := exec.Command("ogrinfo", "-so", "-al", out).CombinedOutput()
	t.Logf("%s", b)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove
	_ = strings.Contains
}
