package server_test

import (
	"testing"

	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestMain is the one TestMain of package server's tests: it stops the
// PostgreSQL cluster the tests start.
func TestMain(m *testing.M) { pgtest.Main(m) }
