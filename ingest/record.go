package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
)

// Record is one feature read from a file, before normalisation.
type Record struct {
	Row      int            // 1-based feature or row number in its file
	ExtID    string         // the source's id ("" when it has none)
	Layer    string         // target layer, for readers that fill several (OSM); "" = the job's layer
	Geometry orb.Geometry   // as read, in the file's CRS
	SRID     int            // SRID given by the record itself (EWKT/EWKB), 0 = the job's CRS
	Props    map[string]any // attributes as read: strings, json.Number, bool, maps
	// Problems found while reading this record (malformed geometry, …).
	// The record is rejected when there are any.
	Problems []lastmile.Problem
	// Warnings are kept in the report but do not reject the record
	// ("Z coordinates dropped").
	Warnings []string
}

func (r *Record) problem(field, value, format string, args ...any) {
	c := lastmile.Problems{List: r.Problems}
	c.AddRow(r.Row, field, value, format, args...)
	r.Problems = c.List
}

// Reader yields the records of one file in order. Next returns io.EOF after
// the last record; any other error means the rest of the file cannot be
// read (truncated, not the announced format) and fails the import.
type Reader interface {
	Next() (*Record, error)
}

// fileError is a fatal read error at a row.
func fileError(row int, format string, args ...any) error {
	return lastmile.Invalid("the file cannot be read", lastmile.Problem{Row: row, Message: fmt.Sprintf(format, args...)})
}

// jsonSyntax describes a JSON decoding error for users.
func jsonSyntax(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "unexpected end of file: the JSON is truncated"
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err.Error()
}

// geoJSONGeometry is the wire shape of a GeoJSON geometry.
type geoJSONGeometry struct {
	Type        string            `json:"type"`
	Coordinates json.RawMessage   `json:"coordinates"`
	Geometries  []json.RawMessage `json:"geometries"`
}

// parseGeoJSONGeometry decodes a GeoJSON geometry. It keeps x and y of
// coordinates with more dimensions and reports that it dropped some (z).
func parseGeoJSONGeometry(raw json.RawMessage) (g orb.Geometry, dropped bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, errors.New("geometry is missing (null)")
	}
	w, ok := decodeGeometryFast(raw) // fastjson.go
	if !ok {
		w = geoJSONGeometry{}
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, false, fmt.Errorf("geometry is malformed: %s", coordError(err))
		}
	}
	var c coordParser
	switch w.Type {
	case "Point":
		var v []float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			var p orb.Point
			p, err = c.point(v)
			g = p
		}
	case "MultiPoint":
		var v [][]float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			g, err = c.points(v)
		}
	case "LineString":
		var v [][]float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			var mp orb.MultiPoint
			mp, err = c.points(v)
			g = orb.LineString(mp)
		}
	case "MultiLineString":
		var v [][][]float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			ml := make(orb.MultiLineString, len(v))
			for i := range v {
				var mp orb.MultiPoint
				if mp, err = c.points(v[i]); err != nil {
					break
				}
				ml[i] = orb.LineString(mp)
			}
			g = ml
		}
	case "Polygon":
		var v [][][]float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			g, err = c.polygon(v)
		}
	case "MultiPolygon":
		var v [][][][]float64
		if err = c.unmarshal(w.Coordinates, &v); err == nil {
			mp := make(orb.MultiPolygon, len(v))
			for i := range v {
				if mp[i], err = c.polygon(v[i]); err != nil {
					break
				}
			}
			g = mp
		}
	case "GeometryCollection":
		col := orb.Collection{}
		for _, m := range w.Geometries {
			sub, d, err := parseGeoJSONGeometry(m)
			if err != nil {
				return nil, false, err
			}
			c.dropped = c.dropped || d
			col = append(col, sub)
		}
		g = col
	case "":
		return nil, false, errors.New(`geometry has no "type"`)
	default:
		return nil, false, fmt.Errorf("unknown geometry type %q", w.Type)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s coordinates: %v", w.Type, err)
	}
	return g, c.dropped, nil
}

type coordParser struct{ dropped bool }

func (c *coordParser) unmarshal(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return errors.New("missing")
	}
	if unmarshalCoordsFast(raw, v) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New(coordError(err))
	}
	return nil
}

func coordError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Type != nil && te.Type.Kind() == reflect.Float64 && strings.HasPrefix(te.Value, "number ") {
		return fmt.Sprintf("%s is not a finite number", strings.TrimPrefix(te.Value, "number "))
	}
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, found a JSON %s", te.Type, te.Value)
	}
	return err.Error()
}

func (c *coordParser) point(v []float64) (orb.Point, error) {
	if len(v) < 2 {
		return orb.Point{}, fmt.Errorf("a position needs 2 numbers, has %d", len(v))
	}
	if len(v) > 2 {
		c.dropped = true
	}
	return orb.Point{v[0], v[1]}, nil
}

func (c *coordParser) points(v [][]float64) (orb.MultiPoint, error) {
	mp := make(orb.MultiPoint, len(v))
	for i := range v {
		p, err := c.point(v[i])
		if err != nil {
			return nil, fmt.Errorf("position %d: %v", i, err)
		}
		mp[i] = p
	}
	return mp, nil
}

func (c *coordParser) polygon(v [][][]float64) (orb.Polygon, error) {
	poly := make(orb.Polygon, len(v))
	for i := range v {
		mp, err := c.points(v[i])
		if err != nil {
			return nil, fmt.Errorf("ring %d: %v", i, err)
		}
		poly[i] = orb.Ring(mp)
	}
	return poly, nil
}
