package ingest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// kmlPlacemark is the part of a KML Placemark the importer reads.
type kmlPlacemark struct {
	ID          string `xml:"id,attr"`
	Name        string `xml:"name"`
	Description string `xml:"description"`
	Extended    struct {
		Data []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value"`
		} `xml:"Data"`
		SchemaData []struct {
			Simple []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:",chardata"`
			} `xml:"SimpleData"`
		} `xml:"SchemaData"`
	} `xml:"ExtendedData"`
	kmlGeometry
	Multi *struct {
		kmlGeometry
	} `xml:"MultiGeometry"`
}

type kmlPolygon struct {
	Outer string   `xml:"outerBoundaryIs>LinearRing>coordinates"`
	Inner []string `xml:"innerBoundaryIs>LinearRing>coordinates"`
}

type kmlGeometry struct {
	Points   []string     `xml:"Point>coordinates"`
	Lines    []string     `xml:"LineString>coordinates"`
	Polygons []kmlPolygon `xml:"Polygon"`
}

// kmlReader streams the Placemarks of a KML document.
type kmlReader struct {
	dec *xml.Decoder
	row int
}

// NewKMLReader returns a reader of a KML document: each Placemark with a
// Point, LineString, Polygon or MultiGeometry is a record; its name,
// description and ExtendedData (Data and SchemaData) are properties.
func NewKMLReader(r io.Reader) Reader {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if t, _, err := decodeText(input, ""); err == nil {
			return t, nil
		}
		return input, nil
	}
	return &kmlReader{dec: dec}
}

func (k *kmlReader) Next() (*Record, error) {
	for {
		tok, err := k.dec.Token()
		if err == io.EOF {
			if k.row == 0 {
				return nil, fileError(0, "the KML document has no Placemark")
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, fileError(k.row+1, "after placemark %d: invalid XML: %v", k.row, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Placemark" {
			continue
		}
		var pm kmlPlacemark
		if err := k.dec.DecodeElement(&pm, &se); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fileError(k.row+1, "placemark %d: the KML is truncated", k.row+1)
			}
			return nil, fileError(k.row+1, "placemark %d: invalid XML: %v", k.row+1, err)
		}
		k.row++
		return pm.record(k.row), nil
	}
}

func (pm *kmlPlacemark) record(row int) *Record {
	rec := &Record{Row: row, ExtID: pm.ID, Props: map[string]any{}}
	if pm.Name != "" {
		rec.Props["name"] = strings.TrimSpace(pm.Name)
	}
	if d := strings.TrimSpace(pm.Description); d != "" {
		rec.Props["description"] = d
	}
	for _, d := range pm.Extended.Data {
		rec.Props[d.Name] = strings.TrimSpace(d.Value)
	}
	for _, sd := range pm.Extended.SchemaData {
		for _, s := range sd.Simple {
			rec.Props[s.Name] = strings.TrimSpace(s.Value)
		}
	}
	g := pm.kmlGeometry
	if pm.Multi != nil {
		g.Points = append(g.Points, pm.Multi.Points...)
		g.Lines = append(g.Lines, pm.Multi.Lines...)
		g.Polygons = append(g.Polygons, pm.Multi.Polygons...)
	}
	var geoms orb.Collection
	dropped := false
	parse := func(s string) orb.MultiPoint {
		pts, d, err := parseKMLCoords(s)
		if err != nil {
			rec.problem("geometry", s, "%v", err)
		}
		dropped = dropped || d
		return pts
	}
	for _, s := range g.Points {
		if pts := parse(s); len(pts) == 1 {
			geoms = append(geoms, pts[0])
		} else if len(rec.Problems) == 0 {
			rec.problem("geometry", s, "a Point needs one coordinate, has %d", len(pts))
		}
	}
	var lines orb.MultiLineString
	for _, s := range g.Lines {
		lines = append(lines, orb.LineString(parse(s)))
	}
	var polys orb.MultiPolygon
	for _, p := range g.Polygons {
		poly := orb.Polygon{orb.Ring(parse(p.Outer))}
		for _, in := range p.Inner {
			poly = append(poly, orb.Ring(parse(in)))
		}
		polys = append(polys, poly)
	}
	switch {
	case len(lines) == 1:
		geoms = append(geoms, lines[0])
	case len(lines) > 1:
		geoms = append(geoms, lines)
	}
	switch {
	case len(polys) == 1:
		geoms = append(geoms, polys[0])
	case len(polys) > 1:
		geoms = append(geoms, polys)
	}
	switch len(geoms) {
	case 0:
		if len(rec.Problems) == 0 {
			rec.problem("geometry", "", "the placemark has no Point, LineString or Polygon")
		}
	case 1:
		rec.Geometry = geoms[0]
	default:
		rec.Geometry = geoms // mixed kinds: rejected by the layer check
	}
	if dropped {
		rec.Warnings = append(rec.Warnings, "coordinates have more than 2 dimensions: z (and m) dropped, x and y kept")
	}
	return rec
}

// parseKMLCoords parses "lon,lat[,alt] lon,lat[,alt] …".
func parseKMLCoords(s string) (orb.MultiPoint, bool, error) {
	var out orb.MultiPoint
	dropped := false
	for i, tuple := range strings.Fields(s) {
		parts := strings.Split(tuple, ",")
		if len(parts) < 2 {
			return nil, false, fmt.Errorf("coordinate %d %q: needs lon,lat", i, tuple)
		}
		if len(parts) > 2 && strings.TrimSpace(parts[2]) != "0" {
			dropped = true
		}
		var p orb.Point
		for j := range 2 {
			f, err := strconv.ParseFloat(parts[j], 64)
			if err != nil {
				return nil, false, fmt.Errorf("coordinate %d %q: %q is not a number", i, tuple, parts[j])
			}
			p[j] = f
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, false, errors.New("coordinates are empty")
	}
	return out, dropped, nil
}
