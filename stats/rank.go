package stats

import "github.com/gorilla/mux"

// registerRank adds POST /api/sites/rank.
func (h *Handler) registerRank(r *mux.Router) {}
