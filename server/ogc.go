package server

import "github.com/gorilla/mux"

// ogcRoutes registers OGC API Features under /ogc.
func (s *Server) ogcRoutes(r *mux.Router) {}
