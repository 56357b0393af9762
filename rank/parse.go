package rank

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lastmile/lastmile"
)

// rawRequest is the wire shape, decoded leniently so that every problem
// can be reported with the parameter it concerns.
type rawRequest struct {
	Candidates      json.RawMessage            `json:"candidates"`
	Constraints     map[string]json.RawMessage `json:"constraints"`
	Weights         map[string]json.RawMessage `json:"weights"`
	DMax            map[string]json.RawMessage `json:"d_max_m"`
	Population      json.RawMessage            `json:"population"`
	Limit           json.RawMessage            `json:"limit"`
	IncludeExcluded json.RawMessage            `json:"include_excluded"`
	Format          json.RawMessage            `json:"format"`
}

type rawCandidates struct {
	Source    json.RawMessage `json:"source"`
	Features  json.RawMessage `json:"features"`
	AdminCode json.RawMessage `json:"admin_code"`
	BBox      json.RawMessage `json:"bbox"`
	CellM     json.RawMessage `json:"cell_m"`
}

var topLevelKeys = []string{"candidates", "constraints", "weights", "d_max_m", "population", "limit", "include_excluded", "format"}

// decodeStrict decodes data into v refusing unknown fields and trailing
// data, and turns decoding errors into problems under prefix.
func decodeStrict(data []byte, v any, prefix string, known []string, p *lastmile.Problems) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := prefix
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(name, `"`)
			if prefix != "" {
				field = prefix + "." + field
			}
		}
		p.Add(field, "", "%s", describeJSONError(err, prefix, known))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		p.Add(prefix, "", "unexpected data after the JSON object")
		return false
	}
	return true
}

func describeJSONError(err error, prefix string, known []string) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if prefix != "" && field != "" {
			field = prefix + "." + field
		}
		if field == "" {
			field = prefix
		}
		if field == "" {
			return fmt.Sprintf("the request must be a JSON object, not a %s", typ.Value)
		}
		return fmt.Sprintf("%s must be %s, not a %s", field, describeGoType(typ.Type.String()), typ.Value)
	case errors.Is(err, io.EOF):
		return "empty JSON; expected an object"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if prefix != "" {
			name = prefix + "." + name
		}
		return fmt.Sprintf("unknown parameter %q; expected one of: %s", name, strings.Join(known, ", "))
	}
	return "malformed JSON: " + err.Error()
}

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case t == "json.RawMessage":
		return "a value"
	}
	return "a " + t
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

// numberValue decodes a JSON number at field and checks it is in [lo, hi].
func numberValue(raw json.RawMessage, field string, lo, hi float64, p *lastmile.Problems) (float64, bool) {
	s := string(bytes.TrimSpace(raw))
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			s = str
		}
		p.Add(field, s, "must be a number")
		return 0, false
	}
	if f < lo {
		if lo == 0 {
			p.Add(field, s, "must not be negative")
		} else {
			p.Add(field, s, "must be at least %g", lo)
		}
		return 0, false
	}
	if f > hi {
		p.Add(field, s, "must be at most %g", hi)
		return 0, false
	}
	return f, true
}

func stringValue(raw json.RawMessage, field string, p *lastmile.Problems) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.Add(field, string(bytes.TrimSpace(raw)), "must be a string")
		return "", false
	}
	return s, true
}

func boolValue(raw json.RawMessage, field string, p *lastmile.Problems) (bool, bool) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		p.Add(field, string(bytes.TrimSpace(raw)), "must be true or false")
		return false, false
	}
	return b, true
}

// ParseRequest decodes and validates a ranking request body (JSON). An
// empty body ranks the planned relocation sites with the defaults. Every
// problem found is reported in one EINVALID error.
func ParseRequest(body []byte) (Request, error) {
	var p lastmile.Problems
	var raw rawRequest
	if len(bytes.TrimSpace(body)) > 0 {
		decodeStrict(body, &raw, "", topLevelKeys, &p)
	}
	req := parseRaw(raw, &p)
	if err := p.Err("invalid ranking request"); err != nil {
		return Request{}, err
	}
	return req, nil
}

