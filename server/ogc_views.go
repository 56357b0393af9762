package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
)

// A mixed layer (power_upgrades: lines and transformer points;
// relocation_sites: polygons and points) is also served as one read-only
// collection per kind of geometry, each with a single geometry type:
// desktop GIS clients (QGIS 3.22) give a layer the type of its first
// features and never draw the others. The mixed collection stays, for API
// clients.

// kindGroup is one kind of geometry a per-kind collection holds.
type kindGroup struct {
	suffix, en, zh string
	kinds          []string
	format         string // its Part 5 geometry format
}

var kindGroups = []kindGroup{
	{"points", "points", "点", []string{layer.Point, "MultiPoint"}, "geometry-point-or-multipoint"},
	{"lines", "lines", "线", []string{layer.LineString, layer.MultiLineString}, "geometry-linestring-or-multilinestring"},
	{"polygons", "polygons", "面", []string{layer.Polygon, layer.MultiPolygon}, "geometry-polygon-or-multipolygon"},
}

// coll is a collection of the feature API: a catalog layer, or a per-kind
// view of one (Parent set, Layer a copy named <parent>_<suffix> with the
// kind's geometry kinds).
type coll struct {
	*layer.Layer
	Parent *layer.Layer // nil for a catalog layer
	Kinds  []string     // the view's geometry kinds (nil for a layer)
	group  kindGroup
}

// base is the catalog layer the collection reads.
func (c coll) base() *layer.Layer {
	if c.Parent != nil {
		return c.Parent
	}
	return c.Layer
}

// titles returns the collection's English and Chinese titles.
func (c coll) titles() (en, zh string) {
	if c.Parent == nil {
		return c.Title, c.TitleZH
	}
	return c.Parent.Title + " (" + c.group.en + ")", c.Parent.TitleZH + "（" + c.group.zh + "）"
}

// geometryFormat is the Part 5 format of the collection's geometry.
func (c coll) geometryFormat() string {
	for _, g := range kindGroups {
		if len(c.GeomKinds) > 0 && !slices.ContainsFunc(c.GeomKinds, func(k string) bool { return !slices.Contains(g.kinds, k) }) {
			return g.format
		}
	}
	return "geometry-any"
}

// kindViews returns the per-kind collections of l: none when all its
// geometry kinds are of one group.
func kindViews(l *layer.Layer) []coll {
	var out []coll
	for _, g := range kindGroups {
		var kinds []string
		for _, k := range l.GeomKinds {
			if slices.Contains(g.kinds, k) {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 0 {
			v := *l
			v.Name = l.Name + "_" + g.suffix
			v.GeomKinds = kinds
			v.Title, v.TitleZH = l.Title+" ("+g.en+")", l.TitleZH+"（"+g.zh+"）"
			out = append(out, coll{Layer: &v, Parent: l, Kinds: kinds, group: g})
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// collections returns every collection: each catalog layer followed by its
// per-kind views.
func collections(c *layer.Catalog) []coll {
	var out []coll
	for _, l := range c.Layers() {
		out = append(out, coll{Layer: l})
		out = append(out, kindViews(l)...)
	}
	return out
}

// ogcColl returns the collection (layer or view) named in the path,
// for the read endpoints.
func (s *Server) ogcColl(r *http.Request) (coll, error) {
	name := mux.Vars(r)["layer"]
	for _, c := range collections(s.deps.Catalog) {
		if c.Name == name {
			return c, nil
		}
	}
	return coll{}, lastmile.Errorf(lastmile.ENOTFOUND, "no collection %q (collections: %s)", lastmile.Clip(name), strings.Join(CollectionNames(s.deps.Catalog), ", "))
}

// viewOf reports the per-kind view named name, if it is one.
func viewOf(c *layer.Catalog, name string) (coll, bool) {
	for _, l := range c.Layers() {
		for _, v := range kindViews(l) {
			if v.Name == name {
				return v, true
			}
		}
	}
	return coll{}, false
}

// CollectionNames returns the ids of every collection served for catalog
// c (its layers and their per-kind views), sorted.
func CollectionNames(c *layer.Catalog) []string {
	var out []string
	for _, v := range collections(c) {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return out
}
