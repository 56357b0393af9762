// Package demo generates and loads a deterministic synthetic county: the
// demo data every lastmile capability (tiles, OGC API, statistics, site
// ranking, the map) can be tried on.
//
// The county is placed at the real coordinates of Shanghe County, Jinan,
// Shandong (lon ≈ 117.0–117.4, lat ≈ 37.1–37.5) and borrows its township
// names, but every geometry and number is synthetic. Generate is pure Go
// and deterministic: the same seed gives the same county, byte for byte
// (see Checksum).
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// County codes: the county and the 12-digit code prefix of its townships
// and villages.
const (
	CountyCode = "371426000000"
	CountyName = "商河县"
)

// Renovation figures every demo county has exactly: 565 planned
// dilapidated-house renovations, 511 of them completed by 2015-12-31; of
// the other 54, 24 were completed in 2016, 12 are under construction and
// 18 are planned.
const (
	Renovations                = 565
	RenovationsCompletedBy2015 = 511
	RenovationsCompleted2016   = 24
	RenovationsUnderConstr     = 12
	RenovationsPlanned         = 18
)

// Feature is one row of a layer's table. Zero dates and zero funding are
// stored as NULL.
type Feature struct {
	ExtID       string // "demo:<layer>:<n>"
	Name        string
	AdminCode   string
	Status      string
	StartedOn   time.Time
	CompletedOn time.Time
	FundingYuan float64
	Attrs       map[string]any // the layer's own columns: string, int, float64 or bool
	Props       map[string]any // the props jsonb
	Geom        orb.Geometry
}

// Layer is the features of one catalog layer.
type Layer struct {
	Name     string
	Features []Feature
}

// County is a generated demo county, its layers in a fixed order.
type County struct {
	Seed   int64
	Layers []Layer
}

// Features returns the features of the named layer (nil if none).
func (c *County) Features(layer string) []Feature {
	for _, l := range c.Layers {
		if l.Name == layer {
			return l.Features
		}
	}
	return nil
}

// Checksum is the hex SHA-256 of a canonical serialization of the county:
// layers in order, features in order, attributes by sorted name, floats in
// shortest round-trip form, geometry as WKB.
func (c *County) Checksum() string {
	h := sha256.New()
	c.writeCanonical(h)
	return hex.EncodeToString(h.Sum(nil))
}

func (c *County) writeCanonical(w io.Writer) {
	fmt.Fprintf(w, "seed=%d\n", c.Seed)
	for _, l := range c.Layers {
		fmt.Fprintf(w, "layer %s %d\n", l.Name, len(l.Features))
		for _, f := range l.Features {
			fmt.Fprintf(w, "%s|%s|%s|%s|%s|%s|%s", f.ExtID, f.Name, f.AdminCode, f.Status,
				dateString(f.StartedOn), dateString(f.CompletedOn), canonical(f.FundingYuan))
			keys := make([]string, 0, len(f.Attrs))
			for k := range f.Attrs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "|%s=%s", k, canonical(f.Attrs[k]))
			}
			props, _ := json.Marshal(f.Props) // map keys are sorted by encoding/json
			b, _ := wkb.Marshal(f.Geom)
			fmt.Fprintf(w, "|%s|%x\n", props, b)
		}
	}
}

func canonical(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func dateString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// Summary describes the generated county in one line per layer.
func (c *County) Summary() string {
	var b strings.Builder
	for _, l := range c.Layers {
		fmt.Fprintf(&b, "%-18s %5d\n", l.Name, len(l.Features))
	}
	return b.String()
}
