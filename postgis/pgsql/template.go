package pgsql

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// A Template is SQL with /*slot*/ markers, parsed once. Fill replaces every
// marker by its part: parts are built from catalog identifiers (Table, Col),
// the catalog's definitions, fixed expressions and Args placeholders, never
// from request text. The markers are SQL comments, so editors and psql read
// a template file as SQL.
//
// A slot name is lower-case letters, digits and underscores, starting with a
// letter. Lines that are only a -- comment are dropped when parsing, so
// comments may mention slots freely.
type Template struct {
	name  string
	text  []string // text[i] comes before slots[i]; len(text) == len(slots)+1
	slots []string
}

var slotPattern = regexp.MustCompile(`/\*([a-z][a-z0-9_]*)\*/`)

// Parse parses sql, naming the template name in errors (a file name).
func Parse(name, sql string) *Template {
	var lines []string
	for _, line := range strings.Split(sql, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, line)
		}
	}
	body := strings.Join(lines, "\n")
	t := &Template{name: name}
	last := 0
	for _, m := range slotPattern.FindAllStringSubmatchIndex(body, -1) {
		t.text = append(t.text, body[last:m[0]])
		t.slots = append(t.slots, body[m[2]:m[3]])
		last = m[1]
	}
	t.text = append(t.text, body[last:])
	return t
}

// Name returns the template's name.
func (t *Template) Name() string { return t.name }

// Slots returns the template's slot names, sorted and distinct.
func (t *Template) Slots() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range t.slots {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Slots are the parts of a template, by slot name.
type Slots map[string]string

// Fill returns the SQL with every slot replaced by its part. Parts for slots
// the template lacks are ignored (one Slots may serve several templates); a
// slot without a part is a programming error and panics, naming both.
func (t *Template) Fill(parts Slots) string {
	var b strings.Builder
	for i, s := range t.slots {
		v, ok := parts[s]
		if !ok {
			panic(fmt.Sprintf("pgsql: %s: no part for /*%s*/", t.name, s))
		}
		b.WriteString(t.text[i])
		b.WriteString(v)
	}
	b.WriteString(t.text[len(t.slots)])
	return b.String()
}

// String returns the template's SQL with its markers, as parsed.
func (t *Template) String() string {
	var b strings.Builder
	for i, s := range t.slots {
		b.WriteString(t.text[i])
		b.WriteString("/*" + s + "*/")
	}
	b.WriteString(t.text[len(t.slots)])
	return b.String()
}

// Templates are parsed templates by file base name ("layer.sql").
type Templates map[string]*Template

// MustParseFS parses every file of fsys matching pattern (e.g. an embed.FS
// and "sql/*.sql"), keyed by base name ("sql/layer.sql" → "layer.sql"). It
// panics when a file cannot be read or nothing matches: templates are
// embedded, so that is a build mistake.
func MustParseFS(fsys fs.FS, pattern string) Templates {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		panic(err)
	}
	if len(names) == 0 {
		panic("pgsql: no file matches " + pattern)
	}
	out := Templates{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			panic(err)
		}
		out[path.Base(n)] = Parse(n, string(b))
	}
	return out
}

// Fill fills the template named name; an unknown name panics.
func (ts Templates) Fill(name string, parts Slots) string {
	t, ok := ts[name]
	if !ok {
		panic("pgsql: no template " + name)
	}
	return t.Fill(parts)
}
