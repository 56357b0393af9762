package server

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lastmile/lastmile/server/respond"
	"github.com/lastmile/lastmile/version"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// (no global registry: two servers in one test binary do not collide).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	failures *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// children caches the counter and histogram of each (route, method,
	// status) seen on the fast path: WithLabelValues hashes its labels on
	// every call.
	children sync.Map // childKey → *child
}

type childKey struct {
	route, method string
	status        int
}

type child struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// observeFast is observe for successful answers (status < 500) with the
// label lookups cached.
func (m *metrics) observeFast(route, method string, status int, d time.Duration) {
	k := childKey{route, method, status}
	c, ok := m.children.Load(k)
	if !ok {
		c, _ = m.children.LoadOrStore(k, &child{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route),
		})
	}
	c.(*child).requests.Inc()
	c.(*child).latency.Observe(d.Seconds())
}

func newMetrics(pool *pgxpool.Pool) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lastmile_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lastmile_http_failures_total",
			Help: "Failed HTTP requests (5xx, and 499 for a client that went away) by route, status and reason: timeout, unavailable, client_gone, internal.",
		}, []string{"route", "status", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lastmile_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	v := version.Get()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lastmile_build_info", Help: "The running binary: always 1, with its version, commit, build date and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": v.Version, "commit": v.Commit, "date": v.Date, "goversion": v.GoVersion},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(m.requests, m.failures, m.latency, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.registry.MustRegister(poolCollector{pool})
	}
	return m
}

func (m *metrics) observe(route, method string, status int, reason string, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, code).Inc()
	if status >= 500 || status == respond.StatusClientGone {
		if reason == "" {
			reason = respond.ReasonInternal // a 5xx not written by respond.Error (a panic cut short)
		}
		m.failures.WithLabelValues(route, code, reason).Inc()
	}
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// poolCollector reports pgxpool statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolTotal    = prometheus.NewDesc("lastmile_db_pool_connections", "Connections in the pool by state.", []string{"state"}, nil)
	poolAcquires = prometheus.NewDesc("lastmile_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("lastmile_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolMax      = prometheus.NewDesc("lastmile_db_pool_max_connections", "Largest pool size.", nil, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolTotal
	ch <- poolAcquires
	ch <- poolWaits
	ch <- poolMax
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
}

func slogLevel(status int) slog.Level {
	switch {
	case status == 503:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}
