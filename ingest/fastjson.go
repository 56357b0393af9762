package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Fast paths of the GeoJSON readers (issue 19: a first load's Go side is
// mostly encoding/json, which scans every byte of a feature twice per
// Unmarshal, and a feature was unmarshalled in three steps). Each one
// handles the common, well-formed case and answers ok=false for anything
// else, which then takes the encoding/json path with its exact messages:
// the values are the same either way (numbers by strconv.ParseFloat, as
// encoding/json parses them).

// fastFeature is a GeoJSON feature as featureRecord reads it.
type fastFeature struct {
	id         []byte         // the id's JSON (a string's or number's), nil when absent
	geometry   []byte         // the geometry's JSON
	properties map[string]any // as encoding/json decodes them with UseNumber
}

// decodeFeatureFast reads raw, a GeoJSON Feature, in one pass. It takes
// only what it can read exactly as encoding/json would: one object with
// the members type ("Feature"), id (a string without escapes, a number or
// null), geometry (any valid JSON, handed on) and properties (null or an
// object whose keys are strings without escapes and whose values are such
// strings, numbers, true, false or null), each once, spelled so, and
// nothing after it. Anything else answers ok=false.
func decodeFeatureFast(raw []byte) (f fastFeature, ok bool) {
	s := &coordScanner{b: raw}
	var seen [4]bool
	isFeature := false
	ok = s.object(func(key []byte) bool {
		var k int
		switch string(key) {
		case "type":
			k = 0
		case "id":
			k = 1
		case "geometry":
			k = 2
		case "properties":
			k = 3
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		switch k {
		case 0:
			v, ok := s.plainString()
			isFeature = ok && string(v) == "Feature"
			return isFeature
		case 1:
			start := s.i
			switch {
			case s.literal("null"):
				f.id = nil
				return true
			case s.i < len(s.b) && s.b[s.i] == '"':
				if _, ok := s.plainString(); !ok {
					return false
				}
			default:
				if _, ok := s.number(); !ok {
					return false
				}
			}
			f.id = s.b[start:s.i]
			return true
		case 2:
			start := s.i
			if !s.skipValue(0) {
				return false
			}
			f.geometry = s.b[start:s.i]
			return true
		default:
			if s.literal("null") {
				return true
			}
			props := map[string]any{}
			if !s.object(func(key []byte) bool {
				v, ok := s.flatValue()
				props[string(key)] = v
				return ok
			}) {
				return false
			}
			f.properties = props
			return true
		}
	})
	if ok {
		s.space()
		ok = isFeature && s.i == len(s.b)
	}
	return f, ok
}

// decodeGeometryFast reads raw, a GeoJSON geometry object with exactly
// the members type (a string without escapes) and coordinates (valid
// JSON), as json.Unmarshal into a geoJSONGeometry would; ok=false for
// anything else.
func decodeGeometryFast(raw []byte) (w geoJSONGeometry, ok bool) {
	s := &coordScanner{b: raw}
	var seenType, seenCoords bool
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			if seenType {
				return false
			}
			seenType = true
			v, ok := s.plainString()
			w.Type = string(v)
			return ok
		case "coordinates":
			if seenCoords {
				return false
			}
			seenCoords = true
			start := s.i
			if !s.skipValue(0) {
				return false
			}
			w.Coordinates = s.b[start:s.i]
			return true
		}
		return false
	})
	if ok {
		s.space()
		ok = seenType && seenCoords && s.i == len(s.b)
	}
	return w, ok
}

// object reads a JSON object, calling member with each key (the scanner
// then at its value, which member reads).
func (s *coordScanner) object(member func(key []byte) bool) bool {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if !member(key) {
			return false
		}
		if end, ok := s.separator('}'); !ok || end {
			return ok
		}
	}
}

// separator reads the ',' between members or elements, or the closing
// byte: end when it was the close, ok false on anything else.
func (s *coordScanner) separator(close byte) (end, ok bool) {
	s.space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, true
	case close:
		s.i++
		return true, true
	}
	return false, false
}

