package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/geo"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgsql"
)

// Check applies to every feature of the county the rules the feature API
// and imports apply (layer.Validate: fields, enums, dates within
// 1949-01-01 … a year from today, no completion in the future for a
// completed feature; geo.Validate: coordinates, rings, no segment across
// ±180°; the layer's geometry kinds and vertex limit). A problem's row is
// the feature's number in its layer, its message starts with the ext_id.
// The admin_code check needs the database: Load makes it.
func (c *County) Check(catalog *layer.Catalog) lastmile.Problems {
	var out lastmile.Problems
	for _, dl := range c.Layers {
		l, ok := catalog.Layer(dl.Name)
		if !ok {
			out.Add("layer", dl.Name, "is not a layer of the catalog")
			continue
		}
		for i, f := range dl.Features {
			add := func(field, value, msg string) {
				out.AddRow(i+1, field, value, "%s: %s", f.ExtID, msg)
			}
			_, problems := l.Validate(f.properties(), false)
			for _, p := range problems {
				add(p.Field, p.Value, p.Message)
			}
			if f.Geom == nil {
				add("geometry", "", "is missing")
				continue
			}
			for _, msg := range geo.Validate(f.Geom) {
				add("geometry", "", msg)
			}
			if msg := l.CheckVertices(f.Geom); msg != "" {
				add("geometry", "", msg)
			}
			if kind := geo.Kind(f.Geom); !l.AllowsGeometry(kind) {
				add("geometry", kind, fmt.Sprintf("is not allowed in layer %s", l.Name))
			}
		}
	}
	return out
}

// properties are the feature's fields as the feature API receives them.
func (f Feature) properties() map[string]any {
	p := map[string]any{"ext_id": f.ExtID, "status": f.Status}
	if f.Name != "" {
		p["name"] = f.Name
	}
	if f.AdminCode != "" {
		p["admin_code"] = f.AdminCode
	}
	if !f.StartedOn.IsZero() {
		p["started_on"] = f.StartedOn.Format(time.DateOnly)
	}
	if !f.CompletedOn.IsZero() {
		p["completed_on"] = f.CompletedOn.Format(time.DateOnly)
	}
	if f.FundingYuan != 0 {
		p["funding_yuan"] = f.FundingYuan
	}
	if f.Props != nil {
		p["props"] = f.Props
	}
	for k, v := range f.Attrs {
		p[k] = v
	}
	return p
}

// checkAdmin applies the feature API's admin_code check
// (postgis.AdminMismatches) to the demo rows of every layer as the load
// left them in its transaction, against the admin areas it loaded.
func checkAdmin(ctx context.Context, tx pgx.Tx, catalog *layer.Catalog, county *County) (lastmile.Problems, error) {
	var out lastmile.Problems
	for _, l := range catalog.Layers() {
		features := county.Features(l.Name)
		if !postgis.ChecksAdminCode(l) || len(features) == 0 {
			continue
		}
		ids := make([]string, len(features))
		for i, f := range features {
			ids[i] = f.ExtID
		}
		rows := `(SELECT f.n AS key, t.admin_code AS code, t.geom AS g FROM ` + pgsql.Table(l) +
			` t JOIN unnest($1::text[]) WITH ORDINALITY f(ext_id, n) USING (ext_id))`
		m, err := postgis.AdminMismatches(ctx, tx, rows, 100, ids)
		if err != nil {
			return lastmile.Problems{}, err
		}
		for _, m := range m {
			p := m.Problem()
			p.Row = int(m.Key)
			p.Message = ids[m.Key-1] + ": " + p.Message
			out.Append(p)
		}
	}
	return out, nil
}
