package draw

import (
	"fmt"
	"image"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
)

var regular = []string{"Noto Sans Regular"}

func TestFontNames(t *testing.T) {
	for _, tc := range []struct {
		fonts []string
		face  uint8
	}{
		{nil, 0},
		{[]string{"Noto Sans Bold"}, 1},
		{[]string{"Open Sans Semibold", "Noto Sans Italic", "Noto Sans Bold"}, 2},
		{[]string{"Arial Unicode MS Regular"}, 0},
	} {
		r := testFonts.Shape("Name", tc.fonts, 16, 0)
		if r.Glyphs[0].face != tc.face {
			t.Errorf("%q: face %d, want %d", tc.fonts, r.Glyphs[0].face, tc.face)
		}
	}
	if _, err := NewFonts(FontFile{"Broken", []byte("not a font")}); err == nil {
		t.Error("NewFonts took a broken font")
	}
	if _, err := NewFonts(); err == nil {
		t.Error("NewFonts took no fonts")
	}
}

func TestShape(t *testing.T) {
	short := testFonts.Shape("Bern", regular, 16, 0)
	long := testFonts.Shape("Bern Bahnhof", regular, 16, 0)
	if !(long.Width > short.Width && short.Width > 0) {
		t.Errorf("widths %.1f, %.1f: do not grow with the text", short.Width, long.Width)
	}
	if again := testFonts.Shape("Bern", regular, 16, 0); again != short {
		t.Error("shaped run not cached")
	}
	if r := testFonts.Shape("Bern", regular, 32, 0); math.Abs(r.Width-2*short.Width) > 0.01 {
		t.Errorf("width at 32 px %.2f, twice 16 px's is %.2f", r.Width, 2*short.Width)
	}
	// Fractional sizes scale exactly (go-text rounds sizes up to pixels).
	if r := testFonts.Shape("Bern", regular, 12.5, 0); math.Abs(r.Width-short.Width*12.5/16) > 0.01 {
		t.Errorf("width at 12.5 px %.3f, want %.3f", r.Width, short.Width*12.5/16)
	}
	spaced := testFonts.Shape("Bern", regular, 16, 0.1)
	if d := spaced.Width - short.Width; math.Abs(d-3*1.6) > 0.01 {
		t.Errorf("letter spacing added %.2f px, want 3 gaps of 1.6", d)
	}
	// Kerning: "AV" is narrower than "A" and "V" apart.
	av, a, v := testFonts.Shape("AV", regular, 40, 0), testFonts.Shape("A", regular, 40, 0), testFonts.Shape("V", regular, 40, 0)
	if av.Width >= a.Width+v.Width {
		t.Errorf("AV %.1f wide, A+V %.1f: not kerned", av.Width, a.Width+v.Width)
	}
	if short.Ascent <= 0 || short.Descent <= 0 || short.Ascent < 2*short.Descent {
		t.Errorf("ascent %.1f, descent %.1f", short.Ascent, short.Descent)
	}
	for _, text := range []string{"Αθήνα", "Москва", "Zürich", "Ærøskøbing"} {
		for _, g := range testFonts.Shape(text, regular, 16, 0).Glyphs {
			if g.id == 0 {
				t.Errorf("%q: a glyph is missing from Noto Sans", text)
			}
		}
	}
	if g := testFonts.Shape("北京", regular, 16, 0).Glyphs; len(g) != 2 || g[0].id != 0 {
		t.Errorf("CJK without a CJK font: glyphs %v, want two notdefs", g)
	}
	if r := testFonts.Shape("", regular, 16, 0); len(r.Glyphs) != 0 || r.Width != 0 {
		t.Errorf("empty text: %d glyphs, width %.1f", len(r.Glyphs), r.Width)
	}
}

