package pagerender

import (
	"fmt"
	"image"
	"image/color"
	stdraw "image/draw"
	"kiln/internal/imgenc"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/draw"
)

// Size is a thumbnail size in pixels.
type Size struct{ W, H int }

func (s Size) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

// The sizes Alexa Site Thumbnail made, by name.
var (
	Small = Size{111, 82}
	Large = Size{201, 147}
)

// MaxSide bounds a thumbnail's width and height.
const MaxSide = 4096

// ParseSize reads "small", "large" (any case) or "WxH".
func ParseSize(s string) (Size, error) {
	switch strings.ToLower(s) {
	case "small":
		return Small, nil
	case "large", "":
		return Large, nil
	}
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return Size{}, fmt.Errorf("size %q: want small, large or WxH with sides 1 to %d", s, MaxSide)
	}
	return Size{w, h}, nil
}

// ParseFormat reads a thumbnail format: png, jpeg (or jpg, or nothing:
// the default) or webp, any case. It is imgenc's list without png8, which
// suits maps, not photographs of pages.
func ParseFormat(s string) (imgenc.Format, error) {
	if s == "" {
		return imgenc.JPEG, nil
	}
	f, err := imgenc.ParseFormat(s)
	if err != nil || f == imgenc.PNG8 {
		return 0, fmt.Errorf("format %q: want png, jpeg or webp", s)
	}
	return f, nil
}

// Thumbnail scales a page capture to width s.W keeping its aspect, then
// crops it to height s.H from the top of the page, or pads it with white
// when the page is shorter. Downscaling uses a Catmull-Rom filter over
// the whole source footprint of each pixel, so text and lines shrink
// without aliasing. A capture more than four times the thumbnail's width
// is first halved by 2×2 averaging (as often as that holds): the same
// low-pass the filter would apply, at a fraction of its cost, since the
// filter's cost grows with its footprint.
func Thumbnail(src image.Image, s Size) *image.RGBA { return NewThumbnailer().Thumbnail(src, s) }

// Thumbnailer makes thumbnails as Thumbnail does, keeping what repeats
// from one capture to the next: for the sizes it was made for, the filter
// of each pair of source and thumbnail sizes with its work buffer
// (x/image's scaler otherwise allocates and clears one of 2.5 MB for every
// large thumbnail); and the buffer of the first halving. A service that
// cuts the same sizes page after page makes a fraction of the garbage.
// Other sizes (asked once, by anyone) are cut without keeping, so they
// cannot crowd the kept ones out. It is safe for concurrent use.
type Thumbnailer struct {
	keep    []Size
	mu      sync.Mutex
	filters map[[4]int]draw.Scaler
	halves  sync.Pool // *image.RGBA
}

// NewThumbnailer returns a Thumbnailer that keeps the filters of sizes.
func NewThumbnailer(sizes ...Size) *Thumbnailer { return &Thumbnailer{keep: sizes} }

// maxFilters bounds the filters a Thumbnailer keeps. A kept size needs one
// per shape of source, and the source of a size taller than the capture's
// aspect is the whole capture, whose height varies with full-page
// captures.
const maxFilters = 16

func (t *Thumbnailer) filter(s Size, dw, dh, sw, sh int) draw.Scaler {
	if !slices.Contains(t.keep, s) {
		return draw.CatmullRom
	}
	key := [4]int{dw, dh, sw, sh}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.filters[key]; ok {
		return f
	}
	if len(t.filters) >= maxFilters {
		return draw.CatmullRom
	}
	if t.filters == nil {
		t.filters = make(map[[4]int]draw.Scaler)
	}
	f := draw.CatmullRom.NewScaler(dw, dh, sw, sh)
	t.filters[key] = f
	return f
}

// Thumbnail is the package's Thumbnail.
func (t *Thumbnailer) Thumbnail(src image.Image, s Size) *image.RGBA { return t.Thumbnails(src, s)[0] }

// Thumbnails is Thumbnail of each size, with the capture's first halving,
// the costliest step, done once for all of them.
func (t *Thumbnailer) Thumbnails(src image.Image, sizes ...Size) []*image.RGBA {
	b := src.Bounds()
	cuts := make([]cut, len(sizes))
	// A 4:2:0 capture, as Chromium's JPEGs are, is halved straight from
	// YCbCr, as deep as the tallest size that starts halved needs.
	yc, ok := src.(*image.YCbCr)
	straight := ok && yc.SubsampleRatio == image.YCbCrSubsampleRatio420 && b.Min.X%2 == 0 && b.Min.Y%2 == 0
	halfH := 0
	for i, s := range sizes {
		cuts[i] = newCut(b, s)
		if straight && cuts[i].halving(cuts[i].part) {
			halfH = max(halfH, cuts[i].part.Dy())
		}
	}
	var half *image.RGBA
	if halfH > 0 {
		buf, _ := t.halves.Get().(*image.RGBA)
		half = halveYCbCr(buf, yc, image.Rect(b.Min.X, b.Min.Y, b.Max.X, b.Min.Y+halfH))
		defer t.halves.Put(half)
	}
	out := make([]*image.RGBA, len(sizes))
	for i, c := range cuts {
		var rgba *image.RGBA
		if half != nil && c.halving(c.part) {
			rgba = half.SubImage(image.Rect(0, 0, c.part.Dx()/2, c.part.Dy()/2)).(*image.RGBA)
		} else {
			rgba = toRGBA(src, c.part)
		}
		for c.halving(rgba.Rect) {
			rgba = halve(rgba)
		}
		dst := image.NewRGBA(image.Rect(0, 0, c.size.W, c.size.H))
		stdraw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, stdraw.Src)
		t.filter(c.size, c.to.Dx(), c.to.Dy(), rgba.Rect.Dx(), rgba.Rect.Dy()).Scale(dst, c.to, rgba, rgba.Rect, draw.Src, nil)
		out[i] = dst
	}
	return out
}

