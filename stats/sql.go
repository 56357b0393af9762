package stats

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed sql/*.sql
var statsSQLFiles embed.FS

var sqlMarker = regexp.MustCompile(`\{\{[a-z_]+\}\}`)

// renderSQL returns the embedded SQL file name with each {{key}} replaced by
// parts[key]. The parts are built only from catalog identifiers, the
// catalog's definitions and $n placeholders — never from request text. A
// {{key}} marker without a part is a programming error and panics.
func renderSQL(name string, parts map[string]string) string {
	b, err := statsSQLFiles.ReadFile("sql/" + name)
	if err != nil {
		panic(err)
	}
	return sqlMarker.ReplaceAllStringFunc(string(b), func(m string) string {
		v, ok := parts[strings.Trim(m, "{}")]
		if !ok {
			panic(fmt.Sprintf("stats: sql/%s: no value for %s", name, m))
		}
		return v
	})
}