// TestShapeArabic shapes right-to-left text with Debian's Noto Sans
// Arabic: letters take their joining forms and come out in visual order.
func TestShapeArabic(t *testing.T) {
	data, err := os.ReadFile("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf")
	if err != nil {
		t.Skip("no Arabic font:", err)
	}
	f, err := NewFonts(append(Embedded(), FontFile{"Noto Sans Arabic Regular", data})...)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Shape("سلام", regular, 20, 0) // falls back to the Arabic font by rune
	if len(r.Glyphs) == 0 || r.Glyphs[0].face != 3 {
		t.Fatalf("glyphs %+v, want the Arabic font", r.Glyphs)
	}
	// Visual order: the leftmost glyph shows the last letter.
	if first, last := r.Glyphs[0].Rune, r.Glyphs[len(r.Glyphs)-1].Rune; first < last {
		t.Errorf("runes %d…%d left to right, want right to left", first, last)
	}
	// Joining: the initial form of seen differs from its isolated form.
	alone := f.Shape("س", regular, 20, 0).Glyphs[0].id
	if r.Glyphs[len(r.Glyphs)-1].id == alone {
		t.Error("initial seen shaped as the isolated letter")
	}
	// Mixed: a left-to-right paragraph keeps Latin first, then Arabic
	// right to left.
	m := f.Shape("Cairo القاهرة", regular, 20, 0)
	if m.Glyphs[0].Rune != 0 || m.Glyphs[len(m.Glyphs)-1].Rune != 6 {
		t.Errorf("mixed text runes %d…%d, want 0…6", m.Glyphs[0].Rune, m.Glyphs[len(m.Glyphs)-1].Rune)
	}
	for i := 1; i < len(m.Glyphs); i++ {
		if m.Glyphs[i].X < m.Glyphs[i-1].X-0.01 {
			t.Fatalf("glyph %d at x %.1f before glyph %d at %.1f", i, m.Glyphs[i].X, i-1, m.Glyphs[i-1].X)
		}
	}
}

func TestLayout(t *testing.T) {
	o := LayoutOptions{MaxWidth: 6}
	one := testFonts.Layout("Bern", regular, 16, o)
	if len(one.Lines) != 1 || one.Height != 1.2*16 {
		t.Fatalf("short label: %d lines, height %.1f", len(one.Lines), one.Height)
	}
	b := testFonts.Layout("Kantonsspital Sankt Gallen Haus Nord", regular, 16, o)
	if len(b.Lines) < 3 {
		t.Fatalf("%d lines, want the label wrapped to about 6 ems", len(b.Lines))
	}
	var words []string
	for i, l := range b.Lines {
		if l.Run.Width > 1.6*6*16 {
			t.Errorf("line %d %.0f px wide, far over 6 ems", i, l.Run.Width)
		}
		if i > 0 && math.Abs(l.Y-b.Lines[i-1].Y-1.2*16) > 1e-9 {
			t.Errorf("line %d: baseline %.1f below the last, want %.1f", i, l.Y-b.Lines[i-1].Y, 1.2*16)
		}
		if l.X < 0 || l.X+l.Run.Width > b.Width+1e-9 {
			t.Errorf("line %d from %.1f to %.1f, block %.1f wide", i, l.X, l.X+l.Run.Width, b.Width)
		}
		words = append(words, l.Run.text)
	}
	if got := strings.Join(words, " "); got != "Kantonsspital Sankt Gallen Haus Nord" {
		t.Errorf("lines %q lose or repeat words", words)
	}
	if nowrap := testFonts.Layout("Kantonsspital Sankt Gallen Haus Nord", regular, 16, LayoutOptions{}); len(nowrap.Lines) != 1 {
		t.Errorf("MaxWidth 0: %d lines", len(nowrap.Lines))
	}
	if word := testFonts.Layout("Donaudampfschifffahrtsgesellschaft", regular, 16, o); len(word.Lines) != 1 {
		t.Errorf("one long word: %d lines", len(word.Lines))
	}
	if nl := testFonts.Layout("Zürich\nHB", regular, 16, LayoutOptions{}); len(nl.Lines) != 2 {
		t.Errorf("text with a newline: %d lines", len(nl.Lines))
	}
	if empty := testFonts.Layout("  ", regular, 16, o); len(empty.Lines) != 0 || empty.Height != 0 {
		t.Errorf("blank text: %d lines", len(empty.Lines))
	}
	for j, want := range map[Justify]func(l Line, w float64) float64{
		JustifyLeft:   func(Line, float64) float64 { return 0 },
		JustifyCenter: func(l Line, w float64) float64 { return (w - l.Run.Width) / 2 },
		JustifyRight:  func(l Line, w float64) float64 { return w - l.Run.Width },
	} {
		b := testFonts.Layout("Sankt Gallen Hauptbahnhof", regular, 16, LayoutOptions{MaxWidth: 5, Justify: j})
		for _, l := range b.Lines {
			if math.Abs(l.X-want(l, b.Width)) > 1e-9 {
				t.Errorf("justify %d: line at %.1f, want %.1f", j, l.X, want(l, b.Width))
			}
		}
	}
	if testFonts.Layout("Bern", regular, 16, o) != one {
		t.Error("block not cached")
	}
}

