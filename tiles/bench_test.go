package tiles

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/lastmile/lastmile/server"
)

// BenchmarkCachedTile measures the handler's cost for a cached tile (no
// middleware, no network): go test ./tiles -run X -bench CachedTile.
func BenchmarkCachedTile(b *testing.B) {
	h := newHarness(b, Options{CacheBytes: 1 << 20})
	r := mux.NewRouter()
	h.svc.Register(r)
	for _, bc := range []struct{ name, path string }{
		{"one layer", tilePath("roads", tileAt(106.63, 26.605, 14), "")},
		{"filtered", tilePath("roads", tileAt(106.63, 26.605, 14), "status=completed&surface=asphalt")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			r.ServeHTTP(httptest.NewRecorder(), req) // warm
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkCachedTileServer is BenchmarkCachedTile behind the server's
// whole middleware chain.
func BenchmarkCachedTileServer(b *testing.B) {
	h := newHarness(b, Options{CacheBytes: 1 << 20})
	var opts server.Options
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	opts.RegisterFlags(fs)
	srv := server.New(opts, server.Deps{Pool: h.pool, Catalog: h.catalog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Mounts: []server.Mount{h.svc}})
	handler := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, tilePath("roads", tileAt(106.63, 26.605, 14), ""), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	handler.ServeHTTP(httptest.NewRecorder(), req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
