package tiles

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// TileJSON is a TileJSON 3.0.0 document.
type TileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	Version      string        `json:"version"`
	Attribution  string        `json:"attribution,omitempty"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       [4]float64    `json:"bounds"`
	Center       [3]float64    `json:"center"`
	VectorLayers []VectorLayer `json:"vector_layers"`
}

// VectorLayer describes one MVT layer: its properties and their types
// ("String", "Number", "Boolean"), each with its label and unit.
type VectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description,omitempty"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields"`
	// FieldTypes maps each property to its MVT value type (lastmile
	// extension; fields holds human-readable descriptions).
	FieldTypes map[string]string `json:"field_types"`
	Geometry   []string          `json:"geometry_kinds"`
	// FullZoom is the zoom from which tiles carry every feature; below it
	// those of ZoomRules (the catalog's, layer/zoom.go), and below the
	// overview's zoom the overview's generalised features (lastmile
	// extensions).
	FullZoom  int           `json:"lm:full_zoom"`
	ZoomRules []ZoomRuleDoc `json:"lm:zoom_rules,omitempty"`
	Overview  *OverviewDoc  `json:"lm:overview,omitempty"`
}

// ZoomRuleDoc is a zoom rule as TileJSON states it: features whose field
// is one of values (or at least at_least) appear from minzoom.
type ZoomRuleDoc struct {
	MinZoom int      `json:"minzoom"`
	Field   string   `json:"field"`
	Values  []string `json:"values,omitempty"`
	AtLeast *float64 `json:"at_least,omitempty"`
}

// OverviewDoc describes a layer's overview in TileJSON.
type OverviewDoc struct {
	Kind    string   `json:"kind"`    // "lines" or "counts"
	MinZoom int      `json:"minzoom"` // the layer's
	Below   int      `json:"below"`   // rows from this zoom
	Bands   []int    `json:"bands,omitempty"`
	Keys    []string `json:"fields,omitempty"`
	// Class (lines): the numeric rule field kept as a class, and the
	// property holding it; Count the property counting the features collected.
	Class  *OverviewClassDoc `json:"class,omitempty"`
	Count  string            `json:"count,omitempty"`
	Levels map[string]int    `json:"levels,omitempty"` // level → first zoom
}

// OverviewClassDoc is layer.OverviewClass in TileJSON.
type OverviewClassDoc struct {
	Field      string    `json:"field"`
	Property   string    `json:"property"`
	Thresholds []float64 `json:"thresholds"` // highest first
}

// zoomDocs returns the TileJSON statement of a layer's zoom rules and
// overview, and adds the overview's own properties to vl.
func zoomDocs(l *layer.Layer, vl *VectorLayer) {
	vl.FullZoom = l.FullZoom
	for _, r := range l.ZoomRules {
		d := ZoomRuleDoc{MinZoom: max(r.MinZoom, l.MinZoom), Field: r.Field, Values: r.Values}
		if len(r.Values) == 0 {
			v := r.AtLeast
			d.AtLeast = &v
		}
		vl.ZoomRules = append(vl.ZoomRules, d)
	}
	o := l.Overview
	if o == nil {
		return
	}
	od := &OverviewDoc{Kind: o.Kind, MinZoom: l.MinZoom, Below: o.Below, Bands: o.Bands, Keys: o.Keys}
	switch o.Kind {
	case layer.OverviewLines:
		od.Count = o.Count
		if c := o.Class; c != nil {
			od.Class = &OverviewClassDoc{Field: c.Field, Property: c.Column, Thresholds: c.Thresholds(l)}
		}
		below := "overview (zooms below " + itoa(o.Below) + "): "
		vl.Fields[o.Count] = "Number: " + below + "the " + l.Title + " collected into this line"
		vl.FieldTypes[o.Count] = "Number"
		if c := o.Class; c != nil {
			var ts []string
			for _, t := range c.Thresholds(l) {
				ts = append(ts, strconv.FormatFloat(t, 'g', -1, 64))
			}
			vl.Fields[c.Column] = "Number: " + below + "the class of " + c.Field + " (" + strings.Join(ts, ", ") +
				"): every line collected has at least this " + c.Field + "; the line carries no " + c.Field
			vl.FieldTypes[c.Column] = "Number"
		}
	case layer.OverviewCounts:
		od.Levels = map[string]int{}
		for _, lv := range o.Levels {
			od.Levels[lv.Level] = lv.FromZoom
		}
		below := "overview (zooms below " + itoa(o.Below) + ", one point per admin area): "
		for name, desc := range map[string]string{
			"level": "String: " + below + "the admin level of the area (county, township)", "villages": "Number: " + below + "villages",
			"covered":       "Number: " + below + "villages within 2 km (geodesic) of a completed all-season road",
			"covered_share": "Number: " + below + "covered / villages"} {
			vl.Fields[name] = desc
			if strings.HasPrefix(desc, "Number") {
				vl.FieldTypes[name] = "Number"
			} else {
				vl.FieldTypes[name] = "String"
			}
		}
	}
	vl.Overview = od
}

