// Package admit bounds what the expensive questions (grid rankings, network
// coverage, yearly series) can cost the server: each is admitted by its
// estimated real cost, a client may run only so many at once (by token,
// else by IP address), the server runs only so many at once with a short
// bounded queue behind them (then 503 with Retry-After), and answers to
// repeated questions come from a cache keyed by the normalised parameters
// and the data's change generation.
package admit

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/lastmile/lastmile"
	"github.com/lastmile/lastmile/auth"
	"github.com/lastmile/lastmile/server/respond"
)

// Options configure a Gate.
type Options struct {
	Slots        int           // expensive requests running at once, server-wide
	Queue        int           // expensive requests waiting for a slot, at most
	Wait         time.Duration // longest wait for a slot
	PerClient    int           // expensive requests of one client (token or IP) at once
	Anonymous    time.Duration // estimated cost an anonymous request may have
	RequireToken bool          // expensive questions need a token
	CacheBytes   int64         // answers cached, in bytes (0: no cache)
	CacheTTL     time.Duration // longest life of a cached answer (changes through lastmile end it sooner)
}

// RegisterFlags adds the options' flags to fs, with their defaults.
func (o *Options) RegisterFlags(fs interface {
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	BoolVar(*bool, string, bool, string)
	Int64Var(*int64, string, int64, string)
}) {
	fs.IntVar(&o.Slots, "expensive-slots", max(1, runtime.GOMAXPROCS(0)/2), "expensive requests (grid rankings, network coverage, yearly series) running at once, server-wide")
	fs.IntVar(&o.Queue, "expensive-queue", 4, "expensive requests waiting for a slot; beyond it 503 with Retry-After")
	fs.DurationVar(&o.Wait, "expensive-wait", 2*time.Second, "longest wait of an expensive request for a slot, then 503 with Retry-After")
	fs.IntVar(&o.PerClient, "expensive-per-client", 1, "expensive requests one client (its token, else its address: the peer, or behind --trusted-proxies the forwarded one) may run at once")
	fs.DurationVar(&o.Anonymous, "anonymous-cost", 10*time.Second, "estimated database time an expensive request without a token may cost (more: 403 naming the estimate)")
	fs.BoolVar(&o.RequireToken, "expensive-requires-token", false, "expensive requests need a token (any scope): for public deployments")
	fs.Int64Var(&o.CacheBytes, "answer-cache", 64<<20, "bytes of statistics and ranking answers kept for repeated questions (0: off)")
	fs.DurationVar(&o.CacheTTL, "answer-cache-ttl", 5*time.Minute, "longest life of a cached answer (a change through lastmile ends it at once)")
}

// Gate admits expensive requests. The zero value is not usable; use New.
type Gate struct {
	o       Options
	slots   chan struct{}
	mu      sync.Mutex
	waiting int
	clients map[string]int
	cache   *Cache
}

// New returns a gate with o's limits.
func New(o Options) *Gate {
	o.Slots = max(1, o.Slots)
	o.PerClient = max(1, o.PerClient)
	g := &Gate{o: o, slots: make(chan struct{}, o.Slots), clients: map[string]int{}}
	if o.CacheBytes > 0 {
		g.cache = NewCache(o.CacheBytes, o.CacheTTL)
	}
	return g
}

// Cache is the gate's answer cache (nil when off).
func (g *Gate) Cache() *Cache {
	if g == nil {
		return nil
	}
	return g.cache
}

// Changed starts a new data generation: every cached answer is stale.
// Wire it to postgis.Store.OnChange.
func (g *Gate) Changed() {
	if g != nil && g.cache != nil {
		g.cache.Changed()
	}
}

// Client names who asks: "token:<id>" with a token, else "ip:<address>" —
// the client's address as respond.ClientAddr decides it (behind a trusted
// proxy, from X-Forwarded-For or Forwarded), an IPv6 address by its /64
// (one subscriber's network: a client rotating through its addresses is
// still one client).
func Client(r *http.Request) string {
	if p := auth.From(r.Context()); p != nil {
		return "token:" + strconv.FormatInt(p.TokenID, 10)
	}
	host := respond.ClientAddr(r)
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "ip:" + netip.PrefixFrom(a, 64).Masked().String()
	}
	return "ip:" + host
}

// Admit admits an expensive request whose estimated cost is cost (what
// names the question in messages), or says why not: 401 when tokens are
// required, 403 when an anonymous request's estimate is over the budget,
// 503 with Retry-After when the client already runs its share or the
// server's slots and queue are full. release must be called when done.
func (g *Gate) Admit(r *http.Request, what string, cost time.Duration) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	anonymous := auth.From(r.Context()) == nil
	if anonymous && g.o.RequireToken {
		return nil, lastmile.Errorf(lastmile.EUNAUTHORIZED, "%s is an expensive question; this server answers it only with a token (Authorization: Bearer …)", what)
	}
	if anonymous && g.o.Anonymous > 0 && cost > g.o.Anonymous {
		return nil, &lastmile.Error{Code: lastmile.EFORBIDDEN,
			Message: fmt.Sprintf("%s would cost about %s of database time, more than the %s a request without a token may use; ask a smaller question (a larger cell_m, a smaller area, fewer candidates) or use a token", what, round(cost), g.o.Anonymous),
			Details: []lastmile.Problem{{Field: "cost", Value: round(cost).String(), Message: "estimated from the number of candidates × the measured cost of one"}}}
	}
	client := Client(r)
	g.mu.Lock()
	if g.clients[client] >= g.o.PerClient {
		g.mu.Unlock()
		return nil, lastmile.Errorf(lastmile.EUNAVAILABLE, "you already have %d expensive request(s) running, the most one client may; try again when it has finished", g.o.PerClient)
	}
	g.clients[client]++
	g.mu.Unlock()
	leave := func() {
		g.mu.Lock()
		if g.clients[client]--; g.clients[client] <= 0 {
			delete(g.clients, client)
		}
		g.mu.Unlock()
	}
	if err := g.acquire(r.Context()); err != nil {
		leave()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { <-g.slots; leave() }) }, nil
}

func (g *Gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.mu.Lock()
	if g.waiting >= g.o.Queue {
		g.mu.Unlock()
		return lastmile.Errorf(lastmile.EUNAVAILABLE, "the server is busy with expensive requests (%d running, %d waiting); try again shortly", g.o.Slots, g.o.Queue)
	}
	g.waiting++
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.waiting--; g.mu.Unlock() }()
	t := time.NewTimer(g.o.Wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return lastmile.Errorf(lastmile.EUNAVAILABLE, "the server is busy with expensive requests (no slot free within %s); try again shortly", g.o.Wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}
