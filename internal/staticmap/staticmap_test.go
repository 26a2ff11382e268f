package staticmap

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"kiln/internal/defaultstyle"
	"kiln/internal/draw"
	"kiln/internal/golden"
	"kiln/internal/maprender"
	"kiln/internal/maptest"
	"kiln/internal/style"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		area, size string
		err        string // part of the error; "" for none
	}{
		{"9.47,47.04,9.64,47.27", "800x600", ""},
		{"9.52,47.14,13.5", "400x300@2x", ""},
		{"-180,-85,180,85", "1x1", ""},
		{"9.64,47.04,9.47,47.27", "800x600", "west < east"},
		{"9.47,47.27,9.64,47.04", "800x600", "south < north"},
		{"9.47,47.04,9.64,89", "800x600", "south < north"},
		{"9.52,47.14,23", "800x600", "zoom 23"},
		{"9.52,47.14,-1", "800x600", "zoom -1"},
		{"200,47.14,3", "800x600", "longitude"},
		{"9.52,47.14", "800x600", "want W,S,E,N or lon,lat,zoom"},
		{"9.52,abc,3", "800x600", `"abc" is not a number`},
		{"9.52,NaN,3", "800x600", "not a number"},
		{"9.52,47.14,13", "800", "want WxH"},
		{"9.52,47.14,13", "0x600", "want WxH"},
		{"9.52,47.14,13", "800x600@2", "want e.g. @2x"},
		{"9.52,47.14,13", "800x600@5x", "scale 5"},
		{"9.52,47.14,13", "4000x600", "the most is 2048"},
		{"9.52,47.14,13", "1500x600@2x", "the most is 2048"},
	} {
		var r Request
		err := r.ParseArea(tc.area)
		if err == nil {
			err = r.ParseSize(tc.size)
		}
		if err == nil {
			err = r.Check(2048)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %s: %v", tc.area, tc.size, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %s: error %v, want one saying %q", tc.area, tc.size, err, tc.err)
		}
	}
}

func TestView(t *testing.T) {
	// A centre and zoom: 512·2^z style pixels round the world.
	r := Request{Center: orb.Point{0, 0}, Zoom: 2, Width: 1024, Height: 512, Scale: 2}
	v := r.View()
	if v.Zoom != 2 || v.PixelRatio != 2 {
		t.Errorf("zoom %g ratio %g", v.Zoom, v.PixelRatio)
	}
	if w := v.Bound.Max[0] - v.Bound.Min[0]; math.Abs(w-halfWorld) > 1 { // 1024 of 2048 pixels
		t.Errorf("width %f m, want half the world", w)
	}
	// A box fills one side of the picture and is centred on the other.
	r = Request{BBox: orb.Bound{Min: orb.Point{9.47, 47.04}, Max: orb.Point{9.64, 47.27}}, Width: 800, Height: 400, Scale: 1}
	v = r.View()
	lo, hi := mercator(r.BBox.Min), mercator(r.BBox.Max)
	if math.Abs(v.Bound.Max[1]-hi[1]) > 1e-6 || math.Abs(v.Bound.Min[1]-lo[1]) > 1e-6 {
		t.Errorf("tall box: view %v does not span the box's height %v-%v", v.Bound, lo[1], hi[1])
	}
	if v.Bound.Min[0] > lo[0] || v.Bound.Max[0] < hi[0] {
		t.Errorf("view %v does not hold the box", v.Bound)
	}
	if aspect := (v.Bound.Max[0] - v.Bound.Min[0]) / (v.Bound.Max[1] - v.Bound.Min[1]); math.Abs(aspect-2) > 1e-9 {
		t.Errorf("view aspect %f, picture's 2", aspect)
	}
	// The whole world in a small picture: zoom 0 drawn smaller.
	if v := (Request{BBox: orb.Bound{Min: orb.Point{-180, -85}, Max: orb.Point{180, 85}}, Width: 256, Height: 256, Scale: 1}).View(); v.Zoom != 0 || v.PixelRatio > 0.51 {
		t.Errorf("world in 256 pixels: zoom %g ratio %g", v.Zoom, v.PixelRatio)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"9.47,47.04,9.64,47.27", "9.52,47.14,13.5", "1,2", "", "a,b,c,d", "1e308,1,1"} {
		f.Add(s, "800x600@2x")
	}
	f.Fuzz(func(t *testing.T, area, size string) {
		var r Request
		if r.ParseArea(area) != nil || r.ParseSize(size) != nil || r.Check(4096) != nil {
			return
		}
		w, h := r.Pixels()
		if w < 1 || h < 1 || w > 4096 || h > 4096 {
			t.Fatalf("%q %q accepted as %dx%d pixels", area, size, w, h)
		}
		v := r.View()
		if !(v.Zoom >= 0) || !(v.PixelRatio > 0) || !(v.Bound.Max[0] > v.Bound.Min[0]) || !(v.Bound.Max[1] > v.Bound.Min[1]) {
			t.Fatalf("%q %q: view %+v", area, size, v)
		}
	})
}

// TestLiechtenstein draws the whole country, as generate_image.py would
// have; look at testdata/liechtenstein.png after -update.
func TestLiechtenstein(t *testing.T) {
	st, err := style.Parse(defaultstyle.JSON())
	if err != nil {
		t.Fatal(err)
	}
	fonts, err := draw.NewFonts(draw.Embedded()...)
	if err != nil {
		t.Fatal(err)
	}
	icons, err := defaultstyle.Sprite()
	if err != nil {
		t.Fatal(err)
	}
	r := maprender.New(maptest.Sample(t), st, fonts, icons)
	req := Request{}
	if err := req.ParseArea("9.471078,47.04774,9.636217,47.27128"); err != nil {
		t.Fatal(err)
	}
	if err := req.ParseSize("400x600"); err != nil {
		t.Fatal(err)
	}
	if err := req.Check(2048); err != nil {
		t.Fatal(err)
	}
	img, err := Draw(context.Background(), r, req)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 400 || img.Bounds().Dy() != 600 {
		t.Fatalf("picture is %v", img.Bounds())
	}
	golden.Image(t, "liechtenstein.png", img, golden.Tolerance{Channel: 24, Pixels: 0.005})
}
