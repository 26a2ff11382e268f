package pagerender

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
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
// capture, held as Chromium's JPEG decodes (YCbCr) and as RGBA; then both
// AST sizes of the YCbCr capture at once, as a page load does.
func BenchmarkThumbnail(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testSource(), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	decoded, err := jpeg.Decode(&buf)
	if err != nil {
		b.Fatal(err)
	}
	for _, src := range []image.Image{decoded, testSource()} {
		b.Run(fmt.Sprintf("%T", src), func(b *testing.B) {
			for b.Loop() {
				Thumbnail(src, Large)
			}
		})
	}
	// The default sizes of a page load, made together, page after page,
	// as the pipeline makes them.
	b.Run("small+large", func(b *testing.B) {
		th := NewThumbnailer(Small, Large)
		for b.Loop() {
			th.Thumbnails(decoded, Small, Large)
		}
	})
}
