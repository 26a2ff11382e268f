package pagerender

import (
	"fmt"
	"image"
	"image/color"
	stdraw "image/draw"
	"kiln/internal/imgenc"
	"math"
	"strconv"
	"strings"

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
func Thumbnail(src image.Image, s Size) *image.RGBA {
	b := src.Bounds()
	scaledH := int(math.Round(float64(b.Dy()) * float64(s.W) / float64(b.Dx())))
	dst := image.NewRGBA(image.Rect(0, 0, s.W, s.H))
	stdraw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, stdraw.Src)
	to, part := dst.Bounds(), b
	if scaledH <= s.H {
		to = image.Rect(0, 0, s.W, scaledH)
	} else {
		// Only the part of the source that shows: its top, as tall as the
		// thumbnail at the source's scale.
		srcH := max(1, int(math.Round(float64(s.H)*float64(b.Dx())/float64(s.W))))
		part = image.Rect(b.Min.X, b.Min.Y, b.Max.X, b.Min.Y+srcH)
	}
	rgba := toRGBA(src, part)
	for rgba.Rect.Dx() >= 4*s.W && rgba.Rect.Dy() >= 4*to.Dy() {
		rgba = halve(rgba)
	}
	draw.CatmullRom.Scale(dst, to, rgba, rgba.Rect, draw.Src, nil)
	return dst
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
		r0 := src.Pix[2*y*src.Stride:]
		r1 := src.Pix[(2*y+1)*src.Stride:]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i < len(out); i++ {
			j := i/4*8 + i%4
			out[i] = uint8((uint16(r0[j]) + uint16(r0[j+4]) + uint16(r1[j]) + uint16(r1[j+4]) + 2) / 4)
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
