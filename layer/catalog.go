// Package layer is the catalog: every asset layer declared once — table,
// geometry kinds, fields, zoom range, tile properties, write scope — and the
// shared definitions (hardened, graded highway, all-season). Every other
// package reads these declarations instead of repeating them.
package layer

import (
	"regexp"
	"slices"
	"sort"
)

// FieldType is the declared type of an attribute.
type FieldType string

// Field types and the PostgreSQL column type each is stored as.
const (
	Text    FieldType = "text"    // text
	Integer FieldType = "integer" // integer
	Number  FieldType = "number"  // double precision
	Money   FieldType = "money"   // numeric(14,2), yuan
	Date    FieldType = "date"    // date (YYYY-MM-DD)
	Boolean FieldType = "boolean" // boolean
	Enum    FieldType = "enum"    // text with a CHECK (col IN (...))
	Object  FieldType = "object"  // jsonb
)

// PGType returns the PostgreSQL type name (as information_schema reports it)
// that columns of type t have.
func (t FieldType) PGType() string {
	switch t {
	case Integer:
		return "integer"
	case Number:
		return "double precision"
	case Money:
		return "numeric"
	case Date:
		return "date"
	case Boolean:
		return "boolean"
	case Object:
		return "jsonb"
	default:
		return "text"
	}
}

// JSONType returns the JSON-schema type of values of type t.
func (t FieldType) JSONType() string {
	switch t {
	case Integer:
		return "integer"
	case Number, Money:
		return "number"
	case Boolean:
		return "boolean"
	case Object:
		return "object"
	default:
		return "string"
	}
}

// Field declares one attribute of a layer.
type Field struct {
	Name     string         // column name
	Label    string         // English label
	LabelZH  string         // Chinese label
	Type     FieldType      //
	Values   []Value        // allowed values, for Enum fields (enum.go)
	Enum     []string       // their codes, filled from Values by New
	Unit     string         // "m", "mm", "kV", "yuan", …
	Required bool           // must be present on create
	Min, Max *float64       // numeric bounds, inclusive
	Pattern  *regexp.Regexp // a Text value must match it
	ReadOnly bool           // maintained by the server (version, updated_at, …)
	Tile     bool           // carried as an MVT property

	spellings map[string]string // Key(spelling) → code, built by New
}

// Geometry kinds, as GeoJSON names them.
const (
	Point           = "Point"
	LineString      = "LineString"
	MultiLineString = "MultiLineString"
	Polygon         = "Polygon"
	MultiPolygon    = "MultiPolygon"
)

// Layer declares one asset layer.
type Layer struct {
	MaxVertices int      // most vertices of one feature; 0: DefaultMaxVertices (see CheckVertices)
	Name        string   // catalog name, used in URLs: "roads"
	Title       string   // English title
	TitleZH     string   // Chinese title
	Table       string   // table name in the lastmile schema
	GeomKinds   []string // allowed geometry kinds (GeoJSON names)
	Fields      []Field  // common fields first, then the layer's own
	MinZoom     int      // lowest zoom at which tiles carry the layer
	MaxZoom     int      // highest zoom with new detail (clients overzoom)
	// DetailZoom is the zoom below which points are thinned (one per grid cell).
	DetailZoom int
	// FullZoom is the zoom from which tiles carry every feature; below it
	// only those ZoomRules admit (zoom.go). 0: MinZoom (no rules).
	FullZoom  int
	ZoomRules []ZoomRule
	// Overview: the generalised features drawn below a zoom (nil: none).
	Overview *Overview
	// Reference layers (villages, admin areas, hazard zones, facilities)
	// describe the world rather than programme works.
	Reference bool
}

// WriteScope is the token scope needed to write the layer.
func (l *Layer) WriteScope() string { return "write:" + l.Name }

// Field returns the field named name.
func (l *Layer) Field(name string) (Field, bool) {
	for _, f := range l.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// TileFields returns the fields carried as MVT properties.
func (l *Layer) TileFields() []Field {
	var out []Field
	for _, f := range l.Fields {
		if f.Tile {
			out = append(out, f)
		}
	}
	return out
}

// IsLinear reports whether the layer can hold lines (and so has length_m).
func (l *Layer) IsLinear() bool {
	return slices.Contains(l.GeomKinds, LineString) || slices.Contains(l.GeomKinds, MultiLineString)
}

// AllowsGeometry reports whether kind (a GeoJSON type name) may be stored.
func (l *Layer) AllowsGeometry(kind string) bool { return slices.Contains(l.GeomKinds, kind) }

// Catalog is the set of declared layers.
type Catalog struct {
	layers []*Layer
	byName map[string]*Layer
}

// New returns a catalog of the given layers.
func New(layers ...*Layer) *Catalog {
	c := &Catalog{byName: map[string]*Layer{}}
	for _, l := range layers {
		for i := range l.Fields {
			l.Fields[i].index()
		}
		if l.FullZoom < l.MinZoom {
			l.FullZoom = l.MinZoom
		}
		c.layers = append(c.layers, l)
		c.byName[l.Name] = l
	}
	return c
}

// Layer returns the layer named name.
func (c *Catalog) Layer(name string) (*Layer, bool) {
	l, ok := c.byName[name]
	return l, ok
}

// Layers returns the layers in declaration order.
func (c *Catalog) Layers() []*Layer { return c.layers }

// Names returns the layer names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.layers))
	for _, l := range c.layers {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	return names
}
