package stats

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/server/respond"
)

// Endpoint computes one statistic from URL query parameters.
type Endpoint func(ctx context.Context, pool *pgxpool.Pool, c *layer.Catalog, v url.Values) (*Result, Format, error)

// Endpoints maps each statistic's name (the last path element of
// /api/stats/{name}, and the CLI subcommand) to its function.
func Endpoints() map[string]Endpoint {
	return map[string]Endpoint{
		"coverage": Coverage,
		"rai":      RAI,
		"lengths":  Lengths,
		"progress": Progress,
		"network":  NetworkReport,
	}
}

// registerStats adds GET /api/stats/{coverage,rai,lengths,progress}.
func (h *Handler) registerStats(r *mux.Router) {
	for name, fn := range Endpoints() {
		r.Handle("/api/stats/"+name, respond.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			res, f, err := fn(r.Context(), h.pool, h.catalog, r.URL.Query())
			if err != nil {
				return err
			}
			return Write(w, res, f, name)
		})).Methods(http.MethodGet, http.MethodHead)
	}
}
