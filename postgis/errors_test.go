package postgis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/lastmile/lastmile"
)

// TestConstraintViolationsInOurWords: what the database refuses comes back
// naming the field and the value in our words, never PostgreSQL's text.
func TestConstraintViolationsInOurWords(t *testing.T) {
	store, ctx, _ := newStore(t)
	if _, err := store.Create(ctx, "roads", map[string]any{"ext_id": "R-17", "status": "planned"}, road); err != nil {
		t.Fatal(err)
	}
	house := orb.Point{117.1, 37.2}
	tests := []struct {
		name         string
		layer        string
		props        map[string]any
		geom         orb.Geometry
		code         string
		field, value string
	}{
		{"duplicate ext_id", "roads", map[string]any{"ext_id": "R-17", "status": "planned"}, road, lastmile.ECONFLICT, "ext_id", "R-17"},
		{"numeric(14,2) overflow", "roads", map[string]any{"status": "planned", "funding_yuan": 1e13}, road, lastmile.EINVALID, "funding_yuan", "10000000000000"},
		{"integer overflow", "house_renovations", map[string]any{"status": "planned", "households": 3e9}, house, lastmile.EINVALID, "households", "3000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.Create(ctx, tc.layer, tc.props, tc.geom)
			var e *lastmile.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want a *lastmile.Error", err, err)
			}
			if e.Code != tc.code || len(e.Details) != 1 || e.Details[0].Field != tc.field || e.Details[0].Value != tc.value {
				t.Fatalf("error %s %q %+v; want %s naming %s = %s", e.Code, e.Message, e.Details, tc.code, tc.field, tc.value)
			}
			text := e.Message + " " + e.Details[0].Message
			for _, pg := range []string{"Key (", "already exists.", "numeric field overflow", "out of range for type", "violates"} {
				if strings.Contains(text, pg) {
					t.Errorf("PostgreSQL's text %q in %q", pg, text)
				}
			}
			t.Logf("%s: %s", tc.name, e)
		})
	}
}
