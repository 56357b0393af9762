package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// geoJSONFeature is the wire shape of a GeoJSON feature.
type geoJSONFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
}

// featureRecord turns one raw GeoJSON feature into a record; problems with
// it are the record's, never fatal.
func featureRecord(row int, raw []byte) *Record {
	rec := &Record{Row: row}
	if ff, ok := decodeFeatureFast(raw); ok {
		// the common case in one pass (fastjson.go), read as below
		if len(ff.id) > 0 && ff.id[0] == '"' {
			rec.ExtID = string(ff.id[1 : len(ff.id)-1])
		} else if ff.id != nil {
			rec.ExtID = string(ff.id) // a number
		}
		rec.Props = ff.properties
		return withGeometry(rec, ff.geometry)
	}
	return featureRecordSlow(rec, raw)
}

// featureRecordSlow reads any feature with encoding/json.
func featureRecordSlow(rec *Record, raw []byte) *Record {
	var f geoJSONFeature
	if err := json.Unmarshal(raw, &f); err != nil {
		rec.problem("", "", "feature is malformed: %s", coordError(err))
		return rec
	}
	switch f.Type {
	case "Feature":
	case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection":
		// a bare geometry: a feature without properties
		f.Geometry = raw
	default:
		rec.problem("type", f.Type, `is not "Feature"`)
		return rec
	}
	if len(f.ID) > 0 && string(f.ID) != "null" {
		var s string
		if json.Unmarshal(f.ID, &s) == nil {
			rec.ExtID = s
		} else {
			rec.ExtID = string(bytes.TrimSpace(f.ID)) // a number
		}
	}
	if len(f.Properties) > 0 && string(f.Properties) != "null" {
		dec := json.NewDecoder(bytes.NewReader(f.Properties))
		dec.UseNumber()
		if err := dec.Decode(&rec.Props); err != nil {
			rec.problem("properties", "", "must be a JSON object: %s", coordError(err))
		}
	}
	return withGeometry(rec, f.Geometry)
}

// withGeometry sets the record's geometry from raw GeoJSON.
func withGeometry(rec *Record, raw json.RawMessage) *Record {
	g, dropped, err := parseGeoJSONGeometry(raw)
	if err != nil {
		rec.problem("geometry", "", "%v", err)
	}
	rec.Geometry = g
	if dropped {
		rec.Warnings = append(rec.Warnings, "coordinates have more than 2 dimensions: z (and m) dropped, x and y kept")
	}
	return rec
}

// geoJSONReader streams the features of a GeoJSON FeatureCollection (or a
// single Feature or geometry) with the decoder's tokens: one feature is in
// memory at a time, whatever the file's size.
type geoJSONReader struct {
	dec   *json.Decoder
	row   int
	state int // 0 start, 1 in top object, 2 in features array, 3 done
	top   map[string]json.RawMessage
	done  bool
}

// NewGeoJSONReader returns a reader of a GeoJSON document.
func NewGeoJSONReader(r io.Reader) Reader {
	dec := json.NewDecoder(r)
	return &geoJSONReader{dec: dec, top: map[string]json.RawMessage{}}
}

func (g *geoJSONReader) fail(err error) error {
	g.state = 3
	return fileError(g.row+1, "after feature %d: %s", g.row, jsonSyntax(err))
}

