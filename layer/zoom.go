package layer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// zoom.go — the zoom rules: which features of a layer a tile carries at
// which zoom, declared once here and applied by the tile SQL (tiles/), hence
// by archive exports (which render through it), and shown in TileJSON and
// the style document.

// ZoomRule makes the features whose Field has one of Values (enum or text
// fields), or, when Values is empty, a value of at least AtLeast (numeric
// fields), appear from MinZoom. A feature appears from the lowest MinZoom
// of the rules it matches, and from the layer's FullZoom when it matches
// none (a missing value matches no rule).
type ZoomRule struct {
	MinZoom int
	Field   string
	Values  []string
	AtLeast float64
}

// Overview kinds.
const (
	// OverviewLines: below Overview.Below a tile draws the layer's lines
	// collected per county, per zoom band and per value of the
	// Keys fields, each line simplified to a pixel of its band.
	OverviewLines = "lines"
	// OverviewCounts: below Overview.Below a tile draws one point per admin
	// area (Levels) with the count and population of its features and the
	// share covered by an all-season road within 2 km.
	OverviewCounts = "counts"
)

// Overview declares the generalised features a layer's tiles carry below a
// zoom instead of its rows. They are precomputed (tables of migration
// 0090) and kept current from a change log, never computed per tile.
type Overview struct {
	Kind  string // OverviewLines or OverviewCounts
	Below int    // drawn at zooms MinZoom … Below-1; rows from Below on
	// Bands (lines): the first zoom of each simplification band, ascending;
	// a band ends where the next begins (the last at Below). Lines are
	// simplified to one pixel at the band's last zoom.
	Bands []int
	// Keys (lines): the fields kept on merged lines; tile filters on other
	// fields of the layer are answered from the rows instead.
	Keys []string
	// Class (lines): a numeric zoom-rule field kept on merged lines as its
	// class, not its value (nil: none).
	Class *OverviewClass
	// Table (lines): the overview's table in schema lastmile.
	Table string
	// Count (lines): the column and tile property holding the number of
	// the layer's features collected into a line ("roads").
	Count string
	// Levels (counts): the admin level of the points from each zoom.
	Levels []OverviewLevel
}

// OverviewClass keeps the numeric field Field of a layer's zoom rules on
// its overview lines as a class: the highest threshold (AtLeast) of the
// rules on Field that the value meets, so that lines of 120 and 250 mm are
// collected together in class 100. A rule's condition holds for a class
// exactly when it holds for every value in it, so the style's zoom filter
// reads Column where Field is absent.
type OverviewClass struct {
	Field  string // the rules' field: "diameter_mm"
	Column string // the overview column and tile property: "diameter_class"
}

