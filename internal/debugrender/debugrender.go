// Package debugrender draws kiln's "debug" style: every tile shows its
// z/x/y, its metatile, its grid and when and how fast it was drawn. It needs
// no map data, so it exercises the whole pipeline on a bare install and
// makes cache behaviour visible: a re-render changes the time on the tile.
package debugrender

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"kiln/internal/tile"
)

// Renderer draws debug tiles. It is safe for concurrent use.
type Renderer struct {
	regular, bold *opentype.Font
	now           func() time.Time
}

// New returns a debug renderer; now is its clock (time.Now if nil), fixed
// in golden-image tests.
func New(now func() time.Time) (*Renderer, error) {
	if now == nil {
		now = time.Now
	}
	regular, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("debug renderer: %w", err)
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("debug renderer: %w", err)
	}
	return &Renderer{regular: regular, bold: bold, now: now}, nil
}

var (
	paper      = [2]color.RGBA{{246, 244, 238, 255}, {234, 240, 246, 255}}
	gridColor  = color.RGBA{200, 200, 200, 255}
	edgeColor  = color.RGBA{90, 90, 90, 255}
	metaColor  = color.RGBA{220, 60, 40, 255}
	textColor  = color.RGBA{30, 30, 30, 255}
	faintColor = color.RGBA{110, 110, 110, 255}
)

// Render draws metatile m into dst, whose bounds are the metatile's pixel
// area: m.Side() tiles of tileSize pixels per side (tileSize already
// multiplied by scale).
func (r *Renderer) Render(ctx context.Context, m tile.Meta, tileSize int, scale float64, dst *image.RGBA) error {
	start := r.now()
	big, err := opentype.NewFace(r.bold, &opentype.FaceOptions{Size: 22 * scale, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return fmt.Errorf("debug renderer: %w", err)
	}
	defer big.Close()
	small, err := opentype.NewFace(r.regular, &opentype.FaceOptions{Size: 11 * scale, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return fmt.Errorf("debug renderer: %w", err)
	}
	defer small.Close()

	line := max(1, int(scale))
	for c := range m.Tiles() {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := dst.Rect.Min.Add(image.Pt((c.X-m.X)*tileSize, (c.Y-m.Y)*tileSize))
		box := image.Rectangle{Min: o, Max: o.Add(image.Pt(tileSize, tileSize))}
		draw.Draw(dst, box, image.NewUniform(paper[(c.X+c.Y)&1]), image.Point{}, draw.Src)
		// Quarter grid, then the tile's edges, then the metatile's edges.
		for q := 1; q < 4; q++ {
			d := q * tileSize / 4
			fill(dst, image.Rect(box.Min.X+d, box.Min.Y, box.Min.X+d+line, box.Max.Y), gridColor)
			fill(dst, image.Rect(box.Min.X, box.Min.Y+d, box.Max.X, box.Min.Y+d+line), gridColor)
		}
		edge := edgeColor
		fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Max.X, box.Min.Y+line), edge)
		fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Min.X+line, box.Max.Y), edge)
		if c.X == m.X {
			fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Min.X+3*line, box.Max.Y), metaColor)
		}
		if c.Y == m.Y {
			fill(dst, image.Rect(box.Min.X, box.Min.Y, box.Max.X, box.Min.Y+3*line), metaColor)
		}
		mid := box.Min.Y + tileSize/2
		text(dst, big, c.String(), box, mid-int(6*scale), textColor)
		text(dst, small, fmt.Sprintf("metatile %s  ·  @%gx", m, scale), box, mid+int(14*scale), faintColor)
		text(dst, small, "rendered "+start.UTC().Format("2006-01-02 15:04:05.000")+" UTC", box, mid+int(30*scale), faintColor)
	}
	// The drawing time goes on last, so it covers the rest of the work.
	took := r.now().Sub(start)
	for c := range m.Tiles() {
		o := dst.Rect.Min.Add(image.Pt((c.X-m.X)*tileSize, (c.Y-m.Y)*tileSize))
		box := image.Rectangle{Min: o, Max: o.Add(image.Pt(tileSize, tileSize))}
		text(dst, small, fmt.Sprintf("metatile drawn in %.1f ms", float64(took.Microseconds())/1000), box, box.Min.Y+tileSize/2+int(46*scale), faintColor)
	}
	return nil
}

func fill(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// text draws s centred horizontally in box with its baseline at y.
func text(dst *image.RGBA, face font.Face, s string, box image.Rectangle, y int, c color.RGBA) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face}
	w := d.MeasureString(s).Ceil()
	d.Dot = fixed.P(box.Min.X+(box.Dx()-w)/2, y)
	d.DrawString(s)
}
