package rank

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/lastmile/lastmile/layer"
)

// Result is a ranked GeoJSON FeatureCollection: the ranked candidates
// (best first, at most Limit), then the excluded ones when asked for, with
// the parameters echoed and the definitions used.
type Result struct {
	Type        string             `json:"type"`
	Parameters  Request            `json:"parameters"`
	Definitions orderedMap[string] `json:"definitions"`
	Summary     Summary            `json:"summary"`
	Features    []Feature          `json:"features"`
}

// Summary counts the candidates.
type Summary struct {
	Candidates     int             `json:"candidates"`
	Ranked         int             `json:"ranked"`          // passed every constraint
	Excluded       int             `json:"excluded"`        // failed at least one
	Returned       int             `json:"returned"`        // ranked features in this response
	ExcludedListed int             `json:"excluded_listed"` // excluded features in this response (at most MaxLimit)
	ExcludedBy     orderedMap[int] `json:"excluded_by"`
	CellsEstimated int             `json:"cells_estimated,omitempty"`
	CandidatesMS   float64         `json:"candidates_ms"`
	ElapsedMS      float64         `json:"elapsed_ms"`
}

// Feature is one candidate.
type Feature struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Geometry   *geojson.Geometry `json:"geometry"`
	Properties Properties        `json:"properties"`
}

// Properties explain a candidate's place: every factor and every
// enabled constraint with the measured values.
type Properties struct {
	Rank        *int               `json:"rank"`   // 1 = best; null when excluded
	Status      string             `json:"status"` // ranked | excluded
	CandidateID string             `json:"candidate_id"`
	Name        string             `json:"name,omitempty"`
	Cell        *GridCell          `json:"cell,omitempty"`
	Total       float64            `json:"total"`
	Failed      []string           `json:"failed"`
	Factors     []FactorScore      `json:"factors"`
	Constraints []ConstraintResult `json:"constraints"`
}

// FactorScore is one factor's part of the total.
type FactorScore struct {
	Factor       string   `json:"factor"`
	Raw          *float64 `json:"raw"` // metres, or persons for population; null: none exists
	Unit         string   `json:"unit"`
	DMaxM        float64  `json:"d_max_m,omitempty"`
	Max          float64  `json:"max,omitempty"`
	RadiusM      float64  `json:"radius_m,omitempty"`
	Villages     *int64   `json:"villages,omitempty"`
	Normalised   float64  `json:"normalised"`
	Weight       float64  `json:"weight"`
	Contribution float64  `json:"contribution"`
	Nearest      *Nearest `json:"nearest,omitempty"`
}

// ConstraintResult is one hard constraint's test on a candidate.
type ConstraintResult struct {
	Constraint string   `json:"constraint"`
	Passed     bool     `json:"passed"`
	Measured   *float64 `json:"measured"` // null: nothing of the kind exists
	Unit       string   `json:"unit"`
	Test       string   `json:"test"`
	Nearest    *Nearest `json:"nearest,omitempty"`
}

// ScoringFormula is stated in every response.
const ScoringFormula = "total = Σ weight_f × normalised_f; distance factors: normalised = max(0, 1 − d / d_max_m) " +
	"with d the geodesic distance in metres (0 when none exists: normalised 0); population: normalised = min(1, P / population.max) " +
	"with P the population of villages within population.radius_m; order: total (rounded to 6 decimals) descending, then candidate id"

func definitions() orderedMap[string] {
	var d orderedMap[string]
	d.set("scoring", ScoringFormula)
	d.set("hardened", layer.Hardened.Description+"; only completed roads count")
	d.set("water", "a completed water pipeline or a completed facility of kind water_source")
	d.set("power", "a completed power_upgrades line or transformer (the electricity grid)")
	d.set("clinic", "a completed facility of kind clinic or hospital")
	d.set("distance", "geodesic distance on the WGS84 spheroid (PostGIS geography), 0 inside a polygon")
	for _, s := range constraintSpecs {
		d.set("constraint."+s.Name, s.Rule)
	}
	return d
}