func TestPlaceText(t *testing.T) {
	b := testFonts.Layout("Bern", regular, 20, LayoutOptions{})
	at := Point{100, 50}
	for a, want := range map[Anchor]Point{
		AnchorCenter:      {at.X - b.Width/2, at.Y - b.Height/2},
		AnchorTopLeft:     at,
		AnchorBottomRight: {at.X - b.Width, at.Y - b.Height},
		AnchorLeft:        {at.X, at.Y - b.Height/2},
		AnchorTop:         {at.X - b.Width/2, at.Y},
	} {
		p := PlaceText(b, at, a, Point{}, 0)
		box := p.Boxes[0]
		if math.Abs(box.MinX-want.X) > 1e-9 || math.Abs(box.MinY-want.Y) > 1e-9 || math.Abs(box.MaxX-box.MinX-b.Width) > 1e-9 {
			t.Errorf("%v: box %+v, want its corner at %v", a, box, want)
		}
	}
	p := PlaceText(b, at, AnchorCenter, Point{10, -5}, 90)
	box := p.Boxes[0]
	// Turned a quarter clockwise, the offset (10, -5) points (5, 10).
	if math.Abs(box.MaxX-box.MinX-b.Height) > 1e-9 || math.Abs((box.MinX+box.MaxX)/2-105) > 1e-9 || math.Abs((box.MinY+box.MaxY)/2-60) > 1e-9 {
		t.Errorf("turned box %+v", box)
	}
	for _, name := range anchorNames {
		if a, ok := ParseAnchor(name); !ok || a.String() != name {
			t.Errorf("ParseAnchor(%q) = %v, %v", name, a, ok)
		}
	}
	if _, ok := ParseAnchor("middle"); ok {
		t.Error(`ParseAnchor("middle") ok`)
	}
}

func TestPlaceAlong(t *testing.T) {
	r := testFonts.Shape("Seestrasse", regular, 14, 0)
	line := []Point{{0, 100}, {100, 100}, {200, 100}}
	p, ok := PlaceAlong(r, line, 100, 45)
	if !ok || len(p.Boxes) != len(r.Glyphs) {
		t.Fatalf("straight line: ok %v", ok)
	}
	for i, g := range p.glyphs {
		if g.cos != 1 || g.sin != 0 || i > 0 && g.x <= p.glyphs[i-1].x {
			t.Fatalf("glyph %d not upright left to right: %+v", i, g)
		}
	}
	// Text centred on the line: its em box straddles y = 100.
	if b := p.Boxes[0]; b.MinY > 100 || b.MaxY < 100 || math.Abs((b.MinY+b.MaxY)/2-100) > 1e-9 {
		t.Errorf("glyph box %+v not centred on the line", b)
	}
	// Drawn right to left, the line is read backwards.
	back, ok := PlaceAlong(r, reversed(line), 100, 45)
	if !ok {
		t.Fatal("reversed line refused")
	}
	for i, g := range back.glyphs {
		if math.Abs(g.x-p.glyphs[i].x) > 1e-9 || g.cos != 1 {
			t.Fatalf("reversed line: glyph %d at %.2f turned %.2f, want %.2f upright", i, g.x, g.cos, p.glyphs[i].x)
		}
	}
	if _, ok := PlaceAlong(r, line, 20, 45); ok {
		t.Error("placed past the line's start")
	}
	if _, ok := PlaceAlong(r, []Point{{0, 0}, {40, 0}}, 20, 45); ok {
		t.Error("placed on a line shorter than the text")
	}
	bend := []Point{{0, 100}, {100, 100}, {150, 50}}
	if _, ok := PlaceAlong(r, bend, 90, 30); ok {
		t.Error("placed across a 45° bend with a 30° limit")
	}
	if _, ok := PlaceAlong(r, bend, 90, 50); !ok {
		t.Error("refused a 45° bend with a 50° limit")
	}
	// Turns that add up within a character's width count together.
	wiggle := []Point{{0, 100}, {95, 100}, {98, 97}, {101, 100}, {200, 100}}
	if _, ok := PlaceAlong(r, wiggle, 100, 60); ok {
		t.Error("placed across a 90° wiggle with a 60° limit")
	}
	if _, ok := PlaceAlong(r, []Point{{1, 1}}, 0, 45); ok {
		t.Error("placed on a point")
	}
	// Vertical lines read downwards.
	up, ok := PlaceAlong(r, []Point{{50, 200}, {50, 0}}, 100, 45)
	if !ok || up.glyphs[0].sin != 1 || up.glyphs[1].y <= up.glyphs[0].y {
		t.Errorf("vertical line: %+v", up.glyphs[:2])
	}
}

