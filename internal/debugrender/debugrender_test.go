package debugrender

import (
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"kiln/internal/golden"
	"kiln/internal/tile"
)

var clock = func() time.Time { return time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC) }

func TestGolden(t *testing.T) {
	r, err := New(clock)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		meta  tile.Meta
		scale int
		crop  tile.Coord // the tile to compare
	}{
		{"z0.png", tile.Meta{Z: 0, N: 8}, 1, tile.Coord{}},
		{"z14-corner.png", tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}, 1, tile.Coord{Z: 14, X: 8696, Y: 5752}},
		{"z14-inner@2x.png", tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}, 2, tile.Coord{Z: 14, X: 8699, Y: 5757}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := 256 * tc.scale
			side := tc.meta.Side() * ts
			dst := image.NewRGBA(image.Rect(0, 0, side, side))
			if err := r.Render(context.Background(), tc.meta, ts, float64(tc.scale), dst); err != nil {
				t.Fatal(err)
			}
			o := image.Pt((tc.crop.X-tc.meta.X)*ts, (tc.crop.Y-tc.meta.Y)*ts)
			tileImg := dst.SubImage(image.Rectangle{Min: o, Max: o.Add(image.Pt(ts, ts))})
			golden.Image(t, tc.name, tileImg, golden.Tolerance{Channel: 8, Pixels: 0.002})
		})
	}
}

func TestCancelled(t *testing.T) {
	r, _ := New(clock)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := image.NewRGBA(image.Rect(0, 0, 2048, 2048))
	if err := r.Render(ctx, tile.Meta{Z: 10, N: 8}, 256, 1, dst); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled render: %v", err)
	}
}

func BenchmarkRender(b *testing.B) {
	r, _ := New(nil)
	for _, scale := range []int{1, 2} {
		b.Run(map[int]string{1: "256", 2: "512@2x"}[scale], func(b *testing.B) {
			ts := 256 * scale
			dst := image.NewRGBA(image.Rect(0, 0, 8*ts, 8*ts))
			for b.Loop() {
				r.Render(context.Background(), tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}, ts, float64(scale), dst)
			}
		})
	}
}
