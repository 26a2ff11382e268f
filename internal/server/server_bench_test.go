package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCachedTile is the handler's cost for a tile already in the
// cache: routing, reading the metatile header and the tile, headers,
// metrics and the access log (to io.Discard).
func BenchmarkCachedTile(b *testing.B) {
	for _, access := range []bool{false, true} {
		name := "no-access-log"
		if access {
			name = "access-log"
		}
		b.Run(name, func(b *testing.B) {
			var accessLog *slog.Logger
			if access {
				accessLog = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			f := newFixture(b, func(o *Options) { o.AccessLog = accessLog })
			if code := f.get(b, "/styles/debug/12/2176/1436.png").Code; code != 200 {
				b.Fatalf("warm-up: %d", code)
			}
			req := httptest.NewRequest("GET", "/styles/debug/12/2177/1437.png", nil).WithContext(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