// evaluate applies the constraints and scores to measured candidates.
func evaluate(req Request, cands []candidate, ms []measures) *Result {
	res := &Result{Type: "FeatureCollection", Parameters: req, Definitions: definitions(), Features: []Feature{}}
	for _, s := range constraintSpecs {
		if req.Constraint(s.Name).Enabled {
			res.Summary.ExcludedBy.set(s.Name, 0)
		}
	}
	var ranked, excluded []Feature
	for i, c := range cands {
		f := scoreCandidate(req, c, ms[i])
		if len(f.Properties.Failed) == 0 {
			ranked = append(ranked, f)
			continue
		}
		for _, name := range f.Properties.Failed {
			res.Summary.ExcludedBy.set(name, res.Summary.ExcludedBy.Get(name)+1)
		}
		excluded = append(excluded, f)
	}
	slices.SortStableFunc(ranked, func(a, b Feature) int {
		if a.Properties.Total != b.Properties.Total {
			if a.Properties.Total > b.Properties.Total {
				return -1
			}
			return 1
		}
		return compareIDs(a.ID, b.ID)
	})
	slices.SortStableFunc(excluded, func(a, b Feature) int { return compareIDs(a.ID, b.ID) })
	res.Summary.Candidates = len(cands)
	res.Summary.Ranked = len(ranked)
	res.Summary.Excluded = len(excluded)
	if len(ranked) > req.Limit {
		ranked = ranked[:req.Limit]
	}
	for i := range ranked {
		r := i + 1
		ranked[i].Properties.Rank = &r
	}
	res.Summary.Returned = len(ranked)
	res.Features = append(res.Features, ranked...)
	if req.IncludeExcluded {
		excluded = excluded[:min(len(excluded), MaxLimit)]
		res.Summary.ExcludedListed = len(excluded)
		res.Features = append(res.Features, excluded...)
	}
	return res
}

