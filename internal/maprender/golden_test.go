package maprender

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"
	"testing"

	"kiln/internal/defaultstyle"
	"kiln/internal/draw"
	"kiln/internal/golden"
	"kiln/internal/style"
	"kiln/internal/tile"
)

// tileOf cuts tile c out of metatile m's image.
func tileOf(img *image.RGBA, m tile.Meta, c tile.Coord, ts int) image.Image {
	x, y := (c.X-m.X)*ts, (c.Y-m.Y)*ts
	return img.SubImage(image.Rect(x, y, x+ts, y+ts))
}

// TestGolden renders tiles of the bundled extract at several zooms. Look
// at testdata/*.png after -update.
func TestGolden(t *testing.T) {
	r := newRenderer(t)
	for _, tc := range []struct {
		name     string
		lon, lat float64
		z        int
		scale    float64
	}{
		{"liechtenstein-z10", 9.55, 47.15, 10, 1},
		{"vaduz-z12", 9.5209, 47.1410, 12, 1},
		{"vaduz-z14", 9.5209, 47.1410, 14, 1},
		{"vaduz-z15", 9.5209, 47.1410, 15, 1},
		{"vaduz-z16", 9.5209, 47.1410, 16, 1},
		{"vaduz-z17", 9.5232, 47.1395, 17, 1},
		{"vaduz-z15@2x", 9.5209, 47.1410, 15, 2},
		{"schaan-z16", 9.5095, 47.1660, 16, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metaAt(tc.lon, tc.lat, tc.z)
			ts := int(256 * tc.scale)
			img := renderMeta(t, r, m, ts, tc.scale)
			c := coordAt(tc.lon, tc.lat, tc.z)
			golden.Image(t, tc.name+".png", tileOf(img, m, c, ts), golden.Tolerance{Channel: 24, Pixels: 0.005})
		})
	}
}

// withoutLabels is the default style without its symbol layers.
func withoutLabels(t testing.TB) *Renderer {
	r := newRenderer(t)
	st, err := style.Parse(defaultstyle.JSON())
	if err != nil {
		t.Fatal(err)
	}
	st.Layers = slices.DeleteFunc(st.Layers, func(l *style.Layer) bool { return l.Type == "symbol" })
	return New(r.src, st, r.fonts, r.sprites)
}

// TestSeamsLines draws two neighbouring metatiles and the two as one
// image: where they meet, the stitched pair must be the one image, pixel
// for pixel, whatever lines and areas cross the edge.
func TestSeamsLines(t *testing.T) {
	r := withoutLabels(t)
	for _, z := range []int{13, 15} {
		a := metaAt(9.5209, 47.1410, z)
		b := tile.Meta{Z: z, X: a.X + 8, Y: a.Y, N: 8}
		left, right := renderMeta(t, r, a, 256, 1), renderMeta(t, r, b, 256, 1)
		both := image.NewRGBA(image.Rect(0, 0, 4096, 2048))
		v := ViewOfMeta(a, 256, 1)
		v.Bound = v.Bound.Union(b.MercatorBound())
		if err := r.Draw(context.Background(), v, both); err != nil {
			t.Fatal(err)
		}
		// A strip 64 pixels wide each side of the edge. Lines drawn in one
		// pass or two differ a little where they overlap at their
		// antialiased edges; a seam would differ a lot, all along.
		diff, worst := 0, 0
		for y := range 2048 {
			for x := 2048 - 64; x < 2048+64; x++ {
				var got []uint8
				if x < 2048 {
					got = left.Pix[left.PixOffset(x, y) : left.PixOffset(x, y)+4]
				} else {
					got = right.Pix[right.PixOffset(x-2048, y) : right.PixOffset(x-2048, y)+4]
				}
				want := both.Pix[both.PixOffset(x, y) : both.PixOffset(x, y)+4]
				far := 0
				for i := range 4 {
					far = max(far, int(got[i])-int(want[i]), int(want[i])-int(got[i]))
				}
				if far > 2 {
					diff++
				}
				worst = max(worst, far)
			}
		}
		if diff > 2048*128/2000 || worst > 32 {
			t.Errorf("z%d: %d pixels along the metatile edge differ from one drawing of both, by up to %d", z, diff, worst)
		}
	}
}

// placedLabels draws metatile m and returns its labels' boxes, in pixels
// of the world at m's zoom, with their text's first glyph box as a key.
func placedLabels(t testing.TB, r *Renderer, m tile.Meta) map[string][]draw.Rect {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2048, 2048))
	d := newDrawing(r, ViewOfMeta(m, 256, 1), draw.New(img))
	if err := d.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string][]draw.Rect{}
	for i, ls := range d.labels {
		for _, lb := range ls {
			var all []draw.Rect
			if lb.p != nil {
				all = append(all, lb.p.Boxes...)
			}
			if lb.icon != nil {
				all = append(all, lb.icon.box)
			}
			var boxes []draw.Rect
			for _, b := range all {
				dx, dy := float64(m.X*256), float64(m.Y*256)
				boxes = append(boxes, draw.Rect{MinX: b.MinX + dx, MinY: b.MinY + dy, MaxX: b.MaxX + dx, MaxY: b.MaxY + dy})
			}
			b := boxes[0]
			out[fmt.Sprintf("%d/%.1f/%.1f", i, b.MinX, b.MinY)] = boxes
		}
	}
	return out
}

// TestSeamsLabels checks that no label is cut at a metatile edge: a label
// one metatile draws across its edge, the neighbour draws too, in the
// same place.
func TestSeamsLabels(t *testing.T) {
	r := newRenderer(t)
	crossing := 0
	for _, z := range []int{12, 13, 14, 15, 16} {
		a := metaAt(9.5209, 47.1410, z)
		for _, b := range []tile.Meta{{Z: z, X: a.X + 8, Y: a.Y, N: 8}, {Z: z, X: a.X, Y: a.Y + 8, N: 8}} {
			la, lb := placedLabels(t, r, a), placedLabels(t, r, b)
			edgeX, edgeY := float64(b.X*256), float64(b.Y*256)
			crosses := func(boxes []draw.Rect) bool {
				for _, r := range boxes {
					if b.X != a.X && r.MinX < edgeX && r.MaxX > edgeX || b.Y != a.Y && r.MinY < edgeY && r.MaxY > edgeY {
						return true
					}
				}
				return false
			}
			for _, pair := range [][2]map[string][]draw.Rect{{la, lb}, {lb, la}} {
				for key, boxes := range pair[0] {
					if !crosses(boxes) {
						continue
					}
					crossing++
					other, ok := pair[1][key]
					if !ok || !sameBoxes(boxes, other) {
						t.Errorf("z%d: label %s crosses the edge of %v/%v but is not drawn the same on the other side", z, key, a, b)
					}
				}
			}
		}
	}
	if crossing == 0 {
		t.Error("no label crossed a metatile edge: the test tested nothing")
	}
	t.Logf("%d labels across metatile edges, all whole", crossing)
}

func sameBoxes(a, b []draw.Rect) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i].MinX-b[i].MinX) > 0.01 || math.Abs(a[i].MinY-b[i].MinY) > 0.01 {
			return false
		}
	}
	return true
}