func (g *geoJSONReader) Next() (*Record, error) {
	for {
		switch g.state {
		case 0:
			tok, err := g.dec.Token()
			if err == io.EOF {
				g.state = 3
				return nil, fileError(0, "the file is empty: expected a GeoJSON object")
			}
			if err != nil {
				return nil, g.fail(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				g.state = 3
				return nil, fileError(0, "expected a GeoJSON object ({), found %v", tok)
			}
			g.state = 1
		case 1:
			if !g.dec.More() {
				if _, err := g.dec.Token(); err != nil { // the closing }
					return nil, g.fail(err)
				}
				g.state = 3
				if _, err := g.dec.Token(); err != io.EOF {
					return nil, fileError(g.row+1, "unexpected content after the GeoJSON object")
				}
				return g.single()
			}
			tok, err := g.dec.Token()
			if err != nil {
				return nil, g.fail(err)
			}
			key, _ := tok.(string)
			if key == "features" {
				tok, err := g.dec.Token()
				if err != nil {
					return nil, g.fail(err)
				}
				if d, ok := tok.(json.Delim); !ok || d != '[' {
					g.state = 3
					return nil, fileError(0, `"features" must be an array`)
				}
				g.top["features"] = json.RawMessage(`[]`)
				g.state = 2
				continue
			}
			var v json.RawMessage
			if err := g.dec.Decode(&v); err != nil {
				return nil, g.fail(err)
			}
			g.top[key] = v
		case 2:
			if !g.dec.More() {
				if _, err := g.dec.Token(); err != nil { // the closing ]
					return nil, g.fail(err)
				}
				g.state = 1
				continue
			}
			var raw json.RawMessage
			if err := g.dec.Decode(&raw); err != nil {
				return nil, g.fail(err)
			}
			g.row++
			return featureRecord(g.row, raw), nil
		default:
			return nil, io.EOF
		}
	}
}

// single returns the top-level object when it is a Feature or a geometry
// rather than a FeatureCollection.
func (g *geoJSONReader) single() (*Record, error) {
	var typ string
	json.Unmarshal(g.top["type"], &typ)
	switch typ {
	case "FeatureCollection":
		if _, ok := g.top["features"]; !ok {
			return nil, fileError(0, `the FeatureCollection has no "features"`)
		}
		return nil, io.EOF
	case "":
		return nil, fileError(0, `the GeoJSON object has no "type"`)
	}
	if _, ok := g.top["features"]; ok {
		return nil, fileError(0, `"features" in a GeoJSON object of type %q`, typ)
	}
	raw, err := json.Marshal(g.top)
	if err != nil {
		return nil, err
	}
	g.row++
	return featureRecord(g.row, raw), nil
}

// geoJSONSeqReader reads newline-delimited GeoJSON (RFC 8142 GeoJSONSeq,
// with or without the RS separator): one feature per line.
type geoJSONSeqReader struct {
	r    *bufio.Reader
	line int
	row  int
}

// NewGeoJSONSeqReader returns a reader of newline-delimited GeoJSON.
func NewGeoJSONSeqReader(r io.Reader) Reader {
	return &geoJSONSeqReader{r: bufio.NewReaderSize(r, 1<<20)}
}

// maxLine bounds one GeoJSONSeq line (one feature).
const maxLine = 256 << 20

func (s *geoJSONSeqReader) Next() (*Record, error) {
	for {
		line, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a long feature: gather the whole line
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(buf) < maxLine {
				line, err = s.r.ReadSlice('\n')
				buf = append(buf, line...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, fileError(s.row+1, "line %d is longer than %d MB", s.line+1, maxLine>>20)
			}
			line = buf
		}
		if err != nil && err != io.EOF {
			return nil, fileError(s.row+1, "reading line %d: %v", s.line+1, err)
		}
		if len(line) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		s.line++
		trimmed := bytes.TrimSpace(bytes.TrimLeft(line, "\x1e"))
		if len(trimmed) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		s.row++
		rec := featureRecord(s.row, trimmed)
		if len(rec.Problems) > 0 && rec.Geometry == nil && rec.Props == nil && rec.Problems[0].Field == "" {
			msg := rec.Problems[0].Message
			if err == io.EOF && strings.Contains(msg, "unexpected end") {
				msg = "unexpected end of file: the last feature is truncated"
			}
			rec.Problems[0].Message = fmt.Sprintf("line %d: %s", s.line, msg)
		}
		return rec, nil
	}
}
