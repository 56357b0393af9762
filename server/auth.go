package server

import (
	"context"
	"encoding/base64"
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

// withAuth resolves the token of a request to an auth.Principal in the
// context. The token comes in the Authorization header, as
//   - Bearer <token> (RFC 6750), or
//   - Basic with the token as the password and any user name (RFC 7617):
//     clients that cannot send a bearer token, such as QGIS 3.22 (its auth
//     configuration of type Basic), send it so.
//
// Requests without Authorization stay anonymous (handlers decide whether
// that is enough); a malformed, unknown or revoked token is 401 at once. A
// token is never taken from the URL: one there would be written to access
// logs, proxies' logs and browser histories (withSaneInput refuses it).
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		token, bearer, msg := credentials(h)
		if msg != "" {
			respond.Challenge(w.Header(), "invalid_request")
			respond.Error(w, r, lastmile.Errorf(lastmile.EUNAUTHORIZED, "%s", msg))
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
				if bearer {
					// A client that sent a bearer token gets the Bearer
					// challenge alone: a Basic one would make a browser open
					// its login box over the page's own message.
					w.Header().Set("WWW-Authenticate", `Bearer realm="lastmile", error="invalid_token"`)
				} else {
					respond.Challenge(w.Header(), "invalid_token")
				}
			}
			respond.Error(w, r, err)
			return
		}
		ctx := auth.With(r.Context(), p)
		ctx = respond.WithLogger(ctx, respond.Logger(ctx).With("token", p.Name))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// credentials reads the token of an Authorization header value: Bearer
// <token>, or Basic base64(user:token). msg says what is wrong when neither.
func credentials(h string) (token string, bearer bool, msg string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer") && rest != "":
		return rest, true, ""
	case strings.EqualFold(scheme, "Basic") && rest != "":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false, `the Authorization header's Basic credentials are not base64 (send "Basic " + base64("user:" + token))`
		}
		_, password, ok := strings.Cut(string(b), ":")
		if !ok || password == "" {
			return "", false, "the Authorization header's Basic credentials have no password: put the token in the password (the user name may be anything)"
		}
		return password, false, ""
	}
	return "", false, `the Authorization header must be "Bearer <token>", or Basic with the token as the password`
}
