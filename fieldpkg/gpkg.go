// Package fieldpkg writes field packages — GeoPackages of an area with every
// layer's features, their ids and versions, that QGIS and QField open
// offline — and syncs an edited package back into the database: changed,
// added and deleted features in one transaction where their version is still
// current, every conflict listed and left unwritten.
//
// The GeoPackage is written and read directly (modernc.org/sqlite, no cgo),
// following OGC GeoPackage 1.3: gpkg_spatial_ref_sys, gpkg_contents,
// gpkg_geometry_columns, GPKG geometry blobs with envelope headers.
package fieldpkg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/lastmile/lastmile/layer"
)

// Format names the package layout, recorded in lastmile_export.
const Format = "lastmile-fieldpkg/1"

// GeoPackage identification (GeoPackage 1.3, §1.1.1.1.1).
const (
	applicationID = 0x47504B47 // "GPKG"
	userVersion   = 10300      // 1.3.0
)

// A family is the geometry kinds of a layer that share one GeoPackage table:
// QGIS and QField need one geometry type per table, so a layer holding lines
// and points (power upgrades) or polygons and points (relocation sites) is
// written as one table per family.
type family struct {
	name   string   // "points", "lines", "polygons"
	kinds  []string // GeoJSON kinds of the family
	single string   // the single kind ("LineString")
	multi  string   // the multi kind, when the family has one
}

var families = []family{
	{"lines", []string{layer.LineString, layer.MultiLineString}, layer.LineString, layer.MultiLineString},
	{"polygons", []string{layer.Polygon, layer.MultiPolygon}, layer.Polygon, layer.MultiPolygon},
	{"points", []string{layer.Point}, layer.Point, ""},
}

// A table is one GeoPackage feature table: a layer's features of one family.
type table struct {
	Name     string // table name in the package
	Layer    *layer.Layer
	family   family
	geomType string // gpkg_geometry_columns.geometry_type_name
}

// tables returns the package tables of l: one per geometry family it allows,
// named after the layer when it has one family ("roads") and after the layer
// and family when it has several ("power_upgrades_lines").
func tables(l *layer.Layer) []table {
	var out []table
	for _, fam := range families {
		var allowed []string
		for _, k := range fam.kinds {
			if l.AllowsGeometry(k) {
				allowed = append(allowed, k)
			}
		}
		if len(allowed) == 0 {
			continue
		}
		t := table{Name: l.Name, Layer: l, family: fam, geomType: upper(fam.single)}
		if fam.multi != "" && slices.Contains(allowed, fam.multi) {
			t.geomType = upper(fam.multi)
		}
		out = append(out, t)
	}
	if len(out) > 1 {
		for i := range out {
			out[i].Name = l.Name + "_" + out[i].family.name
		}
	}
	return out
}

func upper(kind string) string {
	switch kind {
	case layer.Point:
		return "POINT"
	case layer.LineString:
		return "LINESTRING"
	case layer.MultiLineString:
		return "MULTILINESTRING"
	case layer.Polygon:
		return "POLYGON"
	case layer.MultiPolygon:
		return "MULTIPOLYGON"
	}
	return "GEOMETRY"
}

// holds reports whether g belongs in t.
func (t table) holds(g orb.Geometry) bool {
	return g != nil && slices.Contains(t.family.kinds, g.GeoJSONType())
}

// promote returns g as the table's geometry type: a LineString in a
// MULTILINESTRING table becomes a one-part MultiLineString.
func (t table) promote(g orb.Geometry) orb.Geometry {
	switch v := g.(type) {
	case orb.LineString:
		if t.geomType == "MULTILINESTRING" {
			return orb.MultiLineString{v}
		}
	case orb.Polygon:
		if t.geomType == "MULTIPOLYGON" {
			return orb.MultiPolygon{v}
		}
	}
	return g
}

