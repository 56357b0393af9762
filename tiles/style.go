package tiles

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// style.go — the MapLibre style document of a tile set
// (GET /tiles/{layers}/style.json): how each catalog layer is drawn, with
// value colours, widths and opacities from the catalog's enum values
// (layer/enum.go) and the layer-wide colours below, and one vector source
// pointing at the set's TileJSON. MapLibre, QGIS's vector tile layer
// (styleUrl) and the map page all draw from it.

// Layer-wide colours of the layers not styled by an enum value.
const (
	hazardColor      = "#d62828"
	villageColor     = "#2b9348"
	poorVillageColor = "#e63946"
	siteColor        = "#7b2cbf"
	backgroundColor  = "#f4f1ea"
)

// Statuses drawn dashed: works not yet completed.
var inProgress = []any{"planned", "under_construction"}

// styleSource is the name of the style's vector source.
const styleSource = "lastmile"

type obj = map[string]any

// matchBy is a MapLibre match expression over an enum field's values: the
// output of each value (from attr: "color", "width", "opacity"), else
// fallback. transform maps a catalog number to the output (nil: as is).
func matchBy(l *layer.Layer, field, attr string, fallback any, transform func(float64) any) any {
	f, ok := l.Field(field)
	if !ok {
		return fallback
	}
	expr := []any{"match", []any{"get", field}}
	for _, v := range f.Values {
		var out any
		switch attr {
		case "color":
			if v.Color != "" {
				out = v.Color
			}
		case "width":
			if v.Width != 0 {
				out = v.Width
			}
		case "opacity":
			if v.Opacity != 0 {
				out = v.Opacity
			}
		}
		if out == nil {
			continue
		}
		if n, isNum := out.(float64); isNum && transform != nil {
			out = transform(n)
		}
		// Each label as a one-element array (MapLibre takes both forms):
		// QGIS 3.22's converter reads only arrays, and turned a bare label
		// into `"status" IN ()`, losing the whole colour match.
		expr = append(expr, []any{v.Code}, out)
	}
	if len(expr) == 2 {
		return fallback
	}
	return append(expr, fallback)
}

// zoomWidth is a line width that grows with the zoom: widthAt(k) gives the
// width expression at zoom 8 (k = 0.5), 12 (1) and 15 (2.2).
func zoomWidth(widthAt func(k float64) any) any {
	return []any{"interpolate", []any{"linear"}, []any{"zoom"}, 8, widthAt(0.5), 12, widthAt(1), 15, widthAt(2.2)}
}

// notCompleted is true for works planned or under construction, completed
// the reverse (match: what both MapLibre and QGIS's converter read).
var (
	notCompleted = []any{"match", []any{"get", "status"}, inProgress, true, false}
	completed    = []any{"match", []any{"get", "status"}, inProgress, false, true}
)

func geomIs(kind string) any  { return []any{"==", []any{"geometry-type"}, kind} }
func geomNot(kind string) any { return []any{"!=", []any{"geometry-type"}, kind} }

