// Package imgenc encodes rendered images in the formats a style serves:
// PNG (truecolour), PNG8 (256-colour palette), JPEG and WebP (lossless,
// through the pure-Go nativewebp).
//
// The palette quantizer is written here because the Go ones available are
// far too slow for tiles (stdlib's palette matching searches linearly per
// pixel; median cut over all pixels costs ~40 ms a tile). This one runs
// median cut over a 15-bit colour histogram and maps pixels through a
// lookup table, about a millisecond a tile.
package imgenc

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"strings"

	"github.com/HugoSmits86/nativewebp"
)

// Format is an output image format.
type Format int

const (
	PNG Format = iota
	PNG8
	JPEG
	WebP
)

var formats = []struct {
	name, ext, mime string
}{
	PNG:  {"png", "png", "image/png"},
	PNG8: {"png8", "png", "image/png"},
	JPEG: {"jpeg", "jpg", "image/jpeg"},
	WebP: {"webp", "webp", "image/webp"},
}

// ParseFormat reads a format name: png, png8, jpeg (or jpg), webp.
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(s)
	if s == "jpg" {
		return JPEG, nil
	}
	for f, d := range formats {
		if d.name == s {
			return Format(f), nil
		}
	}
	return 0, fmt.Errorf("unknown image format %q (want png, png8, jpeg or webp)", s)
}

func (f Format) String() string { return formats[f].name }

// Ext is the file extension of the format, without the dot.
func (f Format) Ext() string { return formats[f].ext }

// MIME is the format's media type.
func (f Format) MIME() string { return formats[f].mime }

// MatchesExt reports whether a URL's extension names this format ("jpeg"
// is accepted for JPEG too).
func (f Format) MatchesExt(ext string) bool {
	return ext == f.Ext() || f == JPEG && ext == "jpeg"
}

// Encoder encodes images in one format. It is safe for concurrent use.
type Encoder struct {
	format  Format
	quality int
	png     pngWriter
	quant   Quantizer
}

// New returns an encoder for format f. quality (1–100) applies to JPEG;
// 0 means 85.
func New(f Format, quality int) *Encoder {
	if quality <= 0 {
		quality = 85
	}
	return &Encoder{
		format:  f,
		quality: min(quality, 100),
	}
}

// Format is the encoder's format.
func (e *Encoder) Format() Format { return e.format }

// Encode writes img to w.
func (e *Encoder) Encode(w io.Writer, img image.Image) error {
	switch e.format {
	case PNG:
		return e.png.encode(w, img)
	case PNG8:
		return e.png.encode(w, e.quant.Quantize(img))
	case JPEG:
		return jpeg.Encode(w, img, &jpeg.Options{Quality: e.quality})
	case WebP:
		return nativewebp.Encode(w, img, nil)
	}
	return fmt.Errorf("imgenc: unknown format %d", e.format)
}

// Bytes encodes img and returns the encoded bytes.
func (e *Encoder) Bytes(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := e.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", e.format, err)
	}
	return b.Bytes(), nil
}
