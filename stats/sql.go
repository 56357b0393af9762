package stats

import (
	"embed"

	"github.com/lastmile/lastmile/postgis/pgsql"
)

//go:embed sql/*.sql
var statsSQLFiles embed.FS

// statsSQL holds the statistics queries, parsed once. Their /*slot*/ parts
// are built only from catalog identifiers, the catalog's definitions and $n
// placeholders — never from request text; a slot without a part panics.
var statsSQL = pgsql.MustParseFS(statsSQLFiles, "sql/*.sql")
