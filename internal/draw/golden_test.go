package draw

import (
	"image"
	"image/color"
	"math"
	"testing"

	"kiln/internal/golden"
)

// Golden images: go test ./internal/draw -update rewrites testdata/*.png;
// look at every one before committing it.

var tolerance = golden.Tolerance{Channel: 8, Pixels: 0.002}

// canvas is a w×h canvas on a pale map-like background.
func canvas(w, h int) *Canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0xf2, 0xef, 0xe9, 0xff
	}
	return New(img)
}

var (
	black  = color.NRGBA{0x20, 0x20, 0x20, 0xff}
	white  = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	red    = color.NRGBA{0xd0, 0x30, 0x30, 0xff}
	blue   = color.NRGBA{0x30, 0x60, 0xc0, 0xff}
	green  = color.NRGBA{0x40, 0x90, 0x40, 0xff}
	orange = color.NRGBA{0xf0, 0xa0, 0x40, 0xff}
)

func circle(cx, cy, r float64, n int, clockwise bool) []Point {
	pts := make([]Point, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / float64(n)
		if clockwise {
			a = -a
		}
		pts[i] = Point{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	return pts
}

func rect(x0, y0, x1, y1 float64) []Point {
	return []Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
}

func reversed(pts []Point) []Point {
	out := make([]Point, len(pts))
	for i, p := range pts {
		out[len(pts)-1-i] = p
	}
	return out
}

func TestGoldenFillHoles(t *testing.T) {
	c := canvas(320, 200)
	// Even-odd: a hole running the same way as its outer ring, a ring
	// inside the hole (an island), a hole touching its outer ring.
	c.Fill([][]Point{circle(80, 100, 70, 64, false), circle(80, 100, 45, 48, false), rect(65, 85, 95, 115)}, EvenOdd, green, 1)
	c.Fill([][]Point{rect(170, 30, 300, 170), {{170, 30}, {230, 60}, {200, 100}}}, EvenOdd, blue, 1)
	// Non-zero with the hole against the outer ring; overlapping
	// semi-transparent fills.
	c.Fill([][]Point{circle(240, 100, 50, 48, false), reversed(circle(240, 100, 20, 32, false))}, NonZero, red, 0.6)
	golden.Image(t, "fill_holes.png", c.Image(), tolerance)
}

func TestGoldenFillHuge(t *testing.T) {
	c := canvas(256, 256)
	// A polygon a hundred thousand times the canvas across, with a hole
	// whose diagonal edge crosses it: only the visible part costs.
	const far = 3e7
	outer := rect(-far, -far, far, far)
	hole := []Point{{-far, far}, {far, -far + 300}, {far, far}}
	c.Fill([][]Point{outer, hole}, EvenOdd, green, 1)
	golden.Image(t, "fill_huge.png", c.Image(), tolerance)
	if n := len(c.mask); n > 256*256 {
		t.Errorf("mask of %d pixels for a 256² canvas", n)
	}
}

func TestGoldenStrokeCapsJoins(t *testing.T) {
	c := canvas(480, 360)
	caps := []Cap{CapButt, CapRound, CapSquare}
	joins := []Join{JoinMiter, JoinRound, JoinBevel}
	for i, cp := range caps {
		for j, jn := range joins {
			x, y := 30+float64(j)*155, 30+float64(i)*115
			// A right angle, an acute angle and an obtuse one.
			line := []Point{{x, y + 70}, {x + 25, y + 10}, {x + 60, y + 75}, {x + 80, y + 20}, {x + 120, y + 20}, {x + 100, y + 60}}
			c.Stroke([][]Point{line}, StrokeStyle{Width: 14, Color: blue, Opacity: 1, Cap: cp, Join: jn, MiterLimit: 4})
			c.Stroke([][]Point{line}, StrokeStyle{Width: 1, Color: white, Opacity: 1})
		}
	}
	golden.Image(t, "stroke_caps_joins.png", c.Image(), tolerance)
}

func TestGoldenStrokeDashed(t *testing.T) {
	c := canvas(320, 240)
	var spiral []Point
	for i := 0; i <= 200; i++ {
		a := float64(i) / 200 * 4 * math.Pi
		r := 20 + 90*float64(i)/200
		spiral = append(spiral, Point{160 + r*math.Cos(a), 120 + r*math.Sin(a)})
	}
	// Dashes carry on across the spiral's many vertices.
	c.Stroke([][]Point{spiral}, StrokeStyle{Width: 5, Color: red, Opacity: 1, Dash: []float64{15, 7}})
	// Dots: zero-length dashes with round caps.
	c.Stroke([][]Point{{{20, 225}, {300, 225}}}, StrokeStyle{Width: 6, Color: blue, Opacity: 1, Cap: CapRound, Dash: []float64{0, 12}})
	golden.Image(t, "stroke_dashed.png", c.Image(), tolerance)
}

func TestGoldenStrokeHairline(t *testing.T) {
	c := canvas(300, 200)
	for i, w := range []float64{0.25, 0.5, 0.75, 1, 1.5, 2} {
		y := 20 + float64(i)*30
		c.Stroke([][]Point{{{10, y}, {140, y + 8}}}, StrokeStyle{Width: w, Color: black, Opacity: 1})
		x := 160 + float64(i)*22
		c.Stroke([][]Point{{{x, 20}, {x + 15, 180}}}, StrokeStyle{Width: w, Color: black, Opacity: 1})
	}
	golden.Image(t, "stroke_hairline.png", c.Image(), tolerance)
}

func TestGoldenStrokeOverlap(t *testing.T) {
	c := canvas(360, 240)
	// A loop crossing itself and a line doubling back on itself, half
	// transparent: the overlaps must not be darker.
	var loop []Point
	for i := 0; i <= 100; i++ {
		a := float64(i) / 100 * 2 * math.Pi
		loop = append(loop, Point{100 + 70*math.Sin(a), 120 + 70*math.Sin(a)*math.Cos(a)})
	}
	c.Stroke([][]Point{loop}, StrokeStyle{Width: 24, Color: red, Opacity: 0.5, Join: JoinRound, Cap: CapRound})
	back := []Point{{200, 40}, {330, 60}, {210, 90}, {330, 120}}
	c.Stroke([][]Point{back}, StrokeStyle{Width: 30, Color: blue, Opacity: 0.5, Join: JoinMiter, Cap: CapButt})
	// Very wide, round.
	c.Stroke([][]Point{{{220, 200}, {270, 160}, {330, 210}}}, StrokeStyle{Width: 100, Color: green, Opacity: 0.4, Join: JoinRound, Cap: CapRound})
	golden.Image(t, "stroke_overlap.png", c.Image(), tolerance)
}

func TestGoldenStrokeOffset(t *testing.T) {
	c := canvas(320, 240)
	road := []Point{{20, 200}, {80, 120}, {160, 150}, {220, 40}, {300, 60}}
	c.Stroke([][]Point{road}, StrokeStyle{Width: 2, Color: black, Opacity: 1, Join: JoinRound})
	c.Stroke([][]Point{road}, StrokeStyle{Width: 4, Color: red, Opacity: 1, Offset: 10, Join: JoinRound})
	c.Stroke([][]Point{road}, StrokeStyle{Width: 4, Color: blue, Opacity: 1, Offset: -10, Join: JoinRound})
	// A closed ring offset inwards (a border drawn inside an area).
	ring := append(rect(200, 130, 300, 220), Point{200, 130})
	c.Stroke([][]Point{ring}, StrokeStyle{Width: 1, Color: black, Opacity: 1})
	c.Stroke([][]Point{ring}, StrokeStyle{Width: 6, Color: green, Opacity: 0.7, Offset: 5})
	golden.Image(t, "stroke_offset.png", c.Image(), tolerance)
}

var testFonts = func() *Fonts {
	f, err := NewFonts(Embedded()...)
	if err != nil {
		panic(err)
	}
	return f
}()

var haloStyle = TextStyle{Color: black, Opacity: 1, HaloColor: white, HaloWidth: 2}

// busy draws stripes to show halos against.
func busy(c *Canvas) {
	for x := -200.0; x < 600; x += 18 {
		c.Stroke([][]Point{{{x, 0}, {x + 200, 400}}}, StrokeStyle{Width: 7, Color: orange, Opacity: 1})
	}
}

func TestGoldenTextPoint(t *testing.T) {
	c := canvas(360, 240)
	busy(c)
	regular, bold, italic := []string{"Noto Sans Regular"}, []string{"Noto Sans Bold"}, []string{"Noto Sans Italic"}
	labels := []struct {
		text   string
		fonts  []string
		size   float64
		at     Point
		anchor Anchor
		rotate float64
	}{
		{"Zürich", regular, 22, Point{180, 35}, AnchorCenter, 0},
		{"Αθήνα", bold, 26, Point{90, 100}, AnchorCenter, 0},
		{"Москва", italic, 26, Point{270, 100}, AnchorCenter, 0},
		{"top-left", regular, 14, Point{20, 150}, AnchorTopLeft, 0},
		{"bottom-right", regular, 14, Point{340, 150}, AnchorBottomRight, 0},
		{"Rhein", []string{"Unknown Font", "Noto Sans Italic"}, 18, Point{180, 200}, AnchorCenter, -20},
	}
	for _, l := range labels {
		b := testFonts.Layout(l.text, l.fonts, l.size, LayoutOptions{})
		c.DrawText(b, l.at, l.anchor, Point{}, l.rotate, haloStyle)
		c.Fill([][]Point{circle(l.at.X, l.at.Y, 1.5, 12, false)}, NonZero, red, 1) // the anchor
	}
	golden.Image(t, "text_point.png", c.Image(), tolerance)
}

// curve is a gentle S from left to right.
func curve(x0, y0, w, amp float64) []Point {
	var pts []Point
	for i := 0; i <= 60; i++ {
		t := float64(i) / 60
		pts = append(pts, Point{x0 + t*w, y0 + amp*math.Sin(t*2*math.Pi)})
	}
	return pts
}

func TestGoldenTextAlong(t *testing.T) {
	c := canvas(400, 240)
	road := StrokeStyle{Width: 16, Color: orange, Opacity: 1, Join: JoinRound, Cap: CapRound}
	st := TextStyle{Color: black, Opacity: 1, HaloColor: white, HaloWidth: 1.5}
	r := testFonts.Shape("Bahnhofstrasse", []string{"Noto Sans Regular"}, 13, 0.05)
	lines := [][]Point{
		curve(20, 70, 360, 30),
		reversed(curve(20, 170, 360, 30)), // drawn right to left: text stays upright
	}
	for i, l := range lines {
		c.Stroke([][]Point{l}, road)
		p, ok := PlaceAlong(r, l, Length(l)*(0.3+0.4*float64(i)), 30)
		if !ok {
			t.Fatalf("line %d: label refused", i)
		}
		c.DrawPlacement(p, st)
	}
	golden.Image(t, "text_along.png", c.Image(), tolerance)
}

func TestGoldenTextWrapped(t *testing.T) {
	c := canvas(480, 160)
	busy(c)
	for i, j := range []Justify{JustifyLeft, JustifyCenter, JustifyRight} {
		b := testFonts.Layout("Universitätsspital Zürich Nord Haupteingang", []string{"Noto Sans Bold"}, 15,
			LayoutOptions{MaxWidth: 7, Justify: j})
		if len(b.Lines) < 2 {
			t.Fatalf("%d lines, want the label wrapped", len(b.Lines))
		}
		at := Point{85 + float64(i)*155, 80}
		c.DrawText(b, at, AnchorCenter, Point{}, 0, haloStyle)
		c.Fill([][]Point{circle(at.X, at.Y, 1.5, 12, false)}, NonZero, red, 1) // the anchor
	}
	golden.Image(t, "text_wrapped.png", c.Image(), tolerance)
}

func TestGoldenTextRefused(t *testing.T) {
	c := canvas(400, 200)
	road := StrokeStyle{Width: 12, Color: orange, Opacity: 1, Join: JoinRound, Cap: CapRound}
	st := TextStyle{Color: black, Opacity: 1, HaloColor: white, HaloWidth: 1.5}
	r := testFonts.Shape("Sharp Bend Road", []string{"Noto Sans Regular"}, 13, 0)
	bent := []Point{{20, 40}, {200, 40}, {120, 110}, {380, 110}}
	c.Stroke([][]Point{bent}, road)
	if _, ok := PlaceAlong(r, bent, Length(bent)/2, 45); ok {
		t.Fatal("label placed across a 140° bend")
	}
	straight := curve(20, 165, 360, 8)
	c.Stroke([][]Point{straight}, road)
	p, ok := PlaceAlong(r, straight, Length(straight)/2, 45)
	if !ok {
		t.Fatal("label refused on a gentle curve")
	}
	c.DrawPlacement(p, st)
	golden.Image(t, "text_refused.png", c.Image(), tolerance)
}
