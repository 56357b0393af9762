package stats

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/admit"
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

// Estimated cost of the expensive statistics: on the demo county a network
// coverage question by township took 0.05 CPU-s and a yearly series by
// township 0.08 (bench/hardening.sh), twice that here. Both grow with the
// data, not with the parameters (series are bounded to 1949 … next year),
// so they are limited by the gate's slots and per-client share, and are
// not refused by size.
const (
	NetworkCost = 100 * time.Millisecond
	SeriesCost  = 200 * time.Millisecond
)

// expensive names a statistic that goes through admission control and its
// estimated cost: network coverage (routing over the road graph) and
// yearly series (one aggregate per year); "" for the cheap ones.
func expensive(name string, q url.Values) (string, time.Duration) {
	switch {
	case q.Get("method") == "network":
		return name + " by road network", NetworkCost
	case q.Get("series") != "":
		return name + " as a yearly series", SeriesCost
	}
	return "", 0
}

// registerStats adds GET /api/stats/{coverage,rai,lengths,progress}.
func (h *Handler) registerStats(r *mux.Router) {
	for name, fn := range Endpoints() {
		r.Handle("/api/stats/"+name, respond.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			// url.Values.Encode sorts the parameters: the normalised question.
			return h.gate.Cache().Serve(w, admit.Key("stats", name, q.Encode()), func(w http.ResponseWriter) error {
				if what, cost := expensive(name, q); what != "" {
					release, err := h.gate.Admit(r, what, cost)
					if err != nil {
						return err
					}
					defer release()
				}
				res, f, err := fn(r.Context(), h.pool, h.catalog, q)
				if err != nil {
					return err
				}
				return Write(w, res, f, name)
			})
		})).Methods(http.MethodGet, http.MethodHead)
	}
}
