package pagerender

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"kiln/internal/imgenc"
)

func TestParseSizeAndFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"small", Small, true}, {"LARGE", Large, true}, {"", Large, true}, {"320x100", Size{320, 100}, true},
		{"huge", Size{}, false}, {"0x10", Size{}, false}, {"5000x10", Size{}, false}, {"10x", Size{}, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want imgenc.Format
		ok   bool
	}{
		{"", imgenc.JPEG, true}, {"jpg", imgenc.JPEG, true}, {"JPEG", imgenc.JPEG, true}, {"png", imgenc.PNG, true},
		{"webp", imgenc.WebP, true}, {"png8", 0, false}, {"gif", 0, false},
	} {
		got, err := ParseFormat(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFormat(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestHalveYCbCr: halving a 4:2:0 capture straight from YCbCr gives the
// pixels of converting it to RGBA, then halving, within rounding; so does
// Thumbnail, which takes that way for such captures. (Where a block's
// pixels fall out of the RGB gamut, clamped one at a time or once, the
// two differ: averaging in YCbCr is what the JPEG encoder did to chroma.)
func TestHalveYCbCr(t *testing.T) {
	var buf bytes.Buffer
	// Colours that change every few pixels, both ways, so that a block
	// given another block's luma or chroma shows; in gamut, so that the
	// two ways round, which clamp at different steps, agree.
	src := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for y := range 768 {
		for x := range 1024 {
			fx, fy := float64(x), float64(y)
			i := src.PixOffset(x, y)
			src.Pix[i] = uint8(128 + 60*math.Sin(fx/7))
			src.Pix[i+1] = uint8(128 + 60*math.Cos(fy/5))
			src.Pix[i+2] = uint8(128 + 50*math.Sin((fx+fy)/11))
			src.Pix[i+3] = 0xff
		}
	}
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	decoded, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	yc, ok := decoded.(*image.YCbCr)
	if !ok || yc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		t.Fatalf("decoded as %T", decoded)
	}
	for _, r := range []image.Rectangle{yc.Bounds(), image.Rect(0, 0, 1024, 749), image.Rect(2, 4, 301, 201)} {
		want := halve(toRGBA(yc, r))
		got := halveYCbCr(nil, yc, r)
		if got.Rect != want.Rect {
			t.Fatalf("%v: bounds %v, want %v", r, got.Rect, want.Rect)
		}
		if d := maxDiff(got, want); d > 2 {
			t.Errorf("%v: differs by up to %d", r, d)
		}
		// Into a used buffer, larger and of another shape: every pixel
		// is written.
		dirty := image.NewRGBA(image.Rect(0, 0, 700, 500))
		for i := range dirty.Pix {
			dirty.Pix[i] = 0x5a
		}
		if d := maxDiff(halveYCbCr(dirty, yc, r), got); d != 0 {
			t.Errorf("%v: into a used buffer, differs by up to %d", r, d)
		}
	}
	sizes := []Size{Small, Large, {320, 100}, {100, 300}}
	for _, s := range sizes {
		if d := maxDiff(Thumbnail(yc, s), Thumbnail(toRGBA(yc, yc.Bounds()), s)); d > 2 {
			t.Errorf("%v: the thumbnail of YCbCr differs from RGBA's by up to %d", s, d)
		}
	}
	// Made together, the sizes share one halving, as tall as the tallest
	// needs: each is the same, pixel for pixel, as made alone.
	for i, th := range NewThumbnailer().Thumbnails(yc, sizes...) {
		if d := maxDiff(th, Thumbnail(yc, sizes[i])); d != 0 {
			t.Errorf("%v: made with the other sizes, differs by up to %d from made alone", sizes[i], d)
		}
	}
	// A Thumbnailer keeps its filters and halving buffer from one capture
	// to the next, and for other captures in between: the thumbnails stay
	// the same, pixel for pixel.
	th := NewThumbnailer(sizes...)
	other := image.NewYCbCr(image.Rect(0, 0, 1024, 1500), image.YCbCrSubsampleRatio420)
	for range 3 {
		for i, got := range th.Thumbnails(yc, sizes...) {
			if d := maxDiff(got, Thumbnail(yc, sizes[i])); d != 0 {
				t.Errorf("%v: made by a used Thumbnailer, differs by up to %d", sizes[i], d)
			}
		}
		th.Thumbnails(other, sizes...)
	}
	// Sizes it was not made for are cut without keeping: asked by anyone,
	// they cannot crowd out the kept ones.
	kept := NewThumbnailer(Large)
	for w := 100; w < 100+2*maxFilters; w++ {
		kept.Thumbnail(yc, Size{w, 50})
	}
	kept.Thumbnail(yc, Large)
	if len(kept.filters) != 1 {
		t.Errorf("%d filters kept, want Large's alone", len(kept.filters))
	}
}

func maxDiff(a, b *image.RGBA) int {
	d := 0
	for i := range a.Pix {
		d = max(d, int(a.Pix[i])-int(b.Pix[i]), int(b.Pix[i])-int(a.Pix[i]))
	}
	return d
}
