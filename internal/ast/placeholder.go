package ast

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Pixels is the size of a thumbnail of size s: Small 111x82, Large
// 201x147.
func (s Size) Pixels() image.Point {
	if s == Small {
		return image.Pt(111, 82)
	}
	return image.Pt(201, 147)
}

// PlaceholderFile is the file name of size s's placeholder ("small.gif").
func (s Size) PlaceholderFile() string { return s.Name() + ".gif" }

// placeholders are drawn once, on first use.
var placeholders = sync.OnceValue(func() [2][]byte {
	var out [2][]byte
	for _, s := range []Size{Large, Small} {
		out[s] = drawPlaceholder(s)
	}
	return out
})

// Placeholder is the GIF answered for a thumbnail kiln does not have yet
// (Exists="false"), as AST answered one: "image coming soon", in the
// size asked for.
func Placeholder(s Size) []byte { return placeholders()[s] }

var (
	phBackground = color.RGBA{0xf2, 0xf2, 0xf0, 0xff}
	phBorder     = color.RGBA{0xc4, 0xc4, 0xc0, 0xff}
	phText       = color.RGBA{0x55, 0x55, 0x55, 0xff}
	phFaint      = color.RGBA{0x99, 0x99, 0x99, 0xff}
)

func drawPlaceholder(s Size) []byte {
	px := s.Pixels()
	img := image.NewRGBA(image.Rectangle{Max: px})
	draw.Draw(img, img.Rect, image.NewUniform(phBorder), image.Point{}, draw.Src)
	draw.Draw(img, img.Rect.Inset(1), image.NewUniform(phBackground), image.Point{}, draw.Src)
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(err) // the bundled font
	}
	size, lines, small := 17.0, []string{"image coming soon"}, 11.0
	if s == Small {
		size, lines, small = 13, []string{"image", "coming soon"}, 9
	}
	face, _ := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	note, _ := opentype.NewFace(f, &opentype.FaceOptions{Size: small, DPI: 72, Hinting: font.HintingFull})
	lineH := int(size * 1.25)
	top := (px.Y-lineH*len(lines))/2 + int(size)
	for i, l := range lines {
		centre(img, face, l, top+i*lineH, phText)
	}
	centre(img, note, "kiln", px.Y-int(small/2)-3, phFaint)
	// A grey ramp from the background to the text, and the border.
	pal := color.Palette{phBorder}
	for i := range 15 {
		t := float64(i) / 14
		mix := func(a, b uint8) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t + 0.5) }
		pal = append(pal, color.RGBA{mix(phBackground.R, phText.R), mix(phBackground.G, phText.G), mix(phBackground.B, phText.B), 0xff})
	}
	p := image.NewPaletted(img.Rect, pal)
	draw.Draw(p, p.Rect, img, image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := gif.Encode(&b, p, nil); err != nil {
		panic(err) // encoding into memory
	}
	return b.Bytes()
}

func centre(dst draw.Image, face font.Face, s string, baseline int, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face}
	w := d.MeasureString(s)
	d.Dot = fixed.Point26_6{X: (fixed.I(dst.Bounds().Dx()) - w) / 2, Y: fixed.I(baseline)}
	d.DrawString(s)
}