// cut is how a thumbnail of size is made from a capture: the part of the
// capture it shows, scaled into the rectangle to of the thumbnail.
type cut struct {
	size     Size
	part, to image.Rectangle
}

func newCut(b image.Rectangle, s Size) cut {
	c := cut{size: s, part: b, to: image.Rect(0, 0, s.W, s.H)}
	if scaledH := int(math.Round(float64(b.Dy()) * float64(s.W) / float64(b.Dx()))); scaledH <= s.H {
		c.to.Max.Y = scaledH
	} else {
		// Only the part of the source that shows: its top, as tall as the
		// thumbnail at the source's scale.
		srcH := max(1, int(math.Round(float64(s.H)*float64(b.Dx())/float64(s.W))))
		c.part.Max.Y = b.Min.Y + srcH
	}
	return c
}

// halving reports whether r, on the way to the thumbnail, is still worth
// halving first: four times its size or more.
func (c cut) halving(r image.Rectangle) bool {
	return r.Dx() >= 4*c.size.W && r.Dy() >= 4*c.to.Dy()
}

// toRGBA returns part r of img as RGBA, converting it if needed (a JPEG
// capture decodes as YCbCr, which the scaler reads far more slowly).
func toRGBA(img image.Image, r image.Rectangle) *image.RGBA {
	if rgba, ok := img.(*image.RGBA); ok {
		return rgba.SubImage(r).(*image.RGBA)
	}
	rgba := image.NewRGBA(r)
	stdraw.Draw(rgba, r, img, r.Min, stdraw.Src)
	return rgba
}

// halve averages src's 2×2 blocks (an odd last row or column is dropped).
func halve(src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx()/2, src.Rect.Dy()/2
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		r0 := src.Pix[2*y*src.Stride : 2*y*src.Stride+8*w]
		r1 := src.Pix[(2*y+1)*src.Stride : (2*y+1)*src.Stride+8*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x := range w {
			a, b, o := r0[8*x:8*x+8], r1[8*x:8*x+8], out[4*x:4*x+4]
			for c := range 4 {
				o[c] = uint8((uint16(a[c]) + uint16(a[c+4]) + uint16(b[c]) + uint16(b[c+4]) + 2) / 4)
			}
		}
	}
	return dst
}

// halveYCbCr is halve(toRGBA(src, r)) for a 4:2:0 capture, the kind
// Chromium's JPEG encoder writes, at a fraction of the cost: the four
// pixels of a 2×2 block share their chroma, so the block is converted to
// RGB once, from its average luma. r's corner must be even. The result
// reuses buf's pixels when they are enough; every pixel is written.
func halveYCbCr(buf *image.RGBA, src *image.YCbCr, r image.Rectangle) *image.RGBA {
	w, h := r.Dx()/2, r.Dy()/2
	var dst *image.RGBA
	if buf != nil && cap(buf.Pix) >= 4*w*h {
		dst = &image.RGBA{Pix: buf.Pix[:4*w*h], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	} else {
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	for y := range h {
		y0 := src.Y[src.YOffset(r.Min.X, r.Min.Y+2*y):][:2*w]
		y1 := src.Y[src.YOffset(r.Min.X, r.Min.Y+2*y+1):][:2*w]
		c := src.COffset(r.Min.X, r.Min.Y+2*y)
		cb, cr := src.Cb[c:c+w], src.Cr[c:c+w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x := range w {
			l := (uint16(y0[2*x]) + uint16(y0[2*x+1]) + uint16(y1[2*x]) + uint16(y1[2*x+1]) + 2) / 4
			o := out[4*x : 4*x+4]
			o[0], o[1], o[2] = color.YCbCrToRGB(uint8(l), cb[x], cr[x])
			o[3] = 0xff
		}
	}
	return dst
}

// blank reports whether an image is all but uniform (a white or empty
// page), the most reported failure of screenshot services: the standard
// deviation of its luma below 3 (of 255), as the peers measure it.
func blank(img image.Image) bool {
	b := img.Bounds()
	var sum, sq, n float64
	if yc, ok := img.(*image.YCbCr); ok {
		// A JPEG capture: its Y is that luma already.
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			row := yc.Y[yc.YOffset(b.Min.X, y):]
			for x := 0; x < b.Dx(); x += 2 {
				l := float64(row[x])
				sum += l
				sq += l * l
				n++
			}
		}
		return lumaFlat(sum, sq, n)
	}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	return lumaFlat(sum, sq, n)
}

// lumaFlat reports whether n luma samples of this sum and sum of squares
// deviate less than 3.
func lumaFlat(sum, sq, n float64) bool {
	if n == 0 {
		return true
	}
	mean := sum / n
	return math.Sqrt(math.Max(sq/n-mean*mean, 0)) < 3
}
