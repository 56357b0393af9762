package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/server/respond"
)

// Authenticator resolves a bearer token to its principal, or returns an
// unauthorized error. *postgis.Tokens is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Principal, error)
}

// tokens returns the configured authenticator, the database's token table
// by default.
func (s *Server) tokens() Authenticator {
	if s.deps.Tokens != nil {
		return s.deps.Tokens
	}
	if s.deps.Pool != nil {
		return postgis.NewTokens(s.deps.Pool, s.deps.Catalog)
	}
	return nil
}

// withAuth resolves a bearer token to an auth.Principal in the context.
// Requests without Authorization stay anonymous (handlers decide whether
// that is enough); a malformed, unknown or revoked token is 401 at once.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lastmile"`)
			respond.Error(w, r, lastmile.Errorf(lastmile.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\""))
			return
		}
		tokens := s.tokens()
		if tokens == nil {
			respond.Error(w, r, lastmile.Errorf(lastmile.EUNAUTHORIZED, "this server has no token store"))
			return
		}
		p, err := tokens.Authenticate(r.Context(), token)
		if err != nil {
			if lastmile.ErrorCode(err) == lastmile.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="lastmile", error="invalid_token"`)
			}
			respond.Error(w, r, err)
			return
		}
		ctx := auth.With(r.Context(), p)
		ctx = respond.WithLogger(ctx, respond.Logger(ctx).With("token", p.Name))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
