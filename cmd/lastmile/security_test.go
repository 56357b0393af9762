package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/postgis"
	"github.com/lastmile/lastmile/postgis/pgtest"
)

// TestEveryWriteRouteNeedsTheLayerScope walks every write route with every
// kind of caller, through the fully wired server, and checks that a refused
// write changes nothing.
func TestEveryWriteRouteNeedsTheLayerScope(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	pool, err := postgis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tokens := postgis.NewTokens(pool, layer.Default())
	secret := map[string]string{"none": "", "bogus": "lm_00000000_" + strings.Repeat("A", 43)}
	for name, scopes := range map[string][]string{
		"read": {"read"}, "wrong layer": {"write:water_pipelines"}, "right layer": {"write:roads"}, "admin": {"admin"},
	} {
		_, s, err := tokens.Create(ctx, name, scopes)
		if err != nil {
			t.Fatal(err)
		}
		secret[name] = s
	}

	ctx, cancel := context.WithCancel(ctx)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--database-url", url}, out) }()
	defer func() { cancel(); <-done }()
	base := waitServing(t, out, done)

	call := func(caller, method, path, body string, header ...string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if s := secret[caller]; s != "" {
			req.Header.Set("Authorization", "Bearer "+s)
		}
		req.Header.Set("Content-Type", "application/geo+json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	feature := `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[117.1,37.2],[117.11,37.21]]},"properties":{"status":"completed","surface":"cement"}}`
	collection := `{"type":"FeatureCollection","features":[` + strings.Replace(feature, `"status"`, `"name":"imported","status"`, 1) + `]}`
	create := func() (int64, string) {
		status, body := call("admin", "POST", "/ogc/collections/roads/items", feature)
		if status != 201 {
			t.Fatalf("admin create: %d %s", status, body)
		}
		var f struct{ ID int64 }
		if err := json.Unmarshal([]byte(body), &f); err != nil || f.ID < 1 {
			t.Fatalf("admin create answered %s: %v", body, err)
		}
		return f.ID, `"1"`
	}
	state := func() string {
		var s string
		pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lastmile.roads) || '/' || (SELECT count(*) FROM lastmile.feature_history)`).Scan(&s)
		return s
	}

	// Each route prepares its target (as admin) and returns the request to
	// make: method, path, body and headers.
	type request struct {
		method, path, body string
		header             []string
	}
	item := func(method, body string, header ...string) func() request {
		return func() request {
			id, etag := create()
			return request{method, fmt.Sprintf("/ogc/collections/roads/items/%d", id), body, append(header, "If-Match", etag)}
		}
	}
	routes := []struct {
		name    string
		prepare func() request
	}{
		{"POST items", func() request { return request{"POST", "/ogc/collections/roads/items", feature, nil} }},
		{"PUT item", item("PUT", feature)},
		{"PATCH item", item("PATCH", `{"properties":{"surface":"asphalt"}}`, "Content-Type", "application/merge-patch+json")},
		{"DELETE item", item("DELETE", "")},
		{"POST import", func() request { return request{"POST", "/api/import/roads?format=geojson", collection, nil} }},
	}
	want := map[string]int{"none": 401, "bogus": 401, "read": 403, "wrong layer": 403, "right layer": 200, "admin": 200}
	for _, rt := range routes {
		for _, caller := range []string{"none", "bogus", "read", "wrong layer", "right layer", "admin"} {
			t.Run(rt.name+"/"+caller, func(t *testing.T) {
				req := rt.prepare()
				before := state()
				got, body := call(caller, req.method, req.path, req.body, req.header...)
				if want[caller] == 200 {
					if got < 200 || got > 299 {
						t.Fatalf("%d %s, want 2xx", got, body)
					}
					return
				}
				if got != want[caller] {
					t.Fatalf("%d %s, want %d", got, body, want[caller])
				}
				if after := state(); after != before {
					t.Fatalf("a refused write changed rows/history %s → %s", before, after)
				}
			})
		}
	}
	// A revoked token is refused.
	list, _ := tokens.List(ctx)
	for _, tok := range list {
		if tok.Name == "admin" {
			if _, err := tokens.Revoke(ctx, fmt.Sprint(tok.ID)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if status, _ := call("admin", "POST", "/ogc/collections/roads/items", feature); status != 401 {
		t.Errorf("revoked token: %d", status)
	}
}

// waitServing waits for serve to print its URL.
func waitServing(t testing.TB, out *syncBuffer, done chan error) string {
	t.Helper()
	for i := 0; i < 600; i++ {
		if m := servingURL.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v", err)
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("serve did not start")
	return ""
}
