package maprender

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"kiln/internal/defaultstyle"
	"kiln/internal/draw"
	"kiln/internal/imgenc"
	"kiln/internal/maptest"
	"kiln/internal/osmgeom"
	"kiln/internal/style"
	"kiln/internal/tile"
)

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
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
	return New(maptest.Sample(t), st, fonts, icons)
}

// coordAt is the tile holding lon, lat at zoom z.
func coordAt(lon, lat float64, z int) tile.Coord {
	c := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
	return tile.Coord{Z: z, X: int(c.X), Y: int(c.Y)}
}

// metaAt is the metatile of side 8 holding lon, lat at zoom z.
func metaAt(lon, lat float64, z int) tile.Meta {
	return tile.MetaOf(coordAt(lon, lat, z), 8)
}

func renderMeta(t testing.TB, r *Renderer, m tile.Meta, ts int, scale float64) *image.RGBA {
	t.Helper()
	side := m.Side() * ts
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	if err := r.Render(context.Background(), m, ts, scale, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestScratchLook(t *testing.T) {
	dir := os.Getenv("KILN_LOOK")
	if dir == "" {
		t.Skip()
	}
	r := newRenderer(t)
	lon, lat := 9.5209, 47.1410
	for _, z := range []int{9, 10, 11, 12, 13, 14, 15, 16, 17, 18} {
		m := metaAt(lon, lat, z)
		img := renderMeta(t, r, m, 256, 1)
		// A 1024x768 crop around the point.
		b := m.MercatorBound()
		p := osmgeomMercator(lon, lat)
		k := float64(img.Bounds().Dx()) / (b.Max[0] - b.Min[0])
		x, y := int((p[0]-b.Min[0])*k), int((b.Max[1]-p[1])*k)
		crop := image.Rect(x-512, y-384, x+512, y+384).Intersect(img.Bounds())
		f, _ := os.Create(fmt.Sprintf("%s/z%02d.png", dir, z))
		png.Encode(f, img.SubImage(crop))
		f.Close()
	}
}

func osmgeomMercator(lon, lat float64) orb.Point { return osmgeom.Mercator(lon, lat) }

// BenchmarkRender draws metatiles of Vaduz at each zoom (the map only,
// no encoding).
func BenchmarkRender(b *testing.B) {
	r := newRenderer(b)
	for _, z := range []int{6, 8, 10, 12, 13, 14, 15, 16, 18} {
		m := metaAt(9.5209, 47.1410, z)
		b.Run(fmt.Sprintf("z%02d", z), func(b *testing.B) {
			side := m.Side() * 256
			img := image.NewRGBA(image.Rect(0, 0, side, side))
			for b.Loop() {
				clear(img.Pix)
				if err := r.Render(context.Background(), m, 256, 1, img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMetatile is a metatile as the pipeline makes it: drawn, then
// cut into 64 tiles encoded as PNG.
func BenchmarkMetatile(b *testing.B) {
	r := newRenderer(b)
	enc := imgenc.New(imgenc.PNG, 0)
	for _, z := range []int{12, 14, 16} {
		m := metaAt(9.5209, 47.1410, z)
		b.Run(fmt.Sprintf("z%02d", z), func(b *testing.B) {
			img := image.NewRGBA(image.Rect(0, 0, 2048, 2048))
			for b.Loop() {
				if err := r.Render(context.Background(), m, 256, 1, img); err != nil {
					b.Fatal(err)
				}
				for c := range m.Tiles() {
					if _, err := enc.Bytes(tileOf(img, m, c, 256)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