// compareIDs orders ids numerically when both are integers, else as text.
func compareIDs(a, b string) int {
	ai, aerr := strconv.ParseInt(a, 10, 64)
	bi, berr := strconv.ParseInt(b, 10, 64)
	if aerr == nil && berr == nil {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func ptr[T any](v T) *T { return &v }

func scoreCandidate(req Request, c candidate, m measures) Feature {
	p := Properties{Status: "ranked", CandidateID: c.id, Name: c.name, Cell: c.grid, Failed: []string{}}
	dist := func(n *Nearest) *float64 {
		if n == nil {
			return nil
		}
		return ptr(round(n.DistanceM, 1))
	}
	// Hard constraints.
	for _, s := range constraintSpecs {
		con := req.Constraint(s.Name)
		if !con.Enabled {
			continue
		}
		r := ConstraintResult{Constraint: s.Name, Unit: s.Unit}
		lim := strconv.FormatFloat(con.Limit, 'f', -1, 64)
		switch s.Name {
		case ConstraintHazard:
			r.Nearest, r.Measured = m.hazard, dist(m.hazard)
			r.Passed = m.hazard == nil || m.hazard.DistanceM > con.Limit
			r.Test = "distance to the nearest hazard zone > " + lim + " m"
		case ConstraintRoad:
			r.Nearest, r.Measured = m.road, dist(m.road)
			r.Passed = m.road != nil && m.road.DistanceM <= con.Limit
			r.Test = "distance to the nearest hardened road ≤ " + lim + " m"
		case ConstraintWater:
			w := m.water()
			r.Nearest, r.Measured = w, dist(w)
			r.Passed = w != nil && w.DistanceM <= con.Limit
			r.Test = "distance to the nearest water pipeline or source ≤ " + lim + " m"
		case ConstraintPower:
			r.Nearest, r.Measured = m.power, dist(m.power)
			r.Passed = m.power != nil && m.power.DistanceM <= con.Limit
			r.Test = "distance to the nearest upgraded power line or transformer ≤ " + lim + " m"
		case ConstraintMinArea:
			if m.areaM2 == nil {
				continue // points are exempt
			}
			r.Measured = ptr(round(*m.areaM2, 1))
			r.Passed = *m.areaM2 >= con.Limit
			r.Test = "geodesic area ≥ " + lim + " m²"
		case ConstraintVillage:
			r.Nearest, r.Measured = m.village, dist(m.village)
			r.Passed = m.village == nil || m.village.DistanceM > con.Limit
			r.Test = "distance to the nearest village > " + lim + " m"
		}
		if !r.Passed {
			p.Failed = append(p.Failed, s.Name)
		}
		p.Constraints = append(p.Constraints, r)
	}
	if len(p.Failed) > 0 {
		p.Status = "excluded"
	}
	// Scores.
	total := 0.0
	for _, s := range factorSpecs {
		w := req.Weights.Get(s.Name)
		fs := FactorScore{Factor: s.Name, Unit: s.Unit, Weight: w}
		var norm float64
		if s.Name == FactorPopulation {
			fs.Max, fs.RadiusM = req.Population.Max, req.Population.RadiusM
			if w > 0 {
				fs.Raw = ptr(float64(m.population))
				fs.Villages = ptr(m.villages)
				norm = math.Min(1, float64(m.population)/req.Population.Max)
			}
		} else {
			var n *Nearest
			switch s.Name {
			case FactorRoad:
				n = m.road
			case FactorWater:
				n = m.water()
			case FactorPower:
				n = m.power
			case FactorSchool:
				n = m.school
			case FactorClinic:
				n = m.clinic
			}
			dmax := req.DMax.Get(s.Name)
			fs.DMaxM, fs.Nearest, fs.Raw = dmax, n, dist(n)
			if n != nil {
				norm = math.Max(0, 1-n.DistanceM/dmax)
			}
		}
		fs.Normalised = round(norm, 6)
		fs.Contribution = round(w*norm, 6)
		total += w * norm
		p.Factors = append(p.Factors, fs)
	}
	p.Total = round(total, 6)
	if p.Constraints == nil {
		p.Constraints = []ConstraintResult{}
	}
	return Feature{Type: "Feature", ID: c.id, Geometry: geojson.NewGeometry(c.geom), Properties: p}
}

// WriteGeoJSON writes the result as a GeoJSON FeatureCollection with one
// member, and then one feature, per line (compact, yet diffable).
func (r *Result) WriteGeoJSON(w io.Writer) error {
	var b bytes.Buffer
	line := func(prefix string, v any, suffix string) error {
		b.WriteString(prefix)
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // the encoder's newline
		b.WriteString(suffix)
		return nil
	}
	if err := line(`{"type":"FeatureCollection",`+"\n"+`"parameters":`, r.Parameters, ",\n"); err != nil {
		return err
	}
	if err := line(`"definitions":`, r.Definitions, ",\n"); err != nil {
		return err
	}
	if err := line(`"summary":`, r.Summary, ",\n"); err != nil {
		return err
	}
	b.WriteString(`"features":[`)
	for i, f := range r.Features {
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		b.WriteString(sep)
		if err := line("", f, ""); err != nil {
			return err
		}
		if b.Len() > 1<<16 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	b.WriteString("\n]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func jsonCompact(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = json.Compact(&buf, b)
	return buf.String(), err
}

// CSVHeader is the header row of WriteCSV.
func CSVHeader() []string {
	h := []string{"rank", "status", "id", "name", "lon", "lat", "total"}
	for _, s := range factorSpecs {
		unit := "m"
		if s.Name == FactorPopulation {
			unit = "persons"
		}
		h = append(h, s.Name+"_"+unit, s.Name+"_normalised", s.Name+"_weight", s.Name+"_contribution")
	}
	return append(h, "failed", "constraints")
}

// WriteCSV writes one row per feature: rank, the representative point, the
// total, each factor's raw value, normalised value, weight and
// contribution, and the constraints (failed ones first).
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, f := range r.Features {
		p := f.Properties
		rank := ""
		if p.Rank != nil {
			rank = strconv.Itoa(*p.Rank)
		}
		pt := representativePoint(f.Geometry.Geometry())
		row := []string{rank, p.Status, f.ID, p.Name, num(round(pt[0], 6)), num(round(pt[1], 6)), num(p.Total)}
		for _, fs := range p.Factors {
			raw := ""
			if fs.Raw != nil {
				raw = num(*fs.Raw)
			}
			row = append(row, raw, num(fs.Normalised), num(fs.Weight), num(fs.Contribution))
		}
		var cons []string
		for _, c := range p.Constraints {
			v := "none"
			if c.Measured != nil {
				v = num(*c.Measured) + " " + c.Unit
			}
			verdict := "pass"
			if !c.Passed {
				verdict = "FAIL"
			}
			cons = append(cons, fmt.Sprintf("%s %s: %s (%s)", c.Constraint, verdict, v, c.Test))
		}
		row = append(row, strings.Join(p.Failed, ";"), strings.Join(cons, "; "))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// representativePoint is a point's own position or a polygon's centroid.
func representativePoint(g orb.Geometry) orb.Point {
	if p, ok := g.(orb.Point); ok {
		return p
	}
	c, _ := planar.CentroidArea(g)
	return c
}
