package imgenc

import (
	"image"
	"image/color"
	"image/draw"
	"slices"
	"sync"
)

// bin is one cell of the colour histogram: 5 bits per channel for opaque
// images, or 4 bits per channel with alpha.
type bin struct {
	key        uint16
	n          int
	r, g, b, a int // sums of the exact 8-bit values
}

// histogram is Quantize's scratch space, 1.3 MB, reused across calls.
type histogram struct {
	count [1 << 16]int32
	sums  [1 << 16][4]int32
	lut   [1 << 16]uint8
}

// Quantizer maps images to 256 colours. It is safe for concurrent use; the
// zero value is ready.
type Quantizer struct {
	scratch sync.Pool // *histogram, returned all zero but for lut
}

// Quantize maps img to at most 256 colours: median cut over a colour
// histogram, each palette entry the mean of the pixels it stands for.
// Images with 256 or fewer histogram cells keep their exact mean colours.
func (q *Quantizer) Quantize(img image.Image) *image.Paletted {
	src, ok := img.(*image.RGBA)
	if !ok {
		src = image.NewRGBA(img.Bounds())
		draw.Draw(src, src.Rect, img, img.Bounds().Min, draw.Src)
	}
	opaque := src.Opaque()
	keyOf := key555
	if !opaque {
		keyOf = key4444
	}
	hg, _ := q.scratch.Get().(*histogram)
	if hg == nil {
		hg = new(histogram)
	}
	defer q.scratch.Put(hg)
	hist, sums := &hg.count, &hg.sums
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			k := keyOf(row[i], row[i+1], row[i+2], row[i+3])
			hist[k]++
			s := &sums[k]
			s[0] += int32(row[i])
			s[1] += int32(row[i+1])
			s[2] += int32(row[i+2])
			s[3] += int32(row[i+3])
		}
	}
	var bins []bin
	for k, n := range hist {
		if n > 0 {
			s := sums[k]
			bins = append(bins, bin{key: uint16(k), n: int(n), r: int(s[0]), g: int(s[1]), b: int(s[2]), a: int(s[3])})
			hist[k], sums[k] = 0, [4]int32{}
		}
	}
	boxes := medianCut(bins, 256, opaque)
	pal := make(color.Palette, len(boxes))
	lut := &hg.lut
	for i, bx := range boxes {
		var n, r, g, b, a int
		for _, c := range bx.bins {
			n += c.n
			r += c.r
			g += c.g
			b += c.b
			a += c.a
			lut[c.key] = uint8(i)
		}
		// Pix holds premultiplied values, as does color.RGBA.
		pal[i] = color.RGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((b + n/2) / n), uint8((a + n/2) / n)}
	}
	dst := image.NewPaletted(src.Rect, pal)
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for i := range out {
			p := row[4*i : 4*i+4 : 4*i+4]
			out[i] = lut[keyOf(p[0], p[1], p[2], p[3])]
		}
	}
	return dst
}

func key555(r, g, b, _ uint8) uint16 {
	return uint16(r>>3)<<10 | uint16(g>>3)<<5 | uint16(b>>3)
}

func key4444(r, g, b, a uint8) uint16 {
	return uint16(r>>4)<<12 | uint16(g>>4)<<8 | uint16(b>>4)<<4 | uint16(a>>4)
}

// box is a set of histogram bins that will become one palette entry.
type box struct {
	bins  []bin
	ch    int // channel with the widest spread of means
	score int // spread² × pixels: how much splitting it helps
}

func newBox(bins []bin, channels int) box {
	b := box{bins: bins}
	if len(bins) < 2 {
		return b
	}
	var spread int
	b.ch, spread = widest(bins, channels)
	b.score = spread * spread * total(bins)
	return b
}

// medianCut splits the bins into at most n boxes, each time cutting the box
// whose split helps most at the weighted median of its widest channel.
func medianCut(bins []bin, n int, opaque bool) []box {
	channels := 4
	if opaque {
		channels = 3
	}
	boxes := []box{newBox(bins, channels)}
	for len(boxes) < n {
		best := 0
		for i := range boxes {
			if boxes[i].score > boxes[best].score {
				best = i
			}
		}
		bx := boxes[best]
		if bx.score == 0 {
			break
		}
		ch := bx.ch
		slices.SortFunc(bx.bins, func(a, b bin) int { return mean(a, ch) - mean(b, ch) })
		half, acc, cut := total(bx.bins)/2, 0, 1
		for i, c := range bx.bins[:len(bx.bins)-1] {
			acc += c.n
			cut = i + 1
			if acc >= half {
				break
			}
		}
		boxes[best] = newBox(bx.bins[:cut:cut], channels)
		boxes = append(boxes, newBox(bx.bins[cut:], channels))
	}
	return boxes
}

// mean is a bin's mean value in channel ch (0 r, 1 g, 2 b, 3 a).
func mean(c bin, ch int) int {
	switch ch {
	case 0:
		return c.r / c.n
	case 1:
		return c.g / c.n
	case 2:
		return c.b / c.n
	}
	return c.a / c.n
}

func widest(box []bin, channels int) (ch, spread int) {
	for k := range channels {
		lo, hi := 255, 0
		for _, c := range box {
			v := mean(c, k)
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi-lo > spread {
			ch, spread = k, hi-lo
		}
	}
	return ch, spread
}

func total(box []bin) int {
	n := 0
	for _, c := range box {
		n += c.n
	}
	return n
}