// Thresholds returns the thresholds of the rules on the class's field,
// highest first, without duplicates.
func (c *OverviewClass) Thresholds(l *Layer) []float64 {
	var out []float64
	for _, r := range l.ZoomRules {
		if r.Field == c.Field && len(r.Values) == 0 && !slices.Contains(out, r.AtLeast) {
			out = append(out, r.AtLeast)
		}
	}
	slices.SortFunc(out, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return out
}

// ClassOf returns the class of a value (false: below every threshold).
func (c *OverviewClass) ClassOf(l *Layer, v float64) (float64, bool) {
	for _, t := range c.Thresholds(l) {
		if v >= t {
			return t, true
		}
	}
	return 0, false
}

// SQL returns the class of each feature (over the layer's table aliased
// alias; NULL below every threshold): ClassOf in SQL.
func (c *OverviewClass) SQL(l *Layer, alias string) string {
	col := col(alias, strconv.Quote(c.Field))
	var b strings.Builder
	b.WriteString("CASE")
	for _, t := range c.Thresholds(l) {
		n := strconv.FormatFloat(t, 'g', -1, 64)
		fmt.Fprintf(&b, " WHEN %s >= %s THEN %s", col, n, n)
	}
	b.WriteString(" END")
	return b.String()
}

// Columns returns the overview's kept columns (lines): Keys, then the
// class column. With area, band and the tile (cx, cy) they name a row.
func (o *Overview) Columns() []string {
	out := slices.Clone(o.Keys)
	if o.Class != nil {
		out = append(out, o.Class.Column)
	}
	return out
}

// OverviewLevel is the admin level aggregated from a zoom on.
type OverviewLevel struct {
	FromZoom int
	Level    string // "county" or "township"
	// Digits of the 12-digit admin code that name the area (6 county, 9 township).
	Digits int
}

// Band returns the simplification band [first, last] of zoom z, and false
// when z has none (not below Below or under the first band).
func (o *Overview) Band(z int) (first, last int, ok bool) {
	for i := len(o.Bands) - 1; i >= 0; i-- {
		if z >= o.Bands[i] {
			end := o.Below
			if i+1 < len(o.Bands) {
				end = o.Bands[i+1]
			}
			if z < end {
				return o.Bands[i], end - 1, true
			}
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// Level returns the aggregation level at zoom z (false when none).
func (o *Overview) Level(z int) (OverviewLevel, bool) {
	var out OverviewLevel
	found := false
	for _, lv := range o.Levels {
		if z >= lv.FromZoom && z < o.Below {
			out, found = lv, true
		}
	}
	return out, found
}

// Uses reports whether tiles of zoom z draw the overview.
func (o *Overview) Uses(z int, l *Layer) bool {
	return o != nil && z >= l.MinZoom && z < o.Below
}

// FeatureMinZoom returns the zoom from which a feature with the given field
// values (text for enums, float64 for numbers; absent or nil: missing)
// appears in tiles.
func (l *Layer) FeatureMinZoom(values map[string]any) int {
	z := l.FullZoom
	for _, r := range l.ZoomRules {
		v, ok := values[r.Field]
		if !ok || v == nil || r.MinZoom >= z {
			continue
		}
		match := false
		if len(r.Values) > 0 {
			s, _ := v.(string)
			match = slices.Contains(r.Values, s)
		} else {
			switch n := v.(type) {
			case float64:
				match = n >= r.AtLeast
			case int:
				match = float64(n) >= r.AtLeast
			}
		}
		if match {
			z = r.MinZoom
		}
	}
	return max(z, l.MinZoom)
}

// ruleSQL is the condition of one rule on the layer's table aliased alias.
func (r ZoomRule) sql(alias string) string {
	c := col(alias, strconv.Quote(r.Field))
	if len(r.Values) > 0 {
		return inList(c, r.Values)
	}
	return fmt.Sprintf("%s >= %s", c, strconv.FormatFloat(r.AtLeast, 'g', -1, 64))
}

// VisibleSQL returns the condition (over the layer's table aliased alias)
// of the features tiles of zoom z carry, and "" when they carry every
// feature (z at or above FullZoom). With rules and no rule reaching z it is
// "false".
func (l *Layer) VisibleSQL(alias string, z int) string {
	if z >= l.FullZoom {
		return ""
	}
	var conds []string
	for _, r := range l.ZoomRules {
		if r.MinZoom <= z {
			conds = append(conds, r.sql(alias))
		}
	}
	if len(conds) == 0 {
		return "false"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// MinZoomSQL returns the SQL expression (over the layer's table aliased
// alias) of the zoom from which each feature appears: FeatureMinZoom in SQL.
func (l *Layer) MinZoomSQL(alias string) string {
	if len(l.ZoomRules) == 0 {
		return strconv.Itoa(max(l.FullZoom, l.MinZoom))
	}
	rules := slices.Clone(l.ZoomRules)
	slices.SortStableFunc(rules, func(a, b ZoomRule) int { return a.MinZoom - b.MinZoom })
	var b strings.Builder
	b.WriteString("CASE")
	for _, r := range rules {
		if r.MinZoom >= l.FullZoom {
			continue
		}
		fmt.Fprintf(&b, " WHEN %s THEN %d", r.sql(alias), max(r.MinZoom, l.MinZoom))
	}
	fmt.Fprintf(&b, " ELSE %d END", max(l.FullZoom, l.MinZoom))
	return b.String()
}

// RowsMinZoom is the lowest zoom at which tiles can carry the layer's own
// rows: MinZoom, except under a counts overview (points per area), whose
// rows start at its Below. Below Below, tiles draw the overview; when a
// tile's filters need the rows (lines overview only), the rows that the
// zoom rules admit.
func (l *Layer) RowsMinZoom() int {
	if l.Overview != nil && l.Overview.Kind == OverviewCounts {
		return max(l.MinZoom, l.Overview.Below)
	}
	return l.MinZoom
}
