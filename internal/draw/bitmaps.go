package draw

import (
	"image"
	"math"

	"github.com/go-text/typesetting/font"
)

// glyphBitmap is a glyph rasterized at a size, a quarter-pixel offset and
// a halo width: the coverage of its fill and of its halo over a rectangle
// given relative to the pixel holding the glyph's origin.
type glyphBitmap struct {
	rect       image.Rectangle
	fill, halo []byte // rect's size; halo nil without one
}

// blit is a glyph bitmap placed on the canvas.
type blit struct {
	bm *glyphBitmap
	at image.Rectangle
}

type bitmapKey struct {
	face       uint8
	sub        uint8 // quarter pixels: x in bits 0–1, y in bits 2–3
	id         font.GID
	size, halo float32
}

const (
	// bitmapCacheSize bounds the glyph bitmaps Fonts keeps: a few MB for
	// label sizes, 40 MB at most.
	bitmapCacheSize = 4096
	// maxBitmapSize is the largest font size (pixels) drawn from cached
	// bitmaps; larger text, rare and costly to keep, is drawn from outlines.
	maxBitmapSize = 48
)

// drawBitmaps draws upright text from cached glyph bitmaps: the glyphs'
// halo masks merged by maximum (the union of overlapping halos), their
// fill masks added, each composited once.
func (c *Canvas) drawBitmaps(p *Placement, fill, halo uint32, haloWidth float64, blur int) {
	blits := c.blits[:0]
	var u image.Rectangle
	for _, g := range p.glyphs {
		x, y := g.x+c.offset.X, g.y+c.offset.Y
		ix, qx := quarter(x)
		iy, qy := quarter(y)
		k := bitmapKey{g.face, uint8(qx | qy<<2), g.id, float32(g.size), float32(haloWidth)}
		bm, ok := p.fonts.bitmaps.get(k)
		if !ok {
			bm = c.renderGlyph(p.fonts, k)
			p.fonts.bitmaps.put(k, bm)
		}
		if bm.rect.Empty() {
			continue
		}
		at := bm.rect.Add(image.Pt(ix, iy))
		blits = append(blits, blit{bm, at})
		u = u.Union(at)
	}
	c.blits = blits
	r := u.Inset(-blur).Intersect(c.clip)
	if r.Empty() {
		return
	}
	m := c.zeroMask(r)
	if haloWidth > 0 {
		for _, b := range blits {
			merge(m, r, b.bm.halo, b.at, false)
		}
		if blur > 0 {
			c.blurBuf = boxBlur(m, r.Dx(), r.Dy(), blur, c.blurBuf)
		}
		c.composite(m, r, halo)
		clear(m)
	}
	for _, b := range blits {
		merge(m, r, b.bm.fill, b.at, true)
	}
	c.composite(m, r, fill)
}

// quarter splits v into whole pixels and quarters (0–3), rounded.
func quarter(v float64) (int, int) {
	q := int(math.Round(v * 4))
	return q >> 2, q & 3
}

// zeroMask returns a cleared mask of r's size in scratch space.
func (c *Canvas) zeroMask(r image.Rectangle) []byte {
	n := r.Dx() * r.Dy()
	if cap(c.mask) < n {
		c.mask = make([]byte, n)
	}
	m := c.mask[:n]
	clear(m)
	return m
}

// merge combines src, a mask covering at, into m, a mask covering r: by
// saturating addition, or by maximum.
func merge(m []byte, r image.Rectangle, src []byte, at image.Rectangle, add bool) {
	in := at.Intersect(r)
	n := in.Dx()
	for y := in.Min.Y; y < in.Max.Y; y++ {
		d := m[(y-r.Min.Y)*r.Dx()+in.Min.X-r.Min.X:][:n]
		s := src[(y-at.Min.Y)*at.Dx()+in.Min.X-at.Min.X:][:n]
		if add {
			for i, v := range s {
				d[i] = byte(min(255, uint(d[i])+uint(v)))
			}
		} else {
			for i, v := range s {
				d[i] = max(d[i], v)
			}
		}
	}
}

// renderGlyph rasterizes the glyph bitmap k names.
func (c *Canvas) renderGlyph(f *Fonts, k bitmapKey) *glyphBitmap {
	g := placedGlyph{x: float64(k.sub&3) / 4, y: float64(k.sub>>2) / 4, size: float64(k.size), cos: 1, face: k.face, id: k.id}
	c.text.reset()
	c.addGlyph(f, g, Point{})
	if len(c.text.ends) == 0 {
		return &glyphBitmap{}
	}
	b, d := c.text.all, float64(k.halo)+1
	bm := &glyphBitmap{rect: image.Rect(int(math.Floor(b.x0-d)), int(math.Floor(b.y0-d)),
		int(math.Ceil(b.x1+d)), int(math.Ceil(b.y1+d)))}
	bm.fill = append([]byte(nil), c.rasterize(&c.text, nil, bm.rect)...)
	if k.halo > 0 {
		c.dilate(&c.text, &c.shape, float64(k.halo))
		bm.halo = append([]byte(nil), c.rasterize(&c.shape, nil, bm.rect)...)
	}
	return bm
}
