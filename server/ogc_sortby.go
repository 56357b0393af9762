package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
)

// MaxSortKeys bounds the keys of one sortby.
const MaxSortKeys = 8

// sortable reports whether a field can order a page: every catalog field
// but objects.
func sortable(f layer.Field) bool { return f.Type != layer.Object }

// sortableNames lists what sortby accepts on l: id, the catalog fields but
// objects, and length_m on line layers.
func sortableNames(l *layer.Layer) []string {
	out := []string{"id"}
	for _, f := range l.Fields {
		if sortable(f) {
			out = append(out, f.Name)
		}
	}
	if l.IsLinear() {
		out = append(out, "length_m")
	}
	return out
}

// ParseSortBy parses sortby (OGC API Features Part 8 draft, as
// pg_featureserv reads it): field names separated by commas, each
// optionally prefixed by + (ascending, the default) or - (descending). The
// page is then ordered by these keys and by id, so paging stays stable. It
// returns every problem at once, each naming the key at fault.
func ParseSortBy(l *layer.Layer, s string) ([]postgis.Sort, []lastmile.Problem) {
	var (
		out      []postgis.Sort
		problems []lastmile.Problem
		seen     = map[string]bool{}
		names    = sortableNames(l)
	)
	bad := func(value, format string, args ...any) {
		problems = append(problems, lastmile.Problem{Field: "sortby", Value: lastmile.Clip(value), Message: fmt.Sprintf(format, args...)})
	}
	keys := strings.Split(s, ",")
	if len(keys) > MaxSortKeys {
		bad(s, "has %d keys; give at most %d", len(keys), MaxSortKeys)
		return nil, problems
	}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		desc := false
		switch {
		case strings.HasPrefix(k, "-"):
			desc, k = true, k[1:]
		case strings.HasPrefix(k, "+"):
			k = k[1:]
		}
		// "field:A" / "field:D" is the older spelling some clients send.
		if name, dir, ok := strings.Cut(k, ":"); ok {
			switch strings.ToUpper(dir) {
			case "A", "ASC":
				k = name
			case "D", "DESC":
				k, desc = name, !desc
			}
		}
		switch {
		case k == "":
			bad(s, "has an empty key; write sortby=field,-field (a - sorts descending)")
			continue
		case !slices.Contains(names, k):
			bad(k, "is not a field %s can be sorted by (%s)", l.Name, strings.Join(names, ", "))
			continue
		case seen[k]:
			bad(k, "is given twice")
			continue
		}
		seen[k] = true
		out = append(out, postgis.Sort{Field: k, Desc: desc})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}
