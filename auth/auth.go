// Package auth holds the caller's identity in a request context and the
// scope checks every write path makes. Tokens themselves (creation, hashing,
// lookup) and the middleware that fills the context live in server/ and
// postgis/; this leaf package lets tiles/, stats/ and ingest/ check scopes
// without importing them.
package auth

import (
	"context"
	"slices"

	"github.com/lastmile/lastmile"
)

// Scopes a token can carry.
const (
	ScopeRead    = "read"
	ScopeMetrics = "metrics" // /metrics and the tile cache's counters
	ScopeAdmin   = "admin"
)

// Principal is an authenticated caller: a token's name and scopes.
type Principal struct {
	TokenID int64
	Name    string
	Scopes  []string
}

// Has reports whether p carries scope (admin carries every scope).
func (p *Principal) Has(scope string) bool {
	return p != nil && (slices.Contains(p.Scopes, scope) || slices.Contains(p.Scopes, ScopeAdmin))
}

type key struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Principal) context.Context { return context.WithValue(ctx, key{}, p) }

// From returns the principal in ctx, or nil for an anonymous caller.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(key{}).(*Principal)
	return p
}

// Require returns nil when the caller in ctx has scope: 401 when anonymous,
// 403 when the token lacks it.
func Require(ctx context.Context, scope string) error {
	p := From(ctx)
	if p == nil {
		return lastmile.Errorf(lastmile.EUNAUTHORIZED, "this needs a token with scope %q: send Authorization: Bearer <token>, or Basic with the token as the password (create one with lastmile token create)", scope)
	}
	if !p.Has(scope) {
		return lastmile.Errorf(lastmile.EFORBIDDEN, "token %q lacks scope %q", p.Name, scope)
	}
	return nil
}
