package report

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/lastmile/lastmile"
)

// Report is everything a report shows.
type Report struct {
	Request   Request
	Area      Area
	Generated time.Time
	Now       *Snapshot // as of Request.AsOf (nil: the current data)
	Then      *Snapshot // as of Request.Compare, when given
	Years     []YearKm
	Townships []TownshipRow // county reports only
	Map       *Map
	Chart     template.HTML
	Layers    []LayerExtent
	LastEdit  LastEdit
	Sources   []Source // every question asked, in order, once each
	// Definitions groups the sources by figure: one definition (of the
	// first question) and every request asked for it.
	Definitions []Definition
}

// Definition is one figure's definition and the requests that answer it.
type Definition struct {
	Key, Definition string
	Echo            map[string]any
	Requests        []Source
}

// Build computes a report: it looks up the area (404 when unknown), asks
// the statistics endpoints, draws the map from the tiles and reads the
// data's extent.
func (b *Builder) Build(ctx context.Context, req Request) (_ *Report, err error) {
	defer lastmile.Wrap(&err, "report.Build(%s)", req.Code)
	t0 := time.Now()
	area, err := b.lookupArea(ctx, req.Code)
	if err != nil {
		return nil, err
	}
	x := &build{b: b, ctx: ctx, area: area}
	r := &Report{Request: req, Area: area, Generated: b.now().UTC()}
	if r.Now, err = x.snapshot(req.AsOf); err != nil {
		return nil, err
	}
	if r.Years, err = x.byYear(req.AsOf); err != nil {
		return nil, err
	}
	if area.Group == "county" {
		if r.Townships, err = x.townships(req.AsOf); err != nil {
			return nil, err
		}
	}
	if req.Compare != nil {
		if r.Then, err = x.snapshot(req.Compare); err != nil {
			return nil, err
		}
	}
	b.step("figures", t0)
	t1 := time.Now()
	if r.Map, err = x.mapOf(r.Now); err != nil {
		return nil, err
	}
	b.step(fmt.Sprintf("map (%d tiles at zoom %d)", r.Map.Tiles, r.Map.Zoom), t1)
	if r.Layers, err = x.extents(); err != nil {
		return nil, err
	}
	if r.LastEdit, err = x.lastEdit(); err != nil {
		return nil, err
	}
	r.Chart = barChart(r.Years, tr(req.Lang, "no_date"))
	// Each question once (the compare snapshot asks the same ones with
	// another as_of; those are listed too).
	seen := map[string]bool{}
	for _, s := range x.sources {
		if !seen[s.URL()] {
			seen[s.URL()] = true
			r.Sources = append(r.Sources, s)
		}
	}
	index := map[string]int{}
	for _, s := range r.Sources {
		i, ok := index[s.Key]
		if !ok {
			i = len(r.Definitions)
			index[s.Key] = i
			r.Definitions = append(r.Definitions, Definition{Key: s.Key, Definition: s.Definition, Echo: s.Echo})
		}
		r.Definitions[i].Requests = append(r.Definitions[i].Requests, s)
	}
	return r, nil
}

//go:embed template.html
var templateText string

//go:embed style.css
var styleText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"t": func(string) string { return "" }, "tf": func(string, ...any) string { return "" },
	"int": fmtInt, "pct": fmtPct, "km": fmtKm, "m": fmtM, "date": fmtDate, "time": fmtTime, "bounds": fmtBounds,
	"style": func() template.CSS { return template.CSS(styleText) },
	"lang":  func() string { return "" }, "defzh": func(string) string { return "" },
	"pctOf": func(part, whole int64) *float64 {
		if whole == 0 {
			return nil
		}
		p := float64(int64(1000*float64(part)/float64(whole)+0.5)) / 10
		return &p
	},
	"signed": func(s string) string {
		if s != "" && !strings.HasPrefix(s, "-") && s != "0" && s != "0.00" && s != "0.0 %" {
			return "+" + s
		}
		return s
	},
	"sub":          func(a, b int64) int64 { return a - b },
	"subf":         func(a, b float64) float64 { return a - b },
	"subp":         subPct,
	"params":       params,
	"label":        func(d *time.Time) string { return "" },
	"intf":         func(f float64) string { return fmtInt(int64(f + 0.5)) },
	"ptr":          func(f float64) *float64 { return &f },
	"surfaces":     func() []string { return []string{"asphalt", "cement", "stone", "gravel", "earth"} },
	"statuses":     func() []string { return []string{"completed", "under_construction", "planned"} },
	"color":        func(s string) template.CSS { return template.CSS(surfaceColors[s]) },
	"status_color": func(s string) template.CSS { return template.CSS(statusColors[s]) },
	"surface":      func(s string) string { return "" },
	"status":       func(s string) string { return "" },
	"straightCount": func(vs []Village) int {
		n := 0
		for _, v := range vs {
			if v.StraightUncovered {
				n++
			}
		}
		return n
	},
}).Parse(templateText))

func subPct(a, b *float64) *float64 {
	if a == nil || b == nil {
		return nil
	}
	d := float64(int64((*a-*b)*10+signOf(*a-*b)*0.5)) / 10
	return &d
}

func signOf(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// params lists the parameters of an answer as understood, sorted.
func params(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// HTML renders the report as one self-contained HTML page (inline CSS and
// SVG, no external requests), laid out for A4.
func (r *Report) HTML() ([]byte, error) {
	lang := r.Request.Lang
	t, err := page.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{
		"t":       func(key string) string { return tr(lang, key) },
		"tf":      func(key string, args ...any) string { return fmt.Sprintf(tr(lang, key), args...) },
		"lang":    func() string { return lang },
		"defzh":   func(key string) string { return definitionsZH[key] },
		"surface": func(s string) string { return tr(lang, "s_"+s) },
		"status":  func(s string) string { return tr(lang, "st_"+s) },
		"label": func(d *time.Time) string {
			if d == nil {
				return tr(lang, "today")
			}
			return d.Format(time.DateOnly)
		},
	})
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("report template: %w", err)
	}
	return b.Bytes(), nil
}

// Title returns the report's title line.
func (r *Report) Title() string {
	return r.Area.Name + " — " + tr(r.Request.Lang, "title")
}
