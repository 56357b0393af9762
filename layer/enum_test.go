package layer_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/lastmile/lastmile/layer"
)

// enumFields calls fn for every enum field of the default catalog.
func enumFields(t *testing.T, fn func(l *layer.Layer, f layer.Field)) {
	t.Helper()
	n := 0
	for _, l := range layer.Default().Layers() {
		for _, f := range l.Fields {
			if f.Type == layer.Enum {
				n++
				fn(l, f)
			}
		}
	}
	if n < 12 {
		t.Fatalf("walked %d enum fields, the catalog declares at least 12", n)
	}
}

var colorRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Every enum value is declared whole: a code, an English and a Chinese
// label, at least one synonym the importer accepts, and — in a field the
// map styles by value — a colour (or width, or opacity) like its siblings.
func TestEnumValuesDeclared(t *testing.T) {
	enumFields(t, func(l *layer.Layer, f layer.Field) {
		where := l.Name + "." + f.Name
		if len(f.Values) == 0 {
			t.Errorf("%s: enum field without declared values", where)
			return
		}
		if !slices.Equal(f.Enum, layer.Codes(f.Values)) {
			t.Errorf("%s: Enum %v is not the codes of Values %v", where, f.Enum, layer.Codes(f.Values))
		}
		styled := func(what string, has func(layer.Value) bool) {
			n := 0
			for _, v := range f.Values {
				if has(v) {
					n++
				}
			}
			if n != 0 && n != len(f.Values) {
				for _, v := range f.Values {
					if !has(v) {
						t.Errorf("%s=%s: no %s, while %d of its siblings have one (the map would draw it in the default)", where, v.Code, what, n)
					}
				}
			}
		}
		styled("colour", func(v layer.Value) bool { return v.Color != "" })
		styled("width", func(v layer.Value) bool { return v.Width > 0 })
		styled("opacity", func(v layer.Value) bool { return v.Opacity > 0 })
		for _, v := range f.Values {
			at := where + "=" + v.Code
			if v.Code == "" || strings.TrimSpace(v.Code) != v.Code || strings.ContainsAny(v.Code, " -'") {
				t.Errorf("%s: code %q must be non-empty, without spaces, hyphens or quotes", at, v.Code)
			}
			if v.Label == "" {
				t.Errorf("%s: no English label", at)
			}
			if !strings.ContainsFunc(v.LabelZH, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("%s: Chinese label %q has no Chinese character", at, v.LabelZH)
			}
			if len(v.Synonyms) == 0 {
				t.Errorf("%s: no import synonym (how do bureaus spell it?)", at)
			}
			if v.Color != "" && !colorRE.MatchString(v.Color) {
				t.Errorf("%s: colour %q is not #rrggbb (lower case)", at, v.Color)
			}
			if v.Opacity < 0 || v.Opacity > 1 {
				t.Errorf("%s: opacity %g outside 0–1", at, v.Opacity)
			}
		}
	})
}

// Within a field, every spelling (code, labels, synonyms) names one code,
// and Lookup finds it from each spelling in any case.
func TestEnumSpellingsUnique(t *testing.T) {
	enumFields(t, func(l *layer.Layer, f layer.Field) {
		owner := map[string]string{}
		for _, v := range f.Values {
			for _, sp := range v.Spellings() {
				if o, ok := owner[sp]; ok && o != v.Code {
					t.Errorf("%s.%s: %q spells both %s and %s", l.Name, f.Name, sp, o, v.Code)
				}
				owner[sp] = v.Code
			}
			for _, s := range append([]string{v.Code, v.Label, v.LabelZH, strings.ToUpper(v.Label), " " + v.LabelZH + " "}, v.Synonyms...) {
				if got, ok := f.Lookup(s); !ok || got != v.Code {
					t.Errorf("%s.%s: Lookup(%q) = %q, %v; want %s", l.Name, f.Name, s, got, ok, v.Code)
				}
			}
		}
		if got, ok := f.Lookup("no such value"); ok {
			t.Errorf("%s.%s: Lookup of an unknown value = %q, want not found", l.Name, f.Name, got)
		}
	})
}

// The shared definitions name declared codes only.
func TestEnumDefinitions(t *testing.T) {
	roads, _ := layer.Default().Layer("roads")
	for field, codes := range map[string][]string{"surface": layer.HardenedSurfaces, "tech_grade": layer.GradedTechGrades, "status": {"completed"}} {
		f, _ := roads.Field(field)
		for _, c := range codes {
			if _, ok := f.Value(c); !ok {
				t.Errorf("definition names roads.%s=%s, which the catalog does not declare", field, c)
			}
		}
	}
}

