// Package glyphs serves kiln's fonts to MapLibre GL clients as glyph
// ranges: for each block of 256 code points, the glyphs of a font stack as
// signed distance fields in the protocol buffer format of node-fontnik
// (/fonts/{fontstack}/{start}-{end}.pbf), which MapLibre needs to draw any
// text of a style. The vector map then uses the very fonts the raster
// renderer draws with.
//
// The fields follow node-fontnik and sdf-glyph-foundry exactly, since
// MapLibre's text layout assumes them: glyphs outlined at 24 pixels, a
// 3-pixel border, the distance to the outline scaled by 32 per pixel with
// 0.25 of the range for the inside, "top" measured from the ascender. No
// Go library makes these: golang.org/x/image/font/sfnt reads the outlines
// and the distances are computed here, exactly (to the flattened
// outline's segments) rather than by a distance transform of a raster.
package glyphs

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"google.golang.org/protobuf/encoding/protowire"
)

// The SDF parameters of node-fontnik, which MapLibre's shaders assume.
const (
	fontSize = 24
	border   = 3
	cutoff   = 0.25
	radius   = 8
)

// Set is the fonts glyph ranges are made from, with the ranges made so far.
type Set struct {
	fonts    map[string]*sfnt.Font
	names    []string
	fallback string

	mu     sync.Mutex
	ranges map[string][]byte // by resolved stack and start
}

// New parses fonts (by their stack name, e.g. "Noto Sans Regular"); a
// stack naming none of them is drawn with fallback.
func New(fonts map[string][]byte, names []string, fallback string) (*Set, error) {
	s := &Set{fonts: map[string]*sfnt.Font{}, names: names, fallback: fallback, ranges: map[string][]byte{}}
	for _, name := range names {
		f, err := sfnt.Parse(fonts[name])
		if err != nil {
			return nil, fmt.Errorf("font %q: %w", name, err)
		}
		s.fonts[name] = f
	}
	if s.fonts[fallback] == nil {
		return nil, fmt.Errorf("fallback font %q is not in the set", fallback)
	}
	return s, nil
}

// Names lists the fonts a stack may name.
func (s *Set) Names() []string { return s.names }

// ErrRange is a start that is not a multiple of 256 below 65536.
var ErrRange = errors.New("glyph range: want a start that is a multiple of 256, up to 65280")

// Range returns the glyphs of code points start to start+255 for stack,
// a comma-separated list of font names: each glyph comes from the first
// font of the stack that has it. Names kiln does not have are skipped; a
// stack of none of its fonts gets the fallback font. The range is named
// after the fonts used.
func (s *Set) Range(stack string, start int) ([]byte, error) {
	if start < 0 || start > 0xff00 || start%256 != 0 {
		return nil, ErrRange
	}
	var fonts []*sfnt.Font
	var known []string
	for _, name := range strings.Split(stack, ",") {
		name = strings.TrimSpace(name)
		if f := s.fonts[name]; f != nil {
			fonts = append(fonts, f)
			known = append(known, name)
		}
	}
	if len(fonts) == 0 {
		fonts, known = []*sfnt.Font{s.fonts[s.fallback]}, []string{s.fallback}
	}
	key := fmt.Sprintf("%s/%d", strings.Join(known, ","), start)
	s.mu.Lock()
	b, ok := s.ranges[key]
	s.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := encodeRange(strings.Join(known, ","), fonts, start)
	if err != nil {
		return nil, err
	}
	// The keys are bounded: stacks of kiln's own fonts times 256 ranges.
	s.mu.Lock()
	s.ranges[key] = b
	s.mu.Unlock()
	return b, nil
}

// glyph is one glyph's fields in the range message.
type glyph struct {
	id            rune
	bitmap        []byte
	width, height int
	left, top     int
	advance       int
}

func encodeRange(stack string, fonts []*sfnt.Font, start int) ([]byte, error) {
	var buf sfnt.Buffer
	var glyphs []byte
	for r := rune(start); r < rune(start+256); r++ {
		for _, f := range fonts {
			g, ok, err := render(f, &buf, r)
			if err != nil {
				return nil, fmt.Errorf("glyph U+%04X: %w", r, err)
			}
			if ok {
				glyphs = protowire.AppendTag(glyphs, 3, protowire.BytesType)
				glyphs = protowire.AppendBytes(glyphs, g.marshal())
				break
			}
		}
	}
	var stackMsg []byte
	stackMsg = protowire.AppendTag(stackMsg, 1, protowire.BytesType)
	stackMsg = protowire.AppendString(stackMsg, stack)
	stackMsg = protowire.AppendTag(stackMsg, 2, protowire.BytesType)
	stackMsg = protowire.AppendString(stackMsg, fmt.Sprintf("%d-%d", start, start+255))
	stackMsg = append(stackMsg, glyphs...)
	var out []byte
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	return protowire.AppendBytes(out, stackMsg), nil
}

func (g *glyph) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(g.id))
	if len(g.bitmap) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, g.bitmap)
	}
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(g.width))
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(g.height))
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(g.left)))
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(g.top)))
	b = protowire.AppendTag(b, 7, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(g.advance))
	return b
}

