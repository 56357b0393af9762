package rank

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/lastmile/lastmile/server/respond"
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
	// Measure is "by road" when raw runs along the road network.
	Measure string `json:"measure,omitempty"`
}

// ConstraintResult is one hard constraint's test on a candidate.
type ConstraintResult struct {
	Constraint string   `json:"constraint"`
	Passed     bool     `json:"passed"`
	Measured   *float64 `json:"measured"` // null: nothing of the kind exists
	Unit       string   `json:"unit"`
	Test       string   `json:"test"`
	Nearest    *Nearest `json:"nearest,omitempty"`
	Measure    string   `json:"measure,omitempty"` // "by road" along the road network
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
	cw := respond.NewCSVWriter(w)
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
