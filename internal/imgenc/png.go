package imgenc

import (
	"encoding/binary"
	"hash/crc32"
	"image"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// The PNG writer is ours rather than image/png's because of deflate:
// image/png compresses through compress/flate, which at BestSpeed spends
// about 80% of a map tile's encoding time (~6 ms); klauspost/compress's
// level 1 does the same work about four times faster and, on unfiltered
// map tiles, makes smaller files too. Map tiles are large flat areas and
// thin lines, which deflate's string matching takes well without PNG's
// row filters, so rows are written unfiltered (filter type 0), which also
// saves the filter search. The chunks are the plain PNG format: IHDR,
// PLTE and tRNS for paletted images, one IDAT, IEND.

// pngWriter encodes PNGs; it is safe for concurrent use.
type pngWriter struct {
	zlibs sync.Pool // *zlib.Writer: each holds ~1 MB of tables
	rows  sync.Pool // *[]byte: the raw scanlines of one image
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// PNG colour types.
const (
	ctTruecolor      = 2
	ctPaletted       = 3
	ctTruecolorAlpha = 6
)

// encode writes img as PNG: RGBA images as RGB when opaque, else as
// non-premultiplied RGBA; paletted images with their palette.
func (e *pngWriter) encode(w io.Writer, img image.Image) error {
	b := img.Bounds()
	width, height := b.Dx(), b.Dy()
	bp, _ := e.rows.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer e.rows.Put(bp)
	raw := (*bp)[:0]
	var colorType byte
	var palette, alpha []byte
	switch m := img.(type) {
	case *image.Paletted:
		colorType = ctPaletted
		palette, alpha = paletteChunks(m)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			i := m.PixOffset(b.Min.X, y)
			raw = append(raw, 0)
			raw = append(raw, m.Pix[i:i+width]...)
		}
	case *image.RGBA:
		if opaque(m) {
			colorType = ctTruecolor
			for y := b.Min.Y; y < b.Max.Y; y++ {
				row := m.Pix[m.PixOffset(b.Min.X, y):][:4*width]
				raw = append(raw, 0)
				for i := 0; i < len(row); i += 4 {
					raw = append(raw, row[i], row[i+1], row[i+2])
				}
			}
		} else {
			colorType = ctTruecolorAlpha
			for y := b.Min.Y; y < b.Max.Y; y++ {
				row := m.Pix[m.PixOffset(b.Min.X, y):][:4*width]
				raw = append(raw, 0)
				for i := 0; i < len(row); i += 4 {
					raw = appendStraight(raw, row[i], row[i+1], row[i+2], row[i+3])
				}
			}
		}
	default:
		// Other image types are rare here: convert through RGBA.
		rgba := image.NewRGBA(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				rgba.Set(x, y, img.At(x, y))
			}
		}
		return e.encode(w, rgba)
	}
	*bp = raw

	out := make([]byte, 0, len(raw)/4+256)
	out = append(out, pngSignature...)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = 8, colorType // bit depth 8; compression, filter, interlace 0
	out = chunk(out, "IHDR", ihdr[:])
	if colorType == ctPaletted {
		out = chunk(out, "PLTE", palette)
		if alpha != nil {
			out = chunk(out, "tRNS", alpha)
		}
	}
	data, err := e.deflate(raw)
	if err != nil {
		return err
	}
	out = chunk(out, "IDAT", data)
	out = chunk(out, "IEND", nil)
	_, err = w.Write(out)
	return err
}

func (e *pngWriter) deflate(raw []byte) ([]byte, error) {
	var buf appendBuffer
	zw, _ := e.zlibs.Get().(*zlib.Writer)
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(&buf, zlib.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(&buf)
	}
	defer e.zlibs.Put(zw)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf, nil
}

type appendBuffer []byte

func (b *appendBuffer) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// chunk appends a PNG chunk: length, type, data, CRC of type and data.
func chunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

func opaque(m *image.RGBA) bool {
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := m.Pix[m.PixOffset(b.Min.X, y):][:4*b.Dx()]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xff {
				return false
			}
		}
	}
	return true
}

// appendStraight appends a premultiplied RGBA pixel with PNG's straight
// alpha.
func appendStraight(out []byte, r, g, b, a byte) []byte {
	switch a {
	case 0:
		return append(out, 0, 0, 0, 0)
	case 0xff:
		return append(out, r, g, b, a)
	}
	// As color.NRGBAModel converts, so that PNGs match image/png's.
	n := uint32(a)
	return append(out, byte(uint32(r)*0xffff/n>>8), byte(uint32(g)*0xffff/n>>8), byte(uint32(b)*0xffff/n>>8), a)
}

// paletteChunks are the PLTE and, when some colour is not opaque, tRNS
// chunk data of m's palette.
func paletteChunks(m *image.Paletted) (plte, trns []byte) {
	last := -1
	for i, c := range m.Palette {
		r, g, b, a := c.RGBA()
		if a != 0xffff {
			last = i
		}
		if a > 0 && a != 0xffff {
			r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
		}
		plte = append(plte, byte(r>>8), byte(g>>8), byte(b>>8))
	}
	if last >= 0 {
		for _, c := range m.Palette[:last+1] {
			_, _, _, a := c.RGBA()
			trns = append(trns, byte(a>>8))
		}
	}
	return plte, trns
}
