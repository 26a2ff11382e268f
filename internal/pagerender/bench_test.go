package pagerender

import (
	"context"
	"testing"
)

// BenchmarkCapture loads and captures a simple local page, one at a time:
// a page's whole cost (a new BrowserContext and its proxy, the load, the
// settle, the capture), the browser already started.
func BenchmarkCapture(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	mustCapture(b, f.r, Job{URL: f.url("/")}) // the browser starts
	for b.Loop() {
		if _, err := f.r.Capture(ctx, Job{URL: f.url("/")}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThumbnail cuts the large thumbnail (201x147) of a 1024x768
// capture.
func BenchmarkThumbnail(b *testing.B) {
	src := testSource()
	for b.Loop() {
		Thumbnail(src, Large)
	}
}
