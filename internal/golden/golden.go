// Package golden compares images that tests produce with the golden PNGs
// in their testdata, with a tolerance, and rewrites them when the tests run
// with -update. Look at every rewritten PNG before committing it.
package golden

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden images in testdata")

// Tolerance bounds how far an image may stray from its golden copy.
type Tolerance struct {
	Channel int     // a pixel differs if any channel differs by more than this
	Pixels  float64 // fraction of pixels allowed to differ
}

// Image compares img with testdata/name (a PNG). On a mismatch it writes
// the image next to it as name.got.png, to look at.
func Image(t testing.TB, name string, img image.Image, tol Tolerance) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := write(path, img); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", path)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden image: %v (run with -update to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatalf("golden image %s: %v", path, err)
	}
	if diff, err := Diff(want, img, tol.Channel); err != nil || diff > tol.Pixels {
		got := path + ".got.png"
		write(got, img)
		if err != nil {
			t.Fatalf("%s: %v (got %s)", path, err, got)
		}
		t.Fatalf("%s: %.3f%% of pixels differ by more than %d, allowed %.3f%% (got %s)", path, 100*diff, tol.Channel, 100*tol.Pixels, got)
	}
}

// Diff is the fraction of pixels of a and b that differ by more than
// channel in some channel (non-premultiplied 8-bit).
func Diff(a, b image.Image, channel int) (float64, error) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 1, fmt.Errorf("size %v, want %v", b.Bounds().Size(), a.Bounds().Size())
	}
	ra, rb := a.Bounds(), b.Bounds()
	bad := 0
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			ca := color.NRGBAModel.Convert(a.At(ra.Min.X+x, ra.Min.Y+y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(rb.Min.X+x, rb.Min.Y+y)).(color.NRGBA)
			if far(ca.R, cb.R, channel) || far(ca.G, cb.G, channel) || far(ca.B, cb.B, channel) || far(ca.A, cb.A, channel) {
				bad++
			}
		}
	}
	return float64(bad) / float64(ra.Dx()*ra.Dy()), nil
}

func far(a, b uint8, d int) bool {
	v := int(a) - int(b)
	return v > d || -v > d
}

func write(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
