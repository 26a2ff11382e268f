package sprite

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

func sheetPNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 0, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte(`{"cafe": {"x": 2, "y": 3, "width": 4, "height": 5, "pixelRatio": 2},
		"dot": {"x": 0, "y": 0, "width": 1, "height": 1, "sdf": true}}`), sheetPNG(16, 16))
	if err != nil {
		t.Fatal(err)
	}
	cafe := s.Icons["cafe"]
	if s.Ratio != 2 || cafe.PixelRatio != 2 || cafe.Image.Bounds() != image.Rect(2, 3, 6, 8) || cafe.Image.NRGBAAt(2, 3).R != 2 {
		t.Errorf("cafe %+v ratio %g", cafe.Image.Bounds(), s.Ratio)
	}
	if d := s.Icons["dot"]; !d.SDF || d.PixelRatio != 1 {
		t.Errorf("dot %+v", d)
	}
	for _, tc := range []struct{ index, want string }{
		{`{"a": {"x": 10, "y": 10, "width": 10, "height": 10}}`, "not inside"},
		{`{"a": {"x": 0, "y": 0, "width": 0, "height": 10}}`, "not inside"},
		{`{"a": {"x": 0, "y": 0, "width": 1, "height": 1, "pixelRatio": -1}}`, "pixelRatio"},
		{`[1, 2]`, "sprite index"},
	} {
		if _, err := Parse([]byte(tc.index), sheetPNG(16, 16)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.index, err, tc.want)
		}
	}
	if _, err := Parse([]byte(`{}`), []byte("not a png")); err == nil {
		t.Error("a sheet that is not a PNG read")
	}
}

func TestSetPicksTheSheet(t *testing.T) {
	one, _ := Parse([]byte(`{"a": {"x": 0, "y": 0, "width": 2, "height": 2}, "only1": {"x": 0, "y": 0, "width": 1, "height": 1}}`), sheetPNG(4, 4))
	two, _ := Parse([]byte(`{"a": {"x": 0, "y": 0, "width": 4, "height": 4, "pixelRatio": 2}}`), sheetPNG(4, 4))
	set, err := NewSet(two, one, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ratio float64
		want  float64
	}{{"a", 1, 1}, {"a", 2, 2}, {"a", 3, 2}, {"only1", 2, 1}} {
		ic, ok := set.Icon(tc.name, tc.ratio)
		if !ok || ic.PixelRatio != tc.want {
			t.Errorf("%s at %g: %v ratio %g, want %g", tc.name, tc.ratio, ok, ic.PixelRatio, tc.want)
		}
	}
	if _, ok := set.Icon("none", 1); ok {
		t.Error("missing icon found")
	}
	if set.Sheet(2) != two || set.Sheet(3) != nil {
		t.Error("Sheet by ratio")
	}
	if _, err := NewSet(); err == nil {
		t.Error("empty set made")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"a": {"x": 1, "y": 1, "width": 2, "height": 2, "pixelRatio": 2}}`))
	f.Add([]byte(`{"a": {"x": -1, "y": 1, "width": 99999999999, "height": 2}}`))
	data := sheetPNG(8, 8)
	f.Fuzz(func(t *testing.T, index []byte) {
		s, err := Parse(index, data)
		if err != nil {
			return
		}
		for n, ic := range s.Icons {
			if !ic.Image.Bounds().In(image.Rect(0, 0, 8, 8)) || ic.Image.Bounds().Empty() || !(ic.PixelRatio > 0) {
				t.Fatalf("icon %q: %v ratio %g", n, ic.Image.Bounds(), ic.PixelRatio)
			}
		}
	})
}
