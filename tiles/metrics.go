package tiles

import "github.com/prometheus/client_golang/prometheus"

// The tile cache's figures as Prometheus metrics (the server registers any
// mount that is a prometheus.Collector); /metrics needs a token with scope
// metrics, so these are not public.
var (
	cacheTilesDesc = prometheus.NewDesc("lastmile_tile_cache_tiles", "Tiles held in the tile cache.", nil, nil)
	cacheBytesDesc = prometheus.NewDesc("lastmile_tile_cache_bytes", "Bytes held in the tile cache.", nil, nil)
	cacheMaxDesc   = prometheus.NewDesc("lastmile_tile_cache_max_bytes", "Bytes the tile cache may hold (--tile-cache-bytes).", nil, nil)
	cacheCountDesc = prometheus.NewDesc("lastmile_tile_cache_events_total",
		"Tile cache events: hit, miss, eviction, invalidation (tiles dropped by edits), generated (tile queries run), batched (generated in one statement with others).",
		[]string{"event"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Service) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheTilesDesc
	ch <- cacheBytesDesc
	ch <- cacheMaxDesc
	ch <- cacheCountDesc
}

// Collect implements prometheus.Collector: the figures of Stats at scrape
// time.
func (s *Service) Collect(ch chan<- prometheus.Metric) {
	st := s.Stats()
	ch <- prometheus.MustNewConstMetric(cacheTilesDesc, prometheus.GaugeValue, float64(st.Tiles))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(cacheMaxDesc, prometheus.GaugeValue, float64(st.MaxBytes))
	for event, n := range map[string]uint64{"hit": st.Hits, "miss": st.Misses, "eviction": st.Evictions,
		"invalidation": st.Invalidated, "generated": st.Generated, "batched": st.Batched} {
		ch <- prometheus.MustNewConstMetric(cacheCountDesc, prometheus.CounterValue, float64(n), event)
	}
}
