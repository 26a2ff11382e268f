package imgenc

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"testing"

	"golang.org/x/image/vector"
	"golang.org/x/image/webp"
)

// scene draws a map-like test image: a flat background, antialiased
// polygons in a few colours (many edge shades), and a smooth gradient strip.
func scene(size int, alpha bool) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := color.RGBA{242, 239, 233, 255}
	if alpha {
		bg = color.RGBA{}
	}
	draw.Draw(img, img.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	colors := []color.RGBA{{170, 211, 223, 255}, {200, 250, 204, 255}, {232, 146, 162, 255}, {60, 60, 60, 255}, {255, 255, 255, 255}}
	s := float32(size)
	for i := range 40 {
		r := vector.NewRasterizer(size, size)
		cx, cy := s*float32((i*37)%100)/100, s*float32((i*61)%100)/100
		rad := s * (0.03 + float32(i%7)/60)
		r.MoveTo(cx, cy-rad)
		for k := 1; k < 7; k++ {
			a := float64(k) * 2 * math.Pi / 7
			rr := rad * float32(1+0.4*math.Sin(float64(i+k)))
			r.LineTo(cx+rr*float32(math.Sin(a)), cy-rr*float32(math.Cos(a)))
		}
		r.ClosePath()
		r.Draw(img, img.Rect, image.NewUniform(colors[i%len(colors)]), image.Point{})
	}
	for x := range size {
		for y := size * 7 / 8; y < size; y++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / size), 128, uint8(255 - x*255/size), 255})
		}
	}
	return img
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ext  string
		mime string
	}{
		{"png", PNG, "png", "image/png"},
		{"PNG8", PNG8, "png", "image/png"},
		{"jpeg", JPEG, "jpg", "image/jpeg"},
		{"jpg", JPEG, "jpg", "image/jpeg"},
		{"webp", WebP, "webp", "image/webp"},
	}
	for _, tc := range tests {
		f, err := ParseFormat(tc.in)
		if err != nil || f != tc.want || f.Ext() != tc.ext || f.MIME() != tc.mime {
			t.Errorf("ParseFormat(%q) = %v (%s, %s), %v", tc.in, f, f.Ext(), f.MIME(), err)
		}
	}
	for _, bad := range []string{"", "gif", "png32", "tiff"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) succeeded", bad)
		}
	}
	if !JPEG.MatchesExt("jpeg") || !JPEG.MatchesExt("jpg") || PNG8.MatchesExt("png8") {
		t.Error("MatchesExt")
	}
}

// meanError is the mean absolute difference per channel of two images.
func meanError(a, b image.Image) float64 {
	var sum float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c1 := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA)
			c2 := color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			if c1.A == 0 && c2.A == 0 {
				continue
			}
			sum += math.Abs(float64(c1.R)-float64(c2.R)) + math.Abs(float64(c1.G)-float64(c2.G)) +
				math.Abs(float64(c1.B)-float64(c2.B)) + math.Abs(float64(c1.A)-float64(c2.A))
		}
	}
	return sum / float64(4*r.Dx()*r.Dy())
}

func TestRoundTrip(t *testing.T) {
	decode := map[Format]func([]byte) (image.Image, error){
		PNG:  func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		PNG8: func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		JPEG: func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		WebP: func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	}
	tests := []struct {
		name    string
		format  Format
		alpha   bool
		maxMean float64
	}{
		{"png exact", PNG, false, 0},
		{"png with alpha", PNG, true, 0},
		{"png8", PNG8, false, 1.0},
		{"png8 with alpha", PNG8, true, 2.0},
		{"jpeg", JPEG, false, 3.0},
		{"webp lossless", WebP, false, 0},
		{"webp with alpha", WebP, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := scene(256, tc.alpha)
			b, err := New(tc.format, 0).Bytes(src)
			if err != nil {
				t.Fatal(err)
			}
			img, err := decode[tc.format](b)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds() != src.Bounds() {
				t.Fatalf("bounds %v", img.Bounds())
			}
			if e := meanError(src, img); e > tc.maxMean {
				t.Errorf("mean error %.3f per channel, want at most %.1f", e, tc.maxMean)
			}
			if tc.format == PNG8 {
				if _, ok := img.(*image.Paletted); !ok {
					t.Errorf("png8 decoded as %T, want a paletted image", img)
				}
			}
		})
	}
}

func TestQuantizeFewColorsExact(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			// 200 distinct colours, each in its own histogram cell.
			i := (x + 64*y) % 200
			img.SetRGBA(x, y, color.RGBA{uint8(i/25*32 + 4), uint8(i%25*8 + 2), 200, 255})
		}
	}
	var q Quantizer
	p := q.Quantize(img)
	if len(p.Palette) != 200 {
		t.Errorf("%d palette entries, want 200", len(p.Palette))
	}
	if e := meanError(img, p); e != 0 {
		t.Errorf("mean error %.3f, want exact colours", e)
	}
	// The scratch space is clean for the next image.
	if e := meanError(img, q.Quantize(img)); e != 0 {
		t.Errorf("second run: mean error %.3f", e)
	}
}

func BenchmarkEncode256(b *testing.B) {
	img := scene(256, false)
	for _, f := range []Format{PNG, PNG8, JPEG, WebP} {
		b.Run(f.String(), func(b *testing.B) {
			e := New(f, 0)
			var n int
			for b.Loop() {
				out, err := e.Bytes(img)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

func BenchmarkQuantize256(b *testing.B) {
	img := scene(256, false)
	var q Quantizer
	b.ReportAllocs()
	for b.Loop() {
		q.Quantize(img)
	}
}

// mapTile is a real map tile (kiln's default style, Vaduz at zoom 15).
func mapTile(tb testing.TB) *image.RGBA {
	tb.Helper()
	f, err := os.Open("testdata/map-tile.png")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	img := image.NewRGBA(im.Bounds())
	draw.Draw(img, img.Bounds(), im, image.Point{}, draw.Src)
	return img
}

// TestMapTile encodes a real map tile in every format and decodes it
// again: PNG exactly, PNG8 close to it.
func TestMapTile(t *testing.T) {
	img := mapTile(t)
	for _, f := range []Format{PNG, PNG8} {
		b, err := New(f, 0).Bytes(img)
		if err != nil {
			t.Fatal(err)
		}
		back, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var sum, n float64
		for y := range 256 {
			for x := range 256 {
				r1, g1, b1, _ := img.At(x, y).RGBA()
				r2, g2, b2, _ := back.At(x, y).RGBA()
				sum += math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) + math.Abs(float64(b1)-float64(b2))
				n += 3
			}
		}
		mean := sum / n / 257
		if f == PNG && mean != 0 || f == PNG8 && mean > 2 {
			t.Errorf("%s: mean error %.2f per channel", f, mean)
		}
	}
}

func BenchmarkEncodeMapTile(b *testing.B) {
	img := mapTile(b)
	for _, f := range []Format{PNG, PNG8, JPEG, WebP} {
		b.Run(f.String(), func(b *testing.B) {
			e := New(f, 0)
			var n int
			for b.Loop() {
				out, err := e.Bytes(img)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}