// demote undoes promote for geometry going back to the database: a one-part
// multi becomes the single kind when like (the feature's geometry before,
// nil for a new feature) is not a multi, and the layer allows the single kind.
func (t table) demote(g orb.Geometry, like orb.Geometry) orb.Geometry {
	if like != nil && like.GeoJSONType() == g.GeoJSONType() {
		return g
	}
	switch v := g.(type) {
	case orb.MultiLineString:
		if len(v) == 1 && t.Layer.AllowsGeometry(layer.LineString) {
			return v[0]
		}
	case orb.MultiPolygon:
		if len(v) == 1 && t.Layer.AllowsGeometry(layer.Polygon) {
			return v[0]
		}
	}
	return g
}

// columnType is the GeoPackage column type of a catalog field (GeoPackage
// 1.3 table 1): integers INTEGER, numbers and money REAL, dates DATE,
// booleans BOOLEAN, timestamps DATETIME, props TEXT holding a JSON object.
func columnType(f layer.Field) string {
	switch {
	case f.Name == "updated_at":
		return "DATETIME"
	case f.Type == layer.Integer:
		return "INTEGER"
	case f.Type == layer.Number || f.Type == layer.Money:
		return "REAL"
	case f.Type == layer.Date:
		return "DATE"
	case f.Type == layer.Boolean:
		return "BOOLEAN"
	}
	return "TEXT"
}

// Geometry blob flags (GeoPackage 1.3 §2.1.3.1.1).
const (
	flagLittleEndian = 1 << 0
	flagEmpty        = 1 << 4
	flagExtended     = 1 << 5
)

// encodeBlob returns g as a GeoPackage geometry blob: "GP", version 0,
// flags (little-endian, an XY envelope except for points), srs_id, envelope
// (minx, maxx, miny, maxy), then the geometry as ISO WKB.
func encodeBlob(g orb.Geometry, srsID int32) ([]byte, error) {
	body, err := wkb.Marshal(g, binary.LittleEndian)
	if err != nil {
		return nil, err
	}
	envelope := g.GeoJSONType() != layer.Point
	flags := byte(flagLittleEndian)
	if envelope {
		flags |= 1 << 1 // envelope [minx, maxx, miny, maxy]
	}
	out := make([]byte, 0, 8+32+len(body))
	out = append(out, 'G', 'P', 0, flags)
	out = binary.LittleEndian.AppendUint32(out, uint32(srsID))
	if envelope {
		b := g.Bound()
		for _, v := range []float64{b.Min[0], b.Max[0], b.Min[1], b.Max[1]} {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
	}
	return append(out, body...), nil
}

// decodeBlob reads a GeoPackage geometry blob. It returns the geometry and
// its srs_id, or an error saying what is wrong with the blob.
func decodeBlob(b []byte) (orb.Geometry, int32, error) {
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("the geometry blob has %d bytes, fewer than its 8-byte header", len(b))
	}
	if b[0] != 'G' || b[1] != 'P' {
		return nil, 0, fmt.Errorf("the geometry blob does not start with the GeoPackage magic \"GP\" (starts with %#x %#x)", b[0], b[1])
	}
	if b[2] != 0 {
		return nil, 0, fmt.Errorf("the geometry blob has version %d (GeoPackage 1.x writes 0)", b[2])
	}
	flags := b[3]
	if flags&flagExtended != 0 {
		return nil, 0, errors.New("the geometry blob is an extended GeoPackage geometry, not a standard one")
	}
	var order binary.ByteOrder = binary.BigEndian
	if flags&flagLittleEndian != 0 {
		order = binary.LittleEndian
	}
	srs := int32(order.Uint32(b[4:8]))
	var envelope int
	switch ind := (flags >> 1) & 7; ind {
	case 0:
	case 1:
		envelope = 32
	case 2, 3:
		envelope = 48
	case 4:
		envelope = 64
	default:
		return nil, 0, fmt.Errorf("the geometry blob has envelope indicator %d (0–4 are defined)", ind)
	}
	if len(b) < 8+envelope {
		return nil, 0, fmt.Errorf("the geometry blob is cut inside its envelope (%d bytes)", len(b))
	}
	if flags&flagEmpty != 0 {
		return nil, srs, errors.New("the geometry is empty")
	}
	g, err := wkb.Unmarshal(b[8+envelope:])
	if err != nil {
		return nil, 0, fmt.Errorf("the geometry blob's WKB cannot be read: %v", err)
	}
	return g, srs, nil
}