func parseRaw(raw rawRequest, p *lastmile.Problems) Request {
	var req Request
	parseCandidates(raw.Candidates, &req, p)

	for k := range raw.Constraints {
		if !slices.ContainsFunc(constraintSpecs, func(s constraintSpec) bool { return s.Name == k }) {
			p.Add("constraints."+k, "", "unknown constraint; expected one of: %s", strings.Join(constraintNames(), ", "))
		}
	}
	for _, s := range constraintSpecs {
		c := Constraint{Name: s.Name, Enabled: s.Enabled, Limit: s.Value, key: s.Key}
		if v, ok := raw.Constraints[s.Name]; ok && !isNull(v) {
			parseConstraint(v, s, &c, p)
		}
		req.Constraints.set(s.Name, c)
	}

	for k := range raw.Weights {
		if factorName(k) == "" {
			p.Add("weights."+k, "", "unknown factor; expected one of: %s", strings.Join(factorNames(), ", "))
		}
	}
	for k := range raw.DMax {
		if f := factorName(k); f == "" || f == FactorPopulation {
			p.Add("d_max_m."+k, "", "unknown distance factor; expected one of: %s", strings.Join(factorNames()[:5], ", "))
		}
	}
	for _, s := range factorSpecs {
		w := s.Weight
		if v, ok := lookupFactor(raw.Weights, s.Name); ok {
			if f, ok := numberValue(v, "weights."+s.Name, 0, 1e6, p); ok {
				w = f
			}
		}
		req.Weights.set(s.Name, w)
		if s.Name == FactorPopulation {
			continue
		}
		d := s.DMax
		if v, ok := lookupFactor(raw.DMax, s.Name); ok {
			if f, ok := numberValue(v, "d_max_m."+s.Name, 1, MaxDistanceM, p); ok {
				d = f
			}
		}
		req.DMax.set(s.Name, d)
	}

	req.Population = Population{RadiusM: DefaultPopulationRadiusM, Max: DefaultPopulationMax}
	if !isNull(raw.Population) {
		var rp struct {
			RadiusM json.RawMessage `json:"radius_m"`
			Max     json.RawMessage `json:"max"`
		}
		if decodeStrict(raw.Population, &rp, "population", []string{"radius_m", "max"}, p) {
			if !isNull(rp.RadiusM) {
				if f, ok := numberValue(rp.RadiusM, "population.radius_m", 0, 100_000, p); ok {
					req.Population.RadiusM = f
				}
			}
			if !isNull(rp.Max) {
				if f, ok := numberValue(rp.Max, "population.max", 1, maxPopulation, p); ok {
					req.Population.Max = f
				}
			}
		}
	}

	req.Limit = DefaultLimit
	if !isNull(raw.Limit) {
		if f, ok := numberValue(raw.Limit, "limit", 1, MaxLimit, p); ok {
			if f != math.Trunc(f) {
				p.Add("limit", string(raw.Limit), "must be a whole number")
			} else {
				req.Limit = int(f)
			}
		}
	}
	req.IncludeExcluded = req.Candidates.Source != SourceGrid
	if !isNull(raw.IncludeExcluded) {
		if b, ok := boolValue(raw.IncludeExcluded, "include_excluded", p); ok {
			req.IncludeExcluded = b
		}
	}
	req.Format = "geojson"
	if !isNull(raw.Format) {
		if s, ok := stringValue(raw.Format, "format", p); ok {
			if f := normaliseFormat(s); f != "" {
				req.Format = f
			} else {
				p.Add("format", s, "unknown format; expected geojson or csv")
			}
		}
	}
	return req
}

// normaliseFormat maps the accepted format names to geojson or csv.
func normaliseFormat(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "geojson", "json":
		return "geojson"
	case "csv":
		return "csv"
	}
	return ""
}

func constraintNames() []string {
	var n []string
	for _, s := range constraintSpecs {
		n = append(n, s.Name)
	}
	return n
}

func factorNames() []string {
	var n []string
	for _, s := range factorSpecs {
		n = append(n, s.Name)
	}
	return n
}

// factorName returns the canonical factor name of k ("grid" is accepted for
// power, the electricity grid), or "".
func factorName(k string) string {
	if k == "grid" {
		return FactorPower
	}
	for _, s := range factorSpecs {
		if s.Name == k {
			return k
		}
	}
	return ""
}

func lookupFactor(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok && !isNull(v) {
		return v, true
	}
	if name == FactorPower {
		if v, ok := m["grid"]; ok && !isNull(v) {
			return v, true
		}
	}
	return nil, false
}

// parseConstraint reads a constraint given as true/false (on with the
// default limit / off), a number (on with that limit) or an object
// {"enabled": bool, "<key>": number}.
func parseConstraint(v json.RawMessage, s constraintSpec, c *Constraint, p *lastmile.Problems) {
	field := "constraints." + s.Name
	hi := float64(MaxDistanceM)
	if s.Name == ConstraintMinArea {
		hi = maxAreaM2
	}
	t := bytes.TrimSpace(v)
	switch {
	case len(t) > 0 && (t[0] == 't' || t[0] == 'f'):
		if b, ok := boolValue(v, field, p); ok {
			c.Enabled = b
		}
	case len(t) > 0 && t[0] == '{':
		var o map[string]json.RawMessage
		if err := json.Unmarshal(v, &o); err != nil {
			p.Add(field, "", "%s", describeJSONError(err, field, nil))
			return
		}
		for k, val := range o {
			switch k {
			case "enabled":
				if b, ok := boolValue(val, field+".enabled", p); ok {
					c.Enabled = b
				}
			case s.Key:
				if f, ok := numberValue(val, field+"."+s.Key, 0, hi, p); ok {
					c.Limit = f
					if _, given := o["enabled"]; !given {
						c.Enabled = true
					}
				}
			default:
				p.Add(field+"."+k, "", "unknown parameter; expected enabled or %s", s.Key)
			}
		}
	default:
		if f, ok := numberValue(v, field, 0, hi, p); ok {
			c.Enabled = true
			c.Limit = f
		}
	}
}