// mvtType is the MVT value type a field's tile property has.
func mvtType(t layer.FieldType) string {
	switch t {
	case layer.Integer, layer.Number, layer.Money:
		return "Number"
	case layer.Boolean:
		return "Boolean"
	}
	return "String"
}

// fieldDescription is "Number (m): Width", "String: Status (planned, …)".
func fieldDescription(f layer.Field) string {
	s := mvtType(f.Type)
	if f.Unit != "" {
		s += " (" + f.Unit + ")"
	}
	s += ": " + f.Label
	if f.Type == layer.Enum {
		s += " — one of " + strings.Join(f.Enum, ", ")
	}
	if f.Type == layer.Date {
		s += " (YYYY-MM-DD)"
	}
	return s
}

// tileURL is the {z}/{x}/{y} template of a layer set with filters.
func tileURL(base, layers string, filters Filters) string {
	u := base + "/tiles/" + layers + "/{z}/{x}/{y}.mvt"
	if f := filters.String(); f != "" {
		u += "?" + f
	}
	return u
}

// serveTileJSON answers GET /tiles/{layers}.json.
func (s *Service) serveTileJSON(w http.ResponseWriter, r *http.Request) error {
	layers, err := s.parseLayers(mux.Vars(r)["layers"])
	if err != nil {
		return err
	}
	filters, err := s.parseFilters(layers, r.URL.RawQuery)
	if err != nil {
		return err
	}
	tj, err := s.tileJSON(r.Context(), respond.BaseURL(r), layers, filters)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-cache")
	respond.JSON(w, http.StatusOK, tj)
	return nil
}