// The bench generators (bench/*.sql) insert only declared codes: every
// string literal in the SELECT expression of an enum column.
func TestEnumBenchSQL(t *testing.T) {
	files, _ := filepath.Glob("../bench/*.sql")
	if len(files) < 2 {
		t.Fatalf("found %d bench SQL files, want national.sql and roads1m.sql", len(files))
	}
	cat := layer.Default()
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, ins := range parseInserts(string(b)) {
			l, ok := cat.Layer(ins.table)
			if !ok {
				t.Errorf("%s: INSERT INTO lastmile.%s, not a catalog layer", file, ins.table)
				continue
			}
			if len(ins.cols) != len(ins.exprs) {
				t.Errorf("%s: INSERT INTO %s: %d columns, %d select expressions", file, ins.table, len(ins.cols), len(ins.exprs))
				continue
			}
			for i, col := range ins.cols {
				f, ok := l.Field(col)
				if !ok || f.Type != layer.Enum {
					continue
				}
				lits := sqlLiteral.FindAllStringSubmatch(ins.exprs[i], -1)
				if len(lits) == 0 {
					t.Errorf("%s: %s.%s = %s: no literal to check", file, ins.table, col, ins.exprs[i])
				}
				for _, m := range lits {
					checked++
					if _, ok := f.Value(m[1]); !ok {
						t.Errorf("%s: %s.%s = '%s', which the catalog does not declare (%s)", file, ins.table, col, m[1], strings.Join(f.Enum, ", "))
					}
				}
			}
		}
		if checked < 10 {
			t.Errorf("%s: checked %d enum literals, expected the road generator's status, class, grade and surface lists", file, checked)
		}
	}
}

var (
	sqlInsert  = regexp.MustCompile(`(?is)INSERT\s+INTO\s+lastmile\.(\w+)\s*\(([^)]*)\)\s*SELECT\s`)
	sqlLiteral = regexp.MustCompile(`'([^']*)'`)
)

type insert struct {
	table string
	cols  []string
	exprs []string
}

// parseInserts finds INSERT INTO lastmile.t (cols) SELECT e1, e2, … FROM
// and splits the select list on the commas outside parentheses, brackets
// and quotes.
func parseInserts(sql string) []insert {
	var out []insert
	for _, m := range sqlInsert.FindAllStringSubmatchIndex(sql, -1) {
		ins := insert{table: sql[m[2]:m[3]]}
		for c := range strings.SplitSeq(sql[m[4]:m[5]], ",") {
			ins.cols = append(ins.cols, strings.TrimSpace(c))
		}
		depth, quoted, start := 0, false, m[1]
		for i := m[1]; i < len(sql); i++ {
			switch c := sql[i]; {
			case c == '\'':
				quoted = !quoted
			case quoted:
			case c == '(' || c == '[':
				depth++
			case c == ')' || c == ']':
				depth--
			case c == ',' && depth == 0:
				ins.exprs = append(ins.exprs, strings.TrimSpace(sql[start:i]))
				start = i + 1
			case depth == 0 && i+5 <= len(sql) && strings.EqualFold(sql[i:i+5], "\nFROM"):
				ins.exprs = append(ins.exprs, strings.TrimSpace(sql[start:i]))
				i = len(sql)
			}
		}
		out = append(out, ins)
	}
	return out
}

// Lookup reads import text: whatever it is given, it answers a declared
// code of the field or not found, and a code it answers looks itself up.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"水泥", "Cement", " class-1 ", "C级危房", "", "\xff", "concrete:plates"} {
		f.Add("surface", s)
	}
	f.Add("level", "乡镇")
	f.Add("kind", "变压器")
	cat := layer.Default()
	f.Fuzz(func(t *testing.T, field, s string) {
		for _, l := range cat.Layers() {
			fd, ok := l.Field(field)
			if !ok || fd.Type != layer.Enum {
				continue
			}
			code, ok := fd.Lookup(s)
			if !ok {
				continue
			}
			if _, declared := fd.Value(code); !declared {
				t.Fatalf("%s.%s: Lookup(%q) = %q, not a declared code", l.Name, field, s, code)
			}
			if again, ok := fd.Lookup(code); !ok || again != code {
				t.Fatalf("%s.%s: Lookup(%q) = %q, but Lookup(%q) = %q, %v", l.Name, field, s, code, code, again, ok)
			}
		}
	})
}