// ParseValues builds a ranking request from flag-style key/value pairs
// (the CLI flags and the GET query), applied over base (a JSON request body,
// may be empty). Keys: source, admin_code, bbox (w,s,e,n), cell_m, limit,
// include_excluded, format, weights (road=0.3,water=0.2), d_max_m
// (road=5000), constraints (hazard=200,village=on,power=off),
// population_radius_m, population_max.
func ParseValues(base []byte, q url.Values) (Request, error) {
	var p lastmile.Problems
	var raw rawRequest
	if len(bytes.TrimSpace(base)) > 0 {
		if !decodeStrict(base, &raw, "", topLevelKeys, &p) {
			return Request{}, p.Err("invalid ranking request")
		}
	}
	var rc map[string]json.RawMessage
	if !isNull(raw.Candidates) {
		if err := json.Unmarshal(raw.Candidates, &rc); err != nil {
			p.Add("candidates", "", "must be an object")
			return Request{}, p.Err("invalid ranking request")
		}
	}
	if rc == nil {
		rc = map[string]json.RawMessage{}
	}
	known := []string{"source", "admin_code", "bbox", "cell_m", "limit", "include_excluded", "format", "weights", "d_max_m", "constraints", "population_radius_m", "population_max"}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var pop map[string]json.RawMessage
	for _, k := range keys {
		v := q.Get(k)
		switch k {
		case "source", "admin_code":
			rc[k] = jsonString(v)
			if k == "source" && v != SourceGrid {
				// Switching source drops the other source's parameters.
				delete(rc, "admin_code")
				delete(rc, "bbox")
				delete(rc, "cell_m")
			}
		case "bbox":
			parts := strings.Split(v, ",")
			vals := make([]json.RawMessage, len(parts))
			for i, s := range parts {
				vals[i] = jsonScalar(strings.TrimSpace(s))
			}
			rc[k], _ = json.Marshal(vals)
		case "cell_m":
			rc[k] = jsonScalar(v)
		case "limit", "include_excluded":
			m := jsonScalar(v)
			if k == "limit" {
				raw.Limit = m
			} else {
				raw.IncludeExcluded = m
			}
		case "format":
			raw.Format = jsonString(v)
		case "weights", "d_max_m", "constraints":
			target := map[string]*map[string]json.RawMessage{"weights": &raw.Weights, "d_max_m": &raw.DMax, "constraints": &raw.Constraints}[k]
			if *target == nil {
				*target = map[string]json.RawMessage{}
			}
			for _, pair := range strings.Split(v, ",") {
				name, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || name == "" {
					p.Add(k, pair, "expected name=value pairs separated by commas, e.g. road=0.3,water=0.2")
					continue
				}
				if k == "constraints" {
					switch strings.ToLower(val) {
					case "on", "true":
						val = "true"
					case "off", "false":
						val = "false"
					}
				}
				(*target)[name] = jsonScalar(val)
			}
		case "population_radius_m", "population_max":
			if pop == nil {
				pop = map[string]json.RawMessage{}
				if !isNull(raw.Population) {
					if err := json.Unmarshal(raw.Population, &pop); err != nil {
						p.Add("population", "", "must be an object")
					}
				}
			}
			pop[strings.TrimPrefix(k, "population_")] = jsonScalar(v)
		default:
			p.Add(k, "", "unknown parameter; expected one of: %s", strings.Join(known, ", "))
		}
	}
	if pop != nil {
		raw.Population, _ = json.Marshal(pop)
	}
	if len(rc) > 0 {
		raw.Candidates, _ = json.Marshal(rc)
	}
	if err := p.Err("invalid ranking request"); err != nil {
		return Request{}, err
	}
	req := parseRaw(raw, &p)
	if err := p.Err("invalid ranking request"); err != nil {
		return Request{}, err
	}
	return req, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// jsonScalar is s as a JSON number or boolean when it reads as one, and as
// a JSON string otherwise (so the validator names it as "not a number").
func jsonScalar(s string) json.RawMessage {
	if s == "true" || s == "false" {
		return json.RawMessage(s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		b, _ := json.Marshal(f)
		return b
	}
	return jsonString(s)
}