// TestBitmapsMatchOutlines draws upright text both ways: from cached
// glyph bitmaps and from outlines.
func TestBitmapsMatchOutlines(t *testing.T) {
	b := testFonts.Layout("Wädenswil Ωμέγα", []string{"Noto Sans Bold"}, 17, LayoutOptions{})
	p := PlaceText(b, Point{100.25, 30.5}, AnchorCenter, Point{}, 0)
	fill, halo := premul(black, 1), premul(white, 1)
	a, o := canvas(200, 60), canvas(200, 60)
	busy(a)
	busy(o)
	a.drawBitmaps(p, fill, halo, 2, 0)
	o.drawOutlines(p, fill, halo, 2, 0)
	// Bitmaps sit on quarter pixels, and overlapping halos merge by
	// maximum: edges may move by an eighth of a pixel.
	bad, worst := 0, 0
	for i := range a.dst.Pix {
		d := int(a.dst.Pix[i]) - int(o.dst.Pix[i])
		worst = max(worst, d, -d)
		if d > 32 || d < -32 {
			bad++
		}
	}
	if bad > len(a.dst.Pix)/500 || worst > 96 {
		t.Errorf("%d channel values differ by more than 32, at most by %d", bad, worst)
	}
}

func TestCollisions(t *testing.T) {
	c := NewCollisions(Rect{0, 0, 512, 512}, 0)
	label := Rect{100, 100, 200, 120}
	if !c.Fits([]Rect{label}, 0) {
		t.Fatal("empty index refused a box")
	}
	c.Insert([]Rect{label}, 0)
	for _, tc := range []struct {
		box     Rect
		padding float64
		fits    bool
	}{
		{Rect{150, 110, 160, 130}, 0, false},   // overlaps
		{Rect{200, 100, 250, 120}, 0, true},    // touches an edge
		{Rect{202, 100, 250, 120}, 0, true},    // 2 px apart
		{Rect{202, 100, 250, 120}, 2.5, false}, // padded by more than the gap
		{Rect{0, 300, 600, 310}, 0, true},      // wide, elsewhere
		{Rect{90, 90, 210, 130}, 0, false},     // surrounds it
		{Rect{-50, -50, -40, -40}, 0, true},    // outside the area
	} {
		if got := c.Fits([]Rect{tc.box}, tc.padding); got != tc.fits {
			t.Errorf("Fits(%+v, %.1f) = %v", tc.box, tc.padding, got)
		}
	}
	// Boxes beyond the area still collide, in the edge cells.
	c.Insert([]Rect{{600, 600, 650, 650}}, 0)
	if c.Fits([]Rect{{610, 610, 620, 620}}, 0) {
		t.Error("box beyond the area missed")
	}
	// Several boxes: all must fit.
	if c.Fits([]Rect{{300, 300, 310, 310}, {110, 105, 120, 115}}, 0) {
		t.Error("a label with one colliding box fits")
	}
}

// TestConcurrentFonts shares one Fonts among goroutines, each with its
// own canvas (run with -race).
func TestConcurrentFonts(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			c := New(image.NewRGBA(image.Rect(0, 0, 200, 100)))
			for i := range 30 {
				text := fmt.Sprintf("Strasse %d", (g*7+i)%11)
				b := testFonts.Layout(text, regular, 12+float64(i%3), LayoutOptions{MaxWidth: 4})
				c.DrawText(b, Point{100, 50}, AnchorCenter, Point{}, float64(i%2)*10, haloStyle)
				if p, ok := PlaceAlong(b.Lines[0].Run, []Point{{0, 80}, {200, 70}}, 100, 45); ok {
					c.DrawPlacement(p, haloStyle)
				}
			}
		})
	}
	wg.Wait()
}

func TestLRU(t *testing.T) {
	l := newLRU[int, string](2)
	l.put(1, "a")
	l.put(2, "b")
	l.get(1) // 2 is now the least recently used
	l.put(3, "c")
	if _, ok := l.get(2); ok {
		t.Error("least recently used entry kept")
	}
	if v, ok := l.get(1); !ok || v != "a" {
		t.Error("recently used entry lost")
	}
	l.put(1, "A")
	if v, _ := l.get(1); v != "A" {
		t.Error("entry not replaced")
	}
}
