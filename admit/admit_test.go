package admit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/server/respond"
)

func request(ip string, token int64) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/sites/rank", nil)
	r.RemoteAddr = ip + ":40000"
	if token != 0 {
		r = r.WithContext(auth.With(r.Context(), &auth.Principal{TokenID: token, Name: "t"}))
	}
	return r
}

func code(err error) string { return lastmile.ErrorCode(err) }

func TestAdmit(t *testing.T) {
	o := Options{Slots: 2, Queue: 1, Wait: 50 * time.Millisecond, PerClient: 1, Anonymous: 10 * time.Second}
	tests := []struct {
		name  string
		o     func(*Options)
		r     *http.Request
		cost  time.Duration
		code  string // "" admitted
		words string
	}{
		{"anonymous within the budget", nil, request("10.0.0.1", 0), 9 * time.Second, "", ""},
		{"anonymous over the budget", nil, request("10.0.0.1", 0), 80 * time.Second, lastmile.EFORBIDDEN, "would cost about 1m20s of database time, more than the 10s a request without a token may use"},
		{"a token over the budget", nil, request("10.0.0.1", 7), 80 * time.Second, "", ""},
		{"tokens required", func(o *Options) { o.RequireToken = true }, request("10.0.0.1", 0), time.Millisecond, lastmile.EUNAUTHORIZED, "only with a token"},
		{"tokens required, token given", func(o *Options) { o.RequireToken = true }, request("10.0.0.1", 7), time.Millisecond, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oo := o
			if tt.o != nil {
				tt.o(&oo)
			}
			release, err := New(oo).Admit(tt.r, "this ranking", tt.cost)
			if code(err) != tt.code || (tt.words != "" && !strings.Contains(err.Error(), tt.words)) {
				t.Fatalf("err = %v, want %q %q", err, tt.code, tt.words)
			}
			if err == nil {
				release()
			}
		})
	}
}

