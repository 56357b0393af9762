package rank

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile/admit"
	"github.com/lastmile/lastmile/server/respond"
)

// Handler serves /api/sites/rank.
type Handler struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	gate *admit.Gate // nil: no admission control, no cache
}

// WithGate admits rankings through g (estimated cost, per-client and
// server-wide limits) and answers repeated ones from its cache.
func (h *Handler) WithGate(g *admit.Gate) *Handler { h.gate = g; return h }

// NewHandler returns the ranking handler; pool may be a read replica, as
// for the statistics (ranking only reads).
func NewHandler(pool *pgxpool.Pool, log *slog.Logger) *Handler {
	return &Handler{pool: pool, log: log}
}

// maxBody bounds a ranking request body.
const maxBody = 32 << 20

// Register adds POST (and GET, for map layers) /api/sites/rank.
func (h *Handler) Register(r *mux.Router) {
	r.Handle("/api/sites/rank", respond.HandlerFunc(h.serve)).Methods(http.MethodPost, http.MethodGet)
}

// serve answers POST /api/sites/rank with a JSON body (see Request), and
// GET /api/sites/rank with the same parameters in flag form as a query
// (source, admin_code, bbox, cell_m, weights=road=0.3,water=0.2, …).
// ?format=csv selects CSV.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			return err
		}
	}
	req, err := ParseValues(body, r.URL.Query())
	if err != nil {
		return err
	}
	params, err := json.Marshal(req)
	if err != nil {
		return err
	}
	key := admit.Key("rank", req.Format, string(params), string(body))
	return h.gate.Cache().Serve(w, key, func(w http.ResponseWriter) error { return h.run(w, r, req) })
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request, req Request) error {
	if h.gate != nil {
		cost, n, err := Estimate(r.Context(), h.pool, req)
		if err != nil {
			return err
		}
		release, err := h.gate.Admit(r, fmt.Sprintf("ranking %d %s candidates", n, req.Candidates.Source), cost)
		if err != nil {
			return err
		}
		defer release()
	}
	res, err := Run(r.Context(), h.pool, req)
	if err != nil {
		return err
	}
	h.log.Info("ranked relocation sites", "source", req.Candidates.Source,
		"candidates", res.Summary.Candidates, "ranked", res.Summary.Ranked,
		"excluded", res.Summary.Excluded, "ms", res.Summary.ElapsedMS,
		"request_id", respond.RequestID(r.Context()))
	if req.Format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="sites-rank.csv"`)
		if p, err := jsonCompact(res.Parameters); err == nil {
			w.Header().Set("Lastmile-Rank-Parameters", p)
		}
		w.WriteHeader(http.StatusOK)
		return res.WriteCSV(w)
	}
	w.Header().Set("Content-Type", "application/geo+json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	return res.WriteGeoJSON(w)
}
