package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

func TestTokenCommand(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	runOut := func(args ...string) (string, error) {
		var out strings.Builder
		if len(args) >= 2 { // flags go before the positional arguments
			args = append([]string{args[0], args[1], "--database-url", url}, args[2:]...)
		}
		err := run(ctx, args, &out)
		return out.String(), err
	}

	out, err := runOut("token", "create", "--name", "Water bureau", "--scopes", "write:water_pipelines,write:facilities")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`lm_[0-9a-f]{8}_[A-Za-z0-9_-]{43}`).FindString(out)
	if secret == "" || !strings.Contains(out, "only time the token is shown") {
		t.Fatalf("create printed no token:\n%s", out)
	}

	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	p, err := postgis.NewTokens(pool, layer.Default()).Authenticate(ctx, secret)
	if err != nil || p.Name != "Water bureau" || !p.Has("write:facilities") {
		t.Fatalf("the printed token does not authenticate: %+v, %v", p, err)
	}

	out, err = runOut("token", "list")
	if err != nil || !regexp.MustCompile(`(?m)^1 +[0-9a-f]{8} +Water bureau +write:water_pipelines,write:facilities .* -\s*$`).MatchString(out) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if strings.Contains(out, secret[12:]) {
		t.Error("list shows the secret")
	}
	out, err = runOut("token", "revoke", "1")
	if err != nil || !strings.Contains(out, `revoked token 1 "Water bureau"`) {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if _, err := postgis.NewTokens(pool, layer.Default()).Authenticate(ctx, secret); err == nil {
		t.Error("a revoked token authenticates")
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--scopes", "read"}, "needs --name"},
		{[]string{"token", "create", "--name", "x", "--scopes", "write:pipes"}, `no layer "pipes"`},
		{[]string{"token", "create", "--name", "x"}, "at least one scope"},
		{[]string{"token", "revoke"}, "needs one token id or prefix"},
		{[]string{"token", "revoke", "77"}, "no token with id or prefix"},
		{[]string{"token", "frobnicate"}, "unknown token command"},
	}
	for _, b := range bad {
		if _, err := runOut(b.args...); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: error %v, want one containing %q", b.args, err, b.want)
		}
	}
}