// TestAdmitLimits: one expensive request per client at once, two per
// server with one waiting; the rest are 503 at once or after the wait, and
// a release lets the next one in.
func TestAdmitLimits(t *testing.T) {
	g := New(Options{Slots: 2, Queue: 1, Wait: 100 * time.Millisecond, PerClient: 1})
	a, err := g.Admit(request("10.0.0.1", 0), "q", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(request("10.0.0.1", 0), "q", 0); code(err) != lastmile.EUNAVAILABLE || !strings.Contains(err.Error(), "already have 1 expensive request") {
		t.Fatalf("second from the same IP: %v", err)
	}
	b, err := g.Admit(request("10.0.0.1", 5), "q", 0) // same IP, but a token: another client
	if err != nil {
		t.Fatal(err)
	}
	// Both slots taken: a third client waits, and gets one when a is released.
	done := make(chan error)
	go func() {
		c, err := g.Admit(request("10.0.0.3", 0), "q", 0)
		if err == nil {
			c()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	// The queue (1) is full now: a fourth is refused at once.
	if _, err := g.Admit(request("10.0.0.4", 0), "q", 0); code(err) != lastmile.EUNAVAILABLE || !strings.Contains(err.Error(), "2 running, 1 waiting") {
		t.Fatalf("fourth with the queue full: %v", err)
	}
	a()
	a() // twice is harmless
	if err := <-done; err != nil {
		t.Fatalf("the waiting client after a release: %v", err)
	}
	// One slot is free again (b holds the other): the wait runs out only when none is.
	c, err := g.Admit(request("10.0.0.1", 0), "q", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := g.Admit(request("10.0.0.5", 0), "q", 0); code(err) != lastmile.EUNAVAILABLE || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("no slot within the wait: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Admit(request("10.0.0.6", 0).WithContext(ctx), "q", 0); err != context.Canceled {
		t.Fatalf("a client gone while waiting: %v", err)
	}
	b()
	c()
	if len(g.clients) != 0 || len(g.slots) != 0 {
		t.Errorf("after every release: clients %v, %d slots taken", g.clients, len(g.slots))
	}
}

func TestCache(t *testing.T) {
	c := NewCache(1000, time.Hour)
	calls := 0
	answer := func(status int, body string) func(http.ResponseWriter) error {
		return func(w http.ResponseWriter) error {
			calls++
			w.Header().Set("Content-Type", "text/csv")
			w.WriteHeader(status)
			_, err := w.Write([]byte(body))
			return err
		}
	}
	serve := func(key string, fn func(http.ResponseWriter) error) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		if err := c.Serve(rec, key, fn); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	k := Key("stats", "coverage", "group_by=township")
	if rec := serve(k, answer(200, "a,b\n")); rec.Header().Get("Lastmile-Cache") != "MISS" || rec.Body.String() != "a,b\n" {
		t.Fatalf("first: %v %q", rec.Header(), rec.Body)
	}
	rec := serve(k, answer(200, "other"))
	if rec.Header().Get("Lastmile-Cache") != "HIT" || rec.Body.String() != "a,b\n" || rec.Header().Get("Content-Type") != "text/csv" || calls != 1 {
		t.Fatalf("repeated: %v %q, %d calls", rec.Header(), rec.Body, calls)
	}
	if Key("a", "bc") == Key("ab", "c") {
		t.Error("keys of different parts collide")
	}
	c.Changed()
	if rec := serve(k, answer(200, "new")); rec.Header().Get("Lastmile-Cache") != "MISS" || rec.Body.String() != "new" {
		t.Fatalf("after a change: %v %q", rec.Header(), rec.Body)
	}
	serve("bad", answer(400, "no"))
	if rec := serve("bad", answer(400, "no")); rec.Header().Get("Lastmile-Cache") != "MISS" {
		t.Error("a 400 was cached")
	}
	serve("big", answer(200, strings.Repeat("x", 200))) // over max/8
	if rec := serve("big", answer(200, "x")); rec.Header().Get("Lastmile-Cache") != "MISS" {
		t.Error("an answer over an eighth of the cache was kept")
	}
	for i := range 20 { // 20 × 100 bytes: the oldest go
		serve(fmt.Sprint(i), answer(200, strings.Repeat("y", 100)))
	}
	if c.size > 1000 || c.order.Len() != 10 {
		t.Errorf("cache of %d bytes, %d entries; want at most 1000 bytes", c.size, c.order.Len())
	}
	short := NewCache(1000, time.Nanosecond)
	rec = httptest.NewRecorder()
	short.Serve(rec, "k", answer(200, "v"))
	time.Sleep(time.Millisecond)
	rec = httptest.NewRecorder()
	short.Serve(rec, "k", answer(200, "v"))
	if rec.Header().Get("Lastmile-Cache") != "MISS" {
		t.Error("an entry outlived its TTL")
	}
	var nilCache *Cache
	rec = httptest.NewRecorder()
	if err := nilCache.Serve(rec, "k", answer(200, "v")); err != nil || rec.Body.String() != "v" {
		t.Errorf("nil cache: %v %q", err, rec.Body)
	}
}

// TestClientBehindProxy: behind a trusted proxy each client is its own
// (X-Forwarded-For / Forwarded, right-most untrusted address), not the
// proxy; a client that is not a trusted proxy cannot become another client,
// or many, by sending forwarding headers; an IPv6 client is its /64.
func TestClientBehindProxy(t *testing.T) {
	links := &respond.Links{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	via := func(peer string, header ...string) *http.Request {
		r := request(peer, 0)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		return r.WithContext(respond.WithLinks(r.Context(), links))
	}
	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"direct", via("203.0.113.5"), "ip:203.0.113.5"},
		{"through the proxy", via("10.0.0.2", "X-Forwarded-For", "198.51.100.1"), "ip:198.51.100.1"},
		{"through the proxy, spoofed left entries", via("10.0.0.2", "X-Forwarded-For", "9.9.9.9, 198.51.100.1"), "ip:198.51.100.1"},
		{"through the proxy, Forwarded", via("10.0.0.2", "Forwarded", "for=198.51.100.7"), "ip:198.51.100.7"},
		{"spoofed by an untrusted peer", via("203.0.113.5", "X-Forwarded-For", "198.51.100.1"), "ip:203.0.113.5"},
		{"spoofed Forwarded by an untrusted peer", via("203.0.113.5", "Forwarded", "for=198.51.100.1"), "ip:203.0.113.5"},
		{"IPv6 by its /64", via("10.0.0.2", "X-Forwarded-For", "2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64"},
		{"IPv6, another address of the /64", via("10.0.0.2", "X-Forwarded-For", "2001:db8:1:2:bbbb::9"), "ip:2001:db8:1:2::/64"},
		{"a token wins", via("10.0.0.2", "X-Forwarded-For", "198.51.100.1").WithContext(auth.With(
			respond.WithLinks(context.Background(), links), &auth.Principal{TokenID: 7})), "token:7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Client(tt.r); got != tt.want {
				t.Errorf("Client = %q, want %q", got, tt.want)
			}
		})
	}

	g := New(Options{Slots: 8, Queue: 1, Wait: 10 * time.Millisecond, PerClient: 1})
	// Two clients behind one proxy each get their share.
	a, err := g.Admit(via("10.0.0.2", "X-Forwarded-For", "198.51.100.1"), "q", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a()
	b, err := g.Admit(via("10.0.0.2", "X-Forwarded-For", "198.51.100.2"), "q", 0)
	if err != nil {
		t.Fatalf("a second client behind the same proxy: %v", err)
	}
	defer b()
	if _, err := g.Admit(via("10.0.0.3", "X-Forwarded-For", "198.51.100.1"), "q", 0); code(err) != lastmile.EUNAVAILABLE {
		t.Fatalf("the first client again, through another proxy: %v, want 503", err)
	}
	// An untrusted peer rotating spoofed addresses is one client.
	c, err := g.Admit(via("203.0.113.5", "X-Forwarded-For", "192.0.2.1"), "q", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c()
	for _, spoof := range []string{"192.0.2.2", "198.51.100.9", "10.0.0.2", "2001:db8::1"} {
		for _, h := range []string{"X-Forwarded-For", "Forwarded"} {
			v := spoof
			if h == "Forwarded" {
				v = `for="` + spoof + `"`
			}
			if _, err := g.Admit(via("203.0.113.5", h, v), "q", 0); code(err) != lastmile.EUNAVAILABLE || !strings.Contains(err.Error(), "already have 1 expensive request") {
				t.Fatalf("untrusted peer with %s: %s: %v, want its own limit", h, v, err)
			}
		}
	}
	// Nor did it use up the share of a client whose address it sent.
	d, err := g.Admit(via("10.0.0.2", "X-Forwarded-For", "198.51.100.9"), "q", 0)
	if err != nil {
		t.Fatalf("a client whose address an untrusted peer spoofed: %v", err)
	}
	d()
}