// StyleLayers returns the MapLibre style layers of one catalog layer, each
// with id "<layer>--<part>", source-layer the layer's name and metadata
// {"lm:layer": name}.
func StyleLayers(l *layer.Layer) []obj {
	name := l.Name
	L := func(part, typ string, def obj) obj {
		def["id"] = name + "--" + part
		def["type"] = typ
		def["source"] = styleSource
		def["source-layer"] = name
		def["minzoom"] = l.RowsMinZoom()
		def["metadata"] = obj{"lm:layer": name}
		if def["paint"] == nil {
			def["paint"] = obj{}
		}
		if rule := zoomFilter(l); rule != nil {
			if f, ok := def["filter"]; ok {
				def["filter"] = []any{"all", f, rule}
			} else {
				def["filter"] = rule
			}
		}
		return def
	}
	round := obj{"line-cap": "round", "line-join": "round"}
	switch name {
	case "admin_areas":
		return []obj{
			L("fill", "fill", obj{"filter": []any{"==", []any{"get", "level"}, "county"}, "paint": obj{"fill-color": "#ffffff", "fill-opacity": 0.35}}),
			L("line", "line", obj{"paint": obj{"line-color": matchBy(l, "level", "color", "#888888", nil),
				"line-width": matchBy(l, "level", "width", 1.0, nil), "line-dasharray": []any{4, 2}}}),
		}
	case "hazard_zones":
		return []obj{
			L("fill", "fill", obj{"paint": obj{"fill-color": hazardColor, "fill-opacity": matchBy(l, "severity", "opacity", 0.5, func(o float64) any { return o * 0.4 })}}),
			L("line", "line", obj{"paint": obj{"line-color": hazardColor, "line-width": 1.2}}),
		}
	case "relocation_sites":
		return []obj{
			L("fill", "fill", obj{"filter": geomIs("Polygon"), "paint": obj{"fill-color": siteColor, "fill-opacity": 0.35, "fill-outline-color": "#5a189a"}}),
			L("point", "circle", obj{"filter": geomIs("Point"), "paint": obj{"circle-color": siteColor,
				"circle-radius":       []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "capacity_households"}, 50}, 0, 4, 500, 10},
				"circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5}}),
		}
	case "roads":
		color := matchBy(l, "surface", "color", "#777777", nil)
		width := func(extra float64) func(k float64) any {
			return func(k float64) any {
				return matchBy(l, "road_class", "width", extra+1.5*k, func(w float64) any { return extra + w*k })
			}
		}
		return []obj{
			L("casing", "line", obj{"layout": round, "filter": completed,
				"paint": obj{"line-color": "#ffffff", "line-width": zoomWidth(width(1.5))}}),
			L("line", "line", obj{"layout": round, "filter": completed,
				"paint": obj{"line-color": color, "line-width": zoomWidth(width(0))}}),
			L("planned", "line", obj{"filter": notCompleted,
				"paint": obj{"line-color": color, "line-width": zoomWidth(width(0)), "line-dasharray": []any{2, 1.5}}}),
		}
	case "water_pipelines":
		return []obj{L("line", "line", obj{"paint": obj{"line-color": matchBy(l, "status", "color", "#777777", nil),
			"line-width": zoomWidth(func(k float64) any { return 1.6 * k }), "line-opacity": 0.9}})}
	case "power_upgrades":
		return []obj{
			L("line", "line", obj{"filter": geomNot("Point"), "paint": obj{"line-color": matchBy(l, "status", "color", "#777777", nil),
				"line-width": zoomWidth(func(k float64) any { return 1.4 * k }), "line-dasharray": []any{6, 2}}}),
			L("point", "circle", obj{"filter": geomIs("Point"), "paint": obj{"circle-color": matchBy(l, "kind", "color", "#777777", nil),
				"circle-radius": 4, "circle-stroke-color": "#6b4226", "circle-stroke-width": 1}}),
		}
	case "house_renovations":
		grade := matchBy(l, "danger_grade", "color", "#888888", nil)
		return []obj{L("circle", "circle", obj{"paint": obj{
			"circle-radius":       []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 1.5, 14, 5},
			"circle-color":        []any{"case", []any{"==", []any{"get", "status"}, "completed"}, grade, "#ffffff"},
			"circle-stroke-color": grade,
			"circle-stroke-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 10, 0.8, 14, 1.5}}})}
	case "facilities":
		return []obj{L("circle", "circle", obj{"paint": obj{"circle-radius": 3.5, "circle-color": matchBy(l, "kind", "color", "#555555", nil),
			"circle-stroke-color": "#ffffff", "circle-stroke-width": 1}})}
	case "villages":
		poor := []any{"==", []any{"to-string", []any{"get", "is_poor_village"}}, "true"}
		size := func(a, b, c, d float64) any {
			return []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "population"}, 500}, 0, a, 1000, b, 3000, c, 8000, d}
		}
		areas := obj{"id": name + "--areas", "type": "circle", "source": styleSource, "source-layer": name,
			"minzoom": l.MinZoom, "maxzoom": l.RowsMinZoom(), "metadata": obj{"lm:layer": name, "lm:overview": true},
			"paint": obj{
				"circle-radius": []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "villages"}, 1}, 1, 3, 50, 7, 500, 14},
				// the share of villages covered: red (none) to green (all)
				"circle-color":        []any{"interpolate", []any{"linear"}, []any{"coalesce", []any{"get", "covered_share"}, 0}, 0, poorVillageColor, 1, villageColor},
				"circle-opacity":      0.8,
				"circle-stroke-color": "#ffffff", "circle-stroke-width": 1}}
		if l.Overview == nil {
			areas = nil
		}
		rows := L("circle", "circle", obj{"paint": obj{
			"circle-radius":       []any{"interpolate", []any{"linear"}, []any{"zoom"}, 9, size(1.5, 3, 5, 8), 13, size(3, 6, 10, 15)},
			"circle-color":        []any{"case", poor, poorVillageColor, villageColor},
			"circle-opacity":      0.85,
			"circle-stroke-color": []any{"case", poor, "#6a040f", "#ffffff"},
			"circle-stroke-width": []any{"case", poor, 1.5, 0.8}}})
		if areas == nil {
			return []obj{rows}
		}
		return []obj{areas, rows}
	}
	return []obj{
		L("fill", "fill", obj{"filter": geomIs("Polygon"), "paint": obj{"fill-color": "#999999", "fill-opacity": 0.3}}),
		L("line", "line", obj{"filter": geomIs("LineString"), "paint": obj{"line-color": "#555555", "line-width": 1.5}}),
		L("point", "circle", obj{"filter": geomIs("Point"), "paint": obj{"circle-color": "#555555", "circle-radius": 3}}),
	}
}