// render makes r's glyph from f; ok is false when f has no glyph for r.
func render(f *sfnt.Font, buf *sfnt.Buffer, r rune) (glyph, bool, error) {
	idx, err := f.GlyphIndex(buf, r)
	if err != nil || idx == 0 {
		return glyph{}, false, err
	}
	ppem := fixed.I(fontSize)
	adv, err := f.GlyphAdvance(buf, idx, ppem, font.HintingNone)
	if err != nil {
		return glyph{}, false, err
	}
	m, err := f.Metrics(buf, ppem, font.HintingNone)
	if err != nil {
		return glyph{}, false, err
	}
	// FreeType rounds the ascender up to whole pixels; fontnik measures
	// top from it, for empty glyphs too.
	g := glyph{id: r, advance: adv.Floor(), top: -m.Ascent.Ceil()}
	segs, err := f.LoadGlyph(buf, idx, ppem, nil)
	if err != nil {
		return glyph{}, false, err
	}
	rings := flatten(segs)
	if len(rings) == 0 {
		return g, true, nil // a space: an advance only
	}
	// The glyph's box in whole pixels, y up from the baseline.
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, ring := range rings {
		for _, p := range ring {
			minX, maxX = min(minX, p.x), max(maxX, p.x)
			minY, maxY = min(minY, p.y), max(maxY, p.y)
		}
	}
	minX, minY, maxX, maxY = math.Round(minX), math.Round(minY), math.Round(maxX), math.Round(maxY)
	if maxX == minX || maxY == minY {
		return g, true, nil
	}
	g.left, g.width, g.height = int(minX), int(maxX-minX), int(maxY-minY)
	g.top += int(maxY)
	for _, ring := range rings {
		for i := range ring {
			ring[i].x += border - minX
			ring[i].y += border - minY
		}
	}
	w, h := g.width+2*border, g.height+2*border
	g.bitmap = make([]byte, w*h)
	for y := range h {
		for x := range w {
			px, py := float64(x)+0.5, float64(y)+0.5
			d := distance(rings, px, py) * 256 / radius
			if inside(rings, px, py) {
				d = -d
			}
			d += cutoff * 256
			n := int(min(max(d, 0), 255))
			// Rows from the top: y counts up from the bottom.
			g.bitmap[(h-1-y)*w+x] = byte(255 - n)
		}
	}
	return g, true, nil
}

type point struct{ x, y float64 }

// flatten turns sfnt's outline (26.6 fixed point, y down) into closed
// polylines in pixels with y up, curves cut into short straight pieces.
func flatten(segs sfnt.Segments) [][]point {
	var rings [][]point
	var ring []point
	pt := func(p fixed.Point26_6) point { return point{float64(p.X) / 64, -float64(p.Y) / 64} }
	closeRing := func() {
		if len(ring) > 1 {
			if ring[0] != ring[len(ring)-1] {
				ring = append(ring, ring[0])
			}
			rings = append(rings, ring)
		}
		ring = nil
	}
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			closeRing()
			ring = append(ring, pt(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			ring = append(ring, pt(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			p0, p1, p2 := ring[len(ring)-1], pt(s.Args[0]), pt(s.Args[1])
			const n = 8
			for i := 1; i <= n; i++ {
				t := float64(i) / n
				u := 1 - t
				ring = append(ring, point{u*u*p0.x + 2*u*t*p1.x + t*t*p2.x, u*u*p0.y + 2*u*t*p1.y + t*t*p2.y})
			}
		case sfnt.SegmentOpCubeTo:
			p0, p1, p2, p3 := ring[len(ring)-1], pt(s.Args[0]), pt(s.Args[1]), pt(s.Args[2])
			const n = 12
			for i := 1; i <= n; i++ {
				t := float64(i) / n
				u := 1 - t
				a, b, c, d := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
				ring = append(ring, point{a*p0.x + b*p1.x + c*p2.x + d*p3.x, a*p0.y + b*p1.y + c*p2.y + d*p3.y})
			}
		}
	}
	closeRing()
	return rings
}

// distance is from (x, y) to the nearest outline segment, at most radius.
func distance(rings [][]point, x, y float64) float64 {
	best := float64(radius * radius)
	for _, ring := range rings {
		for i := 1; i < len(ring); i++ {
			a, b := ring[i-1], ring[i]
			dx, dy := b.x-a.x, b.y-a.y
			t := 0.0
			if l := dx*dx + dy*dy; l > 0 {
				t = min(max(((x-a.x)*dx+(y-a.y)*dy)/l, 0), 1)
			}
			ex, ey := a.x+t*dx-x, a.y+t*dy-y
			best = min(best, ex*ex+ey*ey)
		}
	}
	return math.Sqrt(best)
}

// inside tells whether (x, y) is inside the outline by the non-zero
// winding rule, as fonts are filled.
func inside(rings [][]point, x, y float64) bool {
	winding := 0
	for _, ring := range rings {
		for i := 1; i < len(ring); i++ {
			a, b := ring[i-1], ring[i]
			if a.y <= y {
				if b.y > y && (b.x-a.x)*(y-a.y)-(x-a.x)*(b.y-a.y) > 0 {
					winding++
				}
			} else if b.y <= y && (b.x-a.x)*(y-a.y)-(x-a.x)*(b.y-a.y) < 0 {
				winding--
			}
		}
	}
	return winding != 0
}