// plainString reads a JSON string without escapes, of valid UTF-8 and no
// control characters (encoding/json reads its bytes as they are).
func (s *coordScanner) plainString() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		c := s.b[i]
		switch {
		case c == '"':
			v := s.b[start:i]
			if !utf8.Valid(v) {
				return nil, false
			}
			s.i = i + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *coordScanner) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// flatValue reads a property value: a plain string, a number (as
// json.Number), true, false or null.
func (s *coordScanner) flatValue() (any, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	switch s.b[s.i] {
	case '"':
		v, ok := s.plainString()
		return string(v), ok
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	}
	start := s.i
	if !s.numberText() {
		return nil, false
	}
	return json.Number(s.b[start:s.i]), true
}

// skipValue skips one valid JSON value (strings may have escapes: they
// are checked, not decoded).
func (s *coordScanner) skipValue(depth int) bool {
	if depth > 10000 || s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return s.object(func([]byte) bool { return s.skipValue(depth + 1) })
	case '[':
		return s.array(func() bool { return s.skipValue(depth + 1) })
	case '"':
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.numberText()
}

// skipString skips a valid JSON string (escapes checked, not decoded).
func (s *coordScanner) skipString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s.b) {
				return false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// coordScanner parses nested JSON arrays of numbers.
type coordScanner struct {
	b []byte
	i int
}

func (s *coordScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// number parses a JSON number (RFC 8259 grammar, nothing looser) as a
// finite float64.
func (s *coordScanner) number() (float64, bool) {
	start := s.i
	if !s.numberText() {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil { // out of range: encoding/json's message names it
		s.i = start
		return 0, false
	}
	return v, true
}

// numberText skips a JSON number (RFC 8259 grammar, nothing looser).
func (s *coordScanner) numberText() bool {
	b := s.b
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	s.i = i
	return true
}

// array calls elem for each element of a JSON array at the scanner.
func (s *coordScanner) array(elem func() bool) bool {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		s.space()
		if !elem() {
			return false
		}
		if end, ok := s.separator(']'); !ok || end {
			return ok
		}
	}
}

func (s *coordScanner) position() ([]float64, bool) {
	v := make([]float64, 0, 2)
	ok := s.array(func() bool {
		f, ok := s.number()
		v = append(v, f)
		return ok
	})
	return v, ok
}

func (s *coordScanner) positions() ([][]float64, bool) {
	v := [][]float64{}
	ok := s.array(func() bool {
		p, ok := s.position()
		v = append(v, p)
		return ok
	})
	return v, ok
}

func (s *coordScanner) rings() ([][][]float64, bool) {
	v := [][][]float64{}
	ok := s.array(func() bool {
		p, ok := s.positions()
		v = append(v, p)
		return ok
	})
	return v, ok
}

func (s *coordScanner) polygons() ([][][][]float64, bool) {
	v := [][][][]float64{}
	ok := s.array(func() bool {
		p, ok := s.rings()
		v = append(v, p)
		return ok
	})
	return v, ok
}

// unmarshalCoordsFast sets *v (a *[]float64 … *[][][][]float64) from raw,
// nested arrays of numbers and nothing else, as json.Unmarshal would.
func unmarshalCoordsFast(raw []byte, v any) bool {
	s := &coordScanner{b: raw}
	end := func(ok bool) bool {
		s.space()
		return ok && s.i == len(s.b)
	}
	switch p := v.(type) {
	case *[]float64:
		if c, ok := s.position(); end(ok) {
			*p = c
			return true
		}
	case *[][]float64:
		if c, ok := s.positions(); end(ok) {
			*p = c
			return true
		}
	case *[][][]float64:
		if c, ok := s.rings(); end(ok) {
			*p = c
			return true
		}
	case *[][][][]float64:
		if c, ok := s.polygons(); end(ok) {
			*p = c
			return true
		}
	}
	return false
}