// zoomFilter is the style filter of a layer's zoom rules (nil without
// rules): a feature is drawn from the zoom its rules give it, as the tiles
// carry it — ["any", [">=", ["zoom"], full], ["all", [">=", ["zoom"], z], rule]…];
// a rule on an overview's class field reads the class too (overview lines
// carry it instead of the field).
func zoomFilter(l *layer.Layer) any {
	if len(l.ZoomRules) == 0 || l.FullZoom <= l.RowsMinZoom() && l.Overview == nil {
		return nil
	}
	f := []any{"any", []any{">=", []any{"zoom"}, l.FullZoom}}
	for _, r := range l.ZoomRules {
		if r.MinZoom >= l.FullZoom {
			continue
		}
		var cond any
		if len(r.Values) > 0 {
			// "match", not "in" with a literal array: the same in MapLibre,
			// and QGIS 3.22's style converter reads only the first
			cond = []any{"match", []any{"get", r.Field}, r.Values, true, false}
		} else if c := l.Overview; c != nil && c.Class != nil && c.Class.Field == r.Field {
			// overview lines carry the class instead (layer.OverviewClass);
			// a feature has one or the other, so either reaching the
			// threshold admits it ("any", not "coalesce": QGIS 3.22's style
			// converter does not read coalesce and drops the filter's
			// operands)
			cond = []any{"any",
				[]any{">=", []any{"to-number", []any{"get", r.Field}, -1}, r.AtLeast},
				[]any{">=", []any{"to-number", []any{"get", c.Class.Column}, -1}, r.AtLeast}}
		} else {
			cond = []any{">=", []any{"to-number", []any{"get", r.Field}, -1}, r.AtLeast}
		}
		f = append(f, []any{"all", []any{">=", []any{"zoom"}, max(r.MinZoom, l.MinZoom)}, cond})
	}
	return f
}

// drawOrder is the drawing order, bottom to top; layers not listed go
// before villages.
var drawOrder = []string{"admin_areas", "hazard_zones", "relocation_sites", "water_pipelines", "power_upgrades", "roads", "house_renovations", "facilities", "villages"}

// Style returns the MapLibre style document of the layers, whose source is
// the TileJSON at tileJSONURL (filters included). Its metadata carries the
// layer-wide colours and the legend labels of each styled enum value.
func Style(layers []*layer.Layer, title, tileJSONURL string) obj {
	byName := map[string]*layer.Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	var ordered []*layer.Layer
	for _, n := range drawOrder[:len(drawOrder)-1] {
		if l, ok := byName[n]; ok {
			ordered = append(ordered, l)
			delete(byName, n)
		}
	}
	for _, l := range layers {
		if _, ok := byName[l.Name]; ok && l.Name != "villages" {
			ordered = append(ordered, l)
		}
	}
	if l, ok := byName["villages"]; ok {
		ordered = append(ordered, l)
	}
	styleLayers := []any{obj{"id": "background", "type": "background", "paint": obj{"background-color": backgroundColor}}}
	legend := obj{}
	for _, l := range ordered {
		for _, sl := range StyleLayers(l) {
			styleLayers = append(styleLayers, sl)
		}
		legend[l.Name] = legendOf(l)
	}
	return obj{
		"version": 8,
		"name":    title,
		"metadata": obj{
			"lm:colors": obj{"hazard": hazardColor, "village": villageColor, "poor_village": poorVillageColor, "site": siteColor, "background": backgroundColor},
			"lm:legend": legend,
		},
		"sources": obj{styleSource: obj{"type": "vector", "url": tileJSONURL}},
		"layers":  styleLayers,
	}
}

// legendOf lists the styled enum values of a layer with their labels:
// {"surface": [{"code", "label", "label_zh", "color"}…]}.
func legendOf(l *layer.Layer) obj {
	out := obj{}
	for _, f := range l.Fields {
		var vals []obj
		for _, v := range f.Values {
			if v.Color == "" && v.Width == 0 && v.Opacity == 0 {
				continue
			}
			e := obj{"code": v.Code, "label": v.Label, "label_zh": v.LabelZH}
			if v.Color != "" {
				e["color"] = v.Color
			}
			vals = append(vals, e)
		}
		if len(vals) > 0 {
			out[f.Name] = vals
		}
	}
	return out
}

// serveStyle answers GET /tiles/{layers}/style.json.
func (s *Service) serveStyle(w http.ResponseWriter, r *http.Request) error {
	layers, err := s.parseLayers(mux.Vars(r)["layers"])
	if err != nil {
		return err
	}
	filters, err := s.parseFilters(layers, r.URL.RawQuery)
	if err != nil {
		return err
	}
	names := layerNames(layers)
	u := respond.BaseURL(r) + "/tiles/" + names + ".json"
	if f := filters.String(); f != "" {
		u += "?" + f
	}
	w.Header().Set("Cache-Control", "no-cache")
	respond.JSON(w, http.StatusOK, Style(layers, "lastmile "+names, u))
	return nil
}
