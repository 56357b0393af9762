package postgis_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestTokens(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	tokens := postgis.NewTokens(pool, layer.Default())

	tok, secret, err := tokens.Create(ctx, "Water bureau", []string{"write:water_pipelines", "write:facilities"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "lm_"+tok.Prefix+"_") || len(secret) != len("lm_")+8+1+43 {
		t.Errorf("secret %q does not have the form lm_<prefix>_<43 chars>", secret)
	}
	_, secret2, _ := tokens.Create(ctx, "Analyst", []string{"read"})
	if secret2 == secret {
		t.Fatal("two tokens share a secret")
	}

	// Only the hash is stored.
	var stored []byte
	pool.QueryRow(ctx, `SELECT hash FROM lastmile.api_tokens WHERE id = $1`, tok.ID).Scan(&stored)
	var dump string
	pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM lastmile.api_tokens t`).Scan(&dump)
	if len(stored) != 32 || strings.Contains(dump, secret[12:]) || bytes.Contains(stored, []byte(secret)) {
		t.Errorf("the secret is stored in the clear: %s", dump)
	}

	p, err := tokens.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Water bureau" || p.TokenID != tok.ID || !p.Has("write:facilities") || p.Has("write:roads") || p.Has("read") {
		t.Errorf("principal %+v", p)
	}

	bad := []struct{ name, secret string }{
		{"empty", ""},
		{"no prefix", "abc"},
		{"wrong secret, right prefix", "lm_" + tok.Prefix + "_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"unknown prefix", "lm_ffffffff_x"},
		{"truncated", secret[:len(secret)-1]},
	}
	for _, b := range bad {
		if _, err := tokens.Authenticate(ctx, b.secret); lastmile.ErrorCode(err) != lastmile.EUNAUTHORIZED {
			t.Errorf("%s: Authenticate = %v, want unauthorized", b.name, err)
		}
	}

	// Revoke by prefix; the token stops working; revoking again is fine.
	if _, err := tokens.Revoke(ctx, tok.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(ctx, secret); lastmile.ErrorCode(err) != lastmile.EUNAUTHORIZED {
		t.Errorf("revoked token authenticates: %v", err)
	}
	if _, err := tokens.Revoke(ctx, "1"); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := tokens.Revoke(ctx, "999"); lastmile.ErrorCode(err) != lastmile.ENOTFOUND {
		t.Errorf("revoke unknown: %v", err)
	}
	list, err := tokens.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].RevokedAt == nil || list[1].RevokedAt != nil || list[0].LastUsedAt == nil ||
		!slices.Equal(list[0].Scopes, []string{"write:water_pipelines", "write:facilities"}) {
		t.Errorf("list %+v", list)
	}
}

func TestTokenScopes(t *testing.T) {
	tests := []struct {
		scopes []string
		ok     bool
	}{
		{[]string{"read"}, true},
		{[]string{"admin"}, true},
		{[]string{"write:roads", "write:villages"}, true},
		{nil, false},
		{[]string{"write:pipes"}, false},
		{[]string{"write"}, false},
		{[]string{"READ"}, false},
	}
	for _, tt := range tests {
		err := postgis.CheckScopes(layer.Default(), tt.scopes)
		if (err == nil) != tt.ok {
			t.Errorf("CheckScopes(%q) = %v, want ok=%v", tt.scopes, err, tt.ok)
		}
	}
}
