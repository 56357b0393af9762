package ingest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"

	"github.com/lastmile/lastmile"
)

// OSM tag mapping (README "Import" documents the same table).
//
// highway=*       road_class   tech_grade    surface when no surface=* / tracktype=*
// motorway(_link) county       expressway    asphalt
// trunk(_link)    county       class1        asphalt
// primary(_link)  county       class2        asphalt
// secondary(_link) county      class3        asphalt
// tertiary(_link) township     class4        asphalt
// unclassified    township     class4        asphalt
// residential, living_street, road  village  class4  asphalt
// service         village      substandard   asphalt
// track           group        substandard   grade1/grade2 gravel, grade3-5 earth, none earth
var osmRoads = map[string][3]string{
	"motorway": {"county", "expressway", "asphalt"}, "motorway_link": {"county", "expressway", "asphalt"},
	"trunk": {"county", "class1", "asphalt"}, "trunk_link": {"county", "class1", "asphalt"},
	"primary": {"county", "class2", "asphalt"}, "primary_link": {"county", "class2", "asphalt"},
	"secondary": {"county", "class3", "asphalt"}, "secondary_link": {"county", "class3", "asphalt"},
	"tertiary": {"township", "class4", "asphalt"}, "tertiary_link": {"township", "class4", "asphalt"},
	"unclassified": {"township", "class4", "asphalt"},
	"residential":  {"village", "class4", "asphalt"}, "living_street": {"village", "class4", "asphalt"}, "road": {"village", "class4", "asphalt"},
	"service": {"village", "substandard", "asphalt"},
	"track":   {"group", "substandard", "earth"},
}

var osmTrackSurface = map[string]string{"grade1": "gravel", "grade2": "gravel", "grade3": "earth", "grade4": "earth", "grade5": "earth"}

// osmSurface maps OSM surface=* values to the catalog's surfaces ("": none
// fits, the road keeps no surface). TestEnumOSMMapping checks every output
// against the catalog.
var osmSurface = map[string]string{
	"asphalt": "asphalt", "paved": "asphalt", "chipseal": "asphalt", "concrete": "cement", "concrete:plates": "cement",
	"concrete:lanes": "cement", "paving_stones": "stone", "sett": "stone", "cobblestone": "stone", "unhewn_cobblestone": "stone",
	"stone": "stone", "gravel": "gravel", "fine_gravel": "gravel", "compacted": "gravel", "pebblestone": "gravel",
	"unpaved": "earth", "dirt": "earth", "earth": "earth", "ground": "earth", "grass": "earth", "mud": "earth", "sand": "earth",
	"grass_paver": "stone", "wood": "", "metal": "",
}

// osmKeep are tags kept in props besides the mapped ones.
var osmKeep = []string{"highway", "surface", "tracktype", "ref", "place", "amenity", "power", "man_made", "substance", "operator", "voltage", "width", "population"}

// osmFeature is one OSM object mapped to a layer.
type osmFeature struct {
	layer string
	extID string
	props map[string]any
	point orb.Point    // nodes
	nodes []osm.NodeID // ways
	area  bool         // a closed way stored as its centroid (facilities)
}

// classify maps tags to a layer and its properties ("" = not imported).
func classify(tags osm.Tags, isWay bool) (string, map[string]any, bool) {
	m := tags.Map()
	props := map[string]any{"status": "completed"}
	if n := m["name"]; n != "" {
		props["name"] = n
	}
	// raw tags go under props, where they cannot be taken for fields
	// (width is the label of width_m)
	raw := map[string]any{}
	for _, k := range osmKeep {
		if v, ok := m[k]; ok {
			raw[k] = v
		}
	}
	if len(raw) > 0 {
		props["props"] = raw
	}
	num := func(s string) (float64, bool) {
		s = strings.TrimSpace(strings.Split(s, ";")[0])
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(s, "m"), " "))
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && f >= 0
	}
	if isWay {
		if c, ok := osmRoads[m["highway"]]; ok {
			props["road_class"], props["tech_grade"], props["surface"] = c[0], c[1], c[2]
			if s, ok := osmTrackSurface[m["tracktype"]]; ok {
				props["surface"] = s
			}
			if s, ok := osmSurface[m["surface"]]; ok {
				if s == "" {
					delete(props, "surface")
				} else {
					props["surface"] = s
				}
			}
			if w, ok := num(m["width"]); ok && w <= 100 {
				props["width_m"] = w
			}
			return "roads", props, false
		}
		if p := m["power"]; p == "line" || p == "minor_line" {
			props["kind"] = "line"
			if v, ok := num(m["voltage"]); ok && v/1000 <= 1100 {
				props["voltage_kv"] = v / 1000
			}
			return "power_upgrades", props, false
		}
		if m["man_made"] == "pipeline" && m["substance"] == "water" {
			if d, ok := num(m["diameter"]); ok && d <= 5000 {
				props["diameter_mm"] = float64(int(d))
			}
			return "water_pipelines", props, false
		}
	} else {
		if m["power"] == "transformer" {
			props["kind"] = "transformer"
			return "power_upgrades", props, false
		}
		if p := m["place"]; p == "village" || p == "hamlet" {
			delete(props, "status")
			if v, ok := num(m["population"]); ok {
				props["population"] = float64(int(v))
			}
			return "villages", props, false
		}
	}
	switch a := m["amenity"]; a {
	case "school", "clinic", "hospital", "doctors":
		delete(props, "status")
		props["kind"] = map[string]string{"doctors": "clinic"}[a]
		if props["kind"] == "" {
			props["kind"] = a
		}
		return "facilities", props, isWay
	}
	return "", nil, false
}