// tileJSON builds the TileJSON of a layer set.
func (s *Service) tileJSON(ctx context.Context, base string, layers []*layer.Layer, filters Filters) (*TileJSON, error) {
	names := layerNames(layers)
	tj := &TileJSON{
		TileJSON: "3.0.0", Name: names, Version: "1.0.0", Scheme: "xyz",
		Attribution: s.opts.Attribution,
		Tiles:       []string{tileURL(base, names, filters)},
		MinZoom:     maxZoom, MaxZoom: 0,
	}
	var titles []string
	var bound orb.Bound
	found := false
	for _, l := range layers {
		titles = append(titles, l.Title)
		tj.MinZoom = min(tj.MinZoom, l.MinZoom)
		tj.MaxZoom = max(tj.MaxZoom, l.MaxZoom)
		vl := VectorLayer{ID: l.Name, Description: l.Title + " / " + l.TitleZH, MinZoom: l.MinZoom, MaxZoom: l.MaxZoom,
			Fields: map[string]string{}, FieldTypes: map[string]string{}, Geometry: l.GeomKinds}
		for _, f := range l.TileFields() {
			vl.Fields[f.Name] = fieldDescription(f)
			vl.FieldTypes[f.Name] = mvtType(f.Type)
		}
		zoomDocs(l, &vl)
		tj.VectorLayers = append(tj.VectorLayers, vl)
		e, err := s.extent(ctx, l)
		if err != nil {
			return nil, err
		}
		if e.ok {
			if !found {
				bound, found = e.bound, true
			} else {
				bound = bound.Union(e.bound)
			}
		}
	}
	tj.Description = strings.Join(titles, ", ")
	if !found {
		bound = orb.Bound{Min: orb.Point{-180, -maxLat}, Max: orb.Point{180, maxLat}}
	}
	bound.Min[1] = math.Max(bound.Min[1], -maxLat)
	bound.Max[1] = math.Min(bound.Max[1], maxLat)
	tj.Bounds = [4]float64{round6(bound.Min[0]), round6(bound.Min[1]), round6(bound.Max[0]), round6(bound.Max[1])}
	c := bound.Center()
	zoom := tj.MinZoom
	if found {
		// The zoom at which the data spans about a tile.
		span := math.Max(bound.Max[0]-bound.Min[0], bound.Max[1]-bound.Min[1])
		if span > 0 {
			zoom = int(math.Floor(math.Log2(360 / span)))
		}
		zoom = max(tj.MinZoom, min(tj.MaxZoom, zoom))
	}
	tj.Center = [3]float64{round6(c[0]), round6(c[1]), float64(zoom)}
	return tj, nil
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// extent returns a layer's data extent, cached until the layer changes.
func (s *Service) extent(ctx context.Context, l *layer.Layer) (*extent, error) {
	s.extentMu.Lock()
	e, ok := s.extents[l.Name]
	s.extentMu.Unlock()
	if ok {
		return e, nil
	}
	gen := s.cache.generation([]string{l.Name})
	var x0, y0, x1, y1 *float64
	if err := s.pool.QueryRow(ctx, extentQuery(l)).Scan(&x0, &y0, &x1, &y1); err != nil {
		return nil, fmt.Errorf("extent of %s: %w", l.Name, err)
	}
	e = &extent{}
	if x0 != nil {
		e.ok = true
		e.bound = orb.Bound{Min: orb.Point{*x0, *y0}, Max: orb.Point{*x1, *y1}}
	}
	if s.cache.generation([]string{l.Name}) == gen {
		s.extentMu.Lock()
		s.extents[l.Name] = e
		s.extentMu.Unlock()
	}
	return e, nil
}

// tileSet is one entry of GET /tiles.
type tileSet struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	TitleZH  string   `json:"title_zh"`
	TileJSON string   `json:"tilejson"`
	Tiles    string   `json:"tiles"`
	MinZoom  int      `json:"minzoom"`
	MaxZoom  int      `json:"maxzoom"`
	Geometry []string `json:"geometry_kinds"`
	Fields   []string `json:"fields"`
	Filters  []string `json:"filters"`
}

// serveCatalog answers GET /tiles: every layer's tile set, and how to
// combine layers and filter.
func (s *Service) serveCatalog(w http.ResponseWriter, r *http.Request) error {
	base := respond.BaseURL(r)
	var sets []tileSet
	for _, l := range s.catalog.Layers() {
		ts := tileSet{
			Name: l.Name, Title: l.Title, TitleZH: l.TitleZH,
			TileJSON: base + "/tiles/" + l.Name + ".json",
			Tiles:    tileURL(base, l.Name, nil),
			MinZoom:  l.MinZoom, MaxZoom: l.MaxZoom, Geometry: l.GeomKinds,
			Filters: sortedKeys(filterParams([]*layer.Layer{l})),
		}
		for _, f := range l.TileFields() {
			ts.Fields = append(ts.Fields, f.Name)
		}
		sets = append(sets, ts)
	}
	doc := map[string]any{
		"tilesets": sets,
		"combine":  base + "/tiles/{layer},{layer}/{z}/{x}/{y}.mvt (one MVT layer per catalog layer)",
	}
	// The cache's counters say how the server is used: for operators only
	// (a token with scope metrics, or admin).
	if auth.From(r.Context()).Has(auth.ScopeMetrics) {
		doc["cache"] = s.Stats()
	}
	respond.JSON(w, http.StatusOK, doc)
	return nil
}
