package server

import (
	"context"
	"image"
	_ "image/jpeg"
	"net/http/httptest"
	"testing"
	"time"

	_ "golang.org/x/image/webp" // registers the WebP decoder

	"kiln/internal/maprender"
	"kiln/internal/staticmap"
)

func TestStaticMap(t *testing.T) {
	f := newFixture(t, withSampleData(t), func(o *Options) { o.StaticMaxSize = 1024 })
	for _, tc := range []struct {
		path string
		code int
		w, h int
		mime string
	}{
		{"/styles/debug/static/9.471078,47.04774,9.636217,47.27128/300x400.png", 200, 300, 400, "image/png"},
		{"/styles/debug/static/9.52,47.14,13/200x100@2x.png", 200, 400, 200, "image/png"},
		{"/styles/debug/static/9.52,47.14,13/200x100.jpg", 200, 200, 100, "image/jpeg"},
		{"/styles/debug/static/9.52,47.14,13/200x100.webp", 200, 200, 100, "image/webp"},
		{"/styles/debug/static/9.52,47.14,13/2000x100.png", 400, 0, 0, ""},
		{"/styles/debug/static/9.52,47.14,13/600x100@2x.png", 400, 0, 0, ""},
		{"/styles/debug/static/9.52,47.14/200x100.png", 400, 0, 0, ""},
		{"/styles/debug/static/9.64,47.04,9.47,47.27/200x100.png", 400, 0, 0, ""},
		{"/styles/debug/static/9.52,47.14,13/200x100.gif", 400, 0, 0, ""},
		{"/styles/debug/static/9.52,47.14,13/200x100", 400, 0, 0, ""},
		{"/styles/jpg/static/9.52,47.14,13/200x100.png", 404, 0, 0, ""},
		{"/styles/nope/static/9.52,47.14,13/200x100.png", 404, 0, 0, ""},
	} {
		w := f.get(t, tc.path)
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d: %s", tc.path, w.Code, tc.code, w.Body)
			continue
		}
		if tc.code != 200 {
			continue
		}
		if ct := w.Header().Get("Content-Type"); ct != tc.mime {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
		img, _, err := image.Decode(w.Body)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("%s: %v, want %dx%d", tc.path, b, tc.w, tc.h)
		}
	}
	// Revalidation.
	const path = "/styles/debug/static/9.52,47.14,13/200x100.png"
	etag := f.get(t, path).Header().Get("Etag")
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("If-None-Match", etag)
	if w := f.do(t, req); w.Code != 304 {
		t.Errorf("revalidation: %d", w.Code)
	}
}

// slowDrawer holds every drawing until released.
type slowDrawer struct{ release chan struct{} }

func (d slowDrawer) Draw(ctx context.Context, v maprender.View, dst *image.RGBA) error {
	select {
	case <-d.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestStaticMapBusy(t *testing.T) {
	slow := slowDrawer{make(chan struct{})}
	f := newFixture(t, func(o *Options) {
		o.Static = map[string]staticmap.Drawer{"debug": slow}
		o.StaticSlots, o.StaticWait, o.StaticTimeout = 1, 50*time.Millisecond, 200*time.Millisecond
	})
	done := make(chan int)
	go func() { done <- f.get(t, "/styles/debug/static/0,0,1/10x10.png").Code }()
	time.Sleep(20 * time.Millisecond)
	// The one slot is taken: the next waits, then is told to come back.
	w := f.get(t, "/styles/debug/static/0,0,2/10x10.png")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("second static map while busy: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	// The first runs into its deadline.
	if code := <-done; code != 503 {
		t.Errorf("a static map past its deadline: %d", code)
	}
	close(slow.release)
	if w := f.get(t, "/styles/debug/static/0,0,2/10x10.png"); w.Code != 200 {
		t.Errorf("after: %d", w.Code)
	}
}
