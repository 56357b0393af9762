package postgis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/layer"
)

// TokenPrefix starts every lastmile token, so a leaked one is recognisable.
const TokenPrefix = "lm_"

// Token is a stored API token (never its secret).
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Tokens creates, lists, revokes and checks API tokens.
type Tokens struct {
	pool    *pgxpool.Pool
	catalog *layer.Catalog
}

// NewTokens returns the token store; scopes are checked against catalog.
func NewTokens(pool *pgxpool.Pool, catalog *layer.Catalog) *Tokens {
	return &Tokens{pool: pool, catalog: catalog}
}

// CheckScopes reports every scope that is not read, metrics, admin or write:<layer>.
func CheckScopes(catalog *layer.Catalog, scopes []string) error {
	var problems []lastmile.Problem
	if len(scopes) == 0 {
		problems = append(problems, lastmile.Problem{Field: "scopes", Message: "give at least one scope: read, metrics, admin or write:<layer>"})
	}
	for _, s := range scopes {
		if s == auth.ScopeRead || s == auth.ScopeMetrics || s == auth.ScopeAdmin {
			continue
		}
		if name, ok := strings.CutPrefix(s, "write:"); ok {
			if _, ok := catalog.Layer(name); ok {
				continue
			}
			problems = append(problems, lastmile.Problem{Field: "scopes", Value: s,
				Message: fmt.Sprintf("no layer %q (layers: %s)", name, strings.Join(catalog.Names(), ", "))})
			continue
		}
		problems = append(problems, lastmile.Problem{Field: "scopes", Value: s, Message: "not a scope: use read, metrics, admin or write:<layer>"})
	}
	if len(problems) > 0 {
		return lastmile.Invalid("the scopes are invalid", problems...)
	}
	return nil
}

// hashToken returns the SHA-256 of a token.
func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Create stores a new token and returns it with its secret, which is shown
// only this once: "lm_<prefix>_<43 random base64url characters>".
func (t *Tokens) Create(ctx context.Context, name string, scopes []string) (_ *Token, secret string, err error) {
	defer lastmile.Wrap(&err, "tokens.Create(%q)", name)
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", lastmile.Invalid("a token needs a name (it is the actor in the edit history)", lastmile.Problem{Field: "name", Message: "is required"})
	}
	if err := CheckScopes(t.catalog, scopes); err != nil {
		return nil, "", err
	}
	p := make([]byte, 4)
	s := make([]byte, 32)
	if _, err := rand.Read(p); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(s); err != nil {
		return nil, "", err
	}
	prefix := hex.EncodeToString(p)
	secret = TokenPrefix + prefix + "_" + base64.RawURLEncoding.EncodeToString(s)
	tok := &Token{Name: name, Prefix: prefix, Scopes: scopes}
	err = t.pool.QueryRow(ctx, `INSERT INTO lastmile.api_tokens (name, prefix, hash, scopes)
		VALUES ($1, $2, $3, $4) RETURNING id, created_at`, name, prefix, hashToken(secret), scopes).Scan(&tok.ID, &tok.CreatedAt)
	if err != nil {
		return nil, "", MapError(err)
	}
	return tok, secret, nil
}

// List returns every token, revoked ones included, oldest first.
func (t *Tokens) List(ctx context.Context) (_ []Token, err error) {
	defer lastmile.Wrap(&err, "tokens.List")
	rows, err := t.pool.Query(ctx, `SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at
		FROM lastmile.api_tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Token, error) {
		var k Token
		err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
		return k, err
	})
}

// Revoke revokes the token with the given id or prefix. Revoking twice is
// not an error; an unknown token is.
func (t *Tokens) Revoke(ctx context.Context, idOrPrefix string) (_ *Token, err error) {
	defer lastmile.Wrap(&err, "tokens.Revoke(%q)", idOrPrefix)
	// An 8-hex-digit argument is a prefix, anything else an id.
	var id int64 = -1
	prefix := ""
	if _, err := hex.DecodeString(idOrPrefix); err == nil && len(idOrPrefix) == 8 {
		prefix = idOrPrefix
	} else if id, err = strconv.ParseInt(idOrPrefix, 10, 64); err != nil {
		return nil, lastmile.Errorf(lastmile.EINVALID, "%q is neither a token id nor an 8-character prefix (see lastmile token list)", idOrPrefix)
	}
	var k Token
	err = t.pool.QueryRow(ctx, `UPDATE lastmile.api_tokens SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 OR prefix = $2
		RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at`, id, prefix).
		Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lastmile.Errorf(lastmile.ENOTFOUND, "no token with id or prefix %q (see lastmile token list)", idOrPrefix)
	}
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// Authenticate returns the principal of a token, or an unauthorized error
// when it is malformed, unknown or revoked. The stored hash is compared in
// constant time.
func (t *Tokens) Authenticate(ctx context.Context, secret string) (_ *auth.Principal, err error) {
	defer lastmile.Wrap(&err, "tokens.Authenticate")
	bad := lastmile.Errorf(lastmile.EUNAUTHORIZED, "the token is not valid (unknown, revoked or mistyped)")
	rest, ok := strings.CutPrefix(secret, TokenPrefix)
	prefix, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(prefix) != 8 {
		return nil, bad
	}
	var (
		p       auth.Principal
		hash    []byte
		revoked *time.Time
		used    *time.Time
	)
	err = t.pool.QueryRow(ctx, `SELECT id, name, scopes, hash, revoked_at, last_used_at
		FROM lastmile.api_tokens WHERE prefix = $1`, prefix).Scan(&p.TokenID, &p.Name, &p.Scopes, &hash, &revoked, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		subtle.ConstantTimeCompare(hashToken(secret), make([]byte, sha256.Size)) // same work either way
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hashToken(secret), hash) != 1 || revoked != nil {
		return nil, bad
	}
	if used == nil || time.Since(*used) > time.Minute {
		// Best effort, at most once a minute per token.
		t.pool.Exec(ctx, `UPDATE lastmile.api_tokens SET last_used_at = now() WHERE id = $1`, p.TokenID)
	}
	return &p, nil
}