// osmReader yields the mapped features of an OSM PBF file, grouped by layer.
type osmReader struct {
	feats    []*osmFeature
	coords   map[osm.NodeID]orb.Point
	i        int
	row      int
	skipped  int
	warnings []string
}

// NewOSMReader reads an OSM PBF file in two passes: the first keeps the
// mapped nodes and ways (with their node ids), the second only the
// coordinates of those ways' nodes, so memory grows with the imported
// features, not with the file. layers restricts the output (nil = all).
func NewOSMReader(path string, layers []string) (Reader, error) {
	ctx := context.Background()
	scan := func(fn func(*osmpbf.Scanner) error) error {
		f, err := os.Open(path)
		if err != nil {
			return lastmile.Invalid("the file cannot be opened", lastmile.Problem{Field: "file", Value: path, Message: err.Error()})
		}
		defer f.Close()
		s := osmpbf.New(ctx, f, min(runtime.GOMAXPROCS(0), 4))
		defer s.Close()
		s.SkipRelations = true
		if err := fn(s); err != nil {
			return err
		}
		if err := s.Err(); err != nil {
			return fileError(0, "not a readable OSM PBF file: %v", err)
		}
		return nil
	}
	r := &osmReader{coords: map[osm.NodeID]orb.Point{}}
	need := map[osm.NodeID]struct{}{} // read by the decoder goroutines in pass 2, never written then
	want := func(l string) bool { return l != "" && (layers == nil || slices.Contains(layers, l)) }
	err := scan(func(s *osmpbf.Scanner) error {
		for s.Scan() {
			switch o := s.Object().(type) {
			case *osm.Node:
				if len(o.Tags) == 0 {
					continue
				}
				if l, props, _ := classify(o.Tags, false); want(l) {
					r.feats = append(r.feats, &osmFeature{layer: l, extID: fmt.Sprintf("osm:node/%d", o.ID), props: props, point: orb.Point{o.Lon, o.Lat}})
				}
			case *osm.Way:
				if l, props, area := classify(o.Tags, true); want(l) {
					ids := make([]osm.NodeID, len(o.Nodes))
					for i, n := range o.Nodes {
						ids[i] = n.ID
						need[n.ID] = struct{}{}
					}
					r.feats = append(r.feats, &osmFeature{layer: l, extID: fmt.Sprintf("osm:way/%d", o.ID), props: props, nodes: ids, area: area})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scan(func(s *osmpbf.Scanner) error {
		s.SkipWays = true
		s.FilterNode = func(n *osm.Node) bool { _, ok := need[n.ID]; return ok }
		for s.Scan() {
			if n, ok := s.Object().(*osm.Node); ok {
				r.coords[n.ID] = orb.Point{n.Lon, n.Lat}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(r.feats, func(i, j int) bool { return r.feats[i].layer < r.feats[j].layer })
	return r, nil
}

func (r *osmReader) Next() (*Record, error) {
	for r.i < len(r.feats) {
		f := r.feats[r.i]
		r.i++
		var g orb.Geometry = f.point
		if f.nodes != nil {
			var line orb.LineString
			for _, id := range f.nodes {
				p, ok := r.coords[id]
				if !ok {
					continue // outside the extract
				}
				if len(line) > 0 && line[len(line)-1] == p {
					continue
				}
				line = append(line, p)
			}
			if f.area {
				if len(line) == 0 {
					r.skipped++
					continue
				}
				var c orb.Point
				for _, p := range line {
					c[0] += p[0] / float64(len(line))
					c[1] += p[1] / float64(len(line))
				}
				g = c
			} else {
				if len(line) < 2 {
					r.skipped++
					continue
				}
				g = line
			}
		}
		r.row++
		return &Record{Row: r.row, Layer: f.layer, ExtID: f.extID, Geometry: g, Props: f.props}, nil
	}
	return nil, io.EOF
}

// Warnings reports the ways left out.
func (r *osmReader) Warnings() []string {
	if r.skipped == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d ways skipped: fewer than 2 distinct nodes inside the extract", r.skipped)}
}
