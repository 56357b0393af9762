package tiles

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
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
