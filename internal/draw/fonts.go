package draw

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"slices"
	"sync"
	"unicode"

	"github.com/go-text/typesetting/di"
	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"github.com/go-text/typesetting/shaping"
	"golang.org/x/image/math/fixed"
)

var (
	//go:embed fonts/NotoSans-Regular.ttf
	notoRegular []byte
	//go:embed fonts/NotoSans-Bold.ttf
	notoBold []byte
	//go:embed fonts/NotoSans-Italic.ttf
	notoItalic []byte
)

// FontFile is a font to load: the name styles call it by (MapLibre
// text-font) and its TrueType or OpenType data.
type FontFile struct {
	Name string
	Data []byte
}

// Embedded returns the bundled fonts, Noto Sans Regular, Bold and Italic
// (Latin, Greek, Cyrillic; see fonts/README.md), Regular first.
func Embedded() []FontFile {
	return []FontFile{
		{"Noto Sans Regular", notoRegular},
		{"Noto Sans Bold", notoBold},
		{"Noto Sans Italic", notoItalic},
	}
}

// Fonts shapes text with a set of fonts and caches what it shaped and the
// glyph outlines it drew. It is safe for concurrent use.
type Fonts struct {
	faces   []fontFace
	byName  map[string]int
	shapers sync.Pool // of *shaper: go-text faces and shapers are single-goroutine

	runs    *lru[runKey, *Run]
	blocks  *lru[blockKey, *Block]
	bitmaps *lru[bitmapKey, *glyphBitmap]

	outlineMu sync.RWMutex
	outlines  map[glyphKey]*outline // bounded by the fonts' glyph counts
}

type fontFace struct {
	font            *font.Font
	upem            float64
	ascent, descent float64    // in ems, both positive for a normal font
	face            *font.Face // for reading outlines, under outlineMu
}

// shaper is one goroutine's shaping state.
type shaper struct {
	hb    shaping.HarfbuzzShaper
	seg   shaping.Segmenter
	faces fontmap
}

// fontmap picks, for each rune, the first face in order that has it, or
// the first face when none has.
type fontmap struct {
	faces []*font.Face // one per Fonts face
	order []int
}

func (m *fontmap) ResolveFace(r rune) *font.Face {
	for _, i := range m.order {
		if _, ok := m.faces[i].NominalGlyph(r); ok {
			return m.faces[i]
		}
	}
	return m.faces[m.order[0]]
}

// cacheSize bounds the shaped runs and the laid-out blocks kept, each.
const cacheSize = 8192

// NewFonts loads fonts (e.g. Embedded()). The first is the fallback for
// names no font has.
func NewFonts(files ...FontFile) (*Fonts, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("draw: no fonts")
	}
	if len(files) > 255 {
		return nil, fmt.Errorf("draw: %d fonts, at most 255", len(files))
	}
	f := &Fonts{
		byName:   make(map[string]int),
		runs:     newLRU[runKey, *Run](cacheSize),
		blocks:   newLRU[blockKey, *Block](cacheSize),
		bitmaps:  newLRU[bitmapKey, *glyphBitmap](bitmapCacheSize),
		outlines: make(map[glyphKey]*outline),
	}
	for i, file := range files {
		face, err := font.ParseTTF(bytes.NewReader(file.Data))
		if err != nil {
			return nil, fmt.Errorf("draw: font %q: %w", file.Name, err)
		}
		ext, _ := face.FontHExtents()
		upem := float64(face.Upem())
		f.faces = append(f.faces, fontFace{
			font: face.Font, upem: upem, face: face,
			ascent: float64(ext.Ascender) / upem, descent: -float64(ext.Descender) / upem,
		})
		if _, dup := f.byName[file.Name]; !dup {
			f.byName[file.Name] = i
		}
	}
	f.shapers.New = func() any {
		s := &shaper{}
		for _, ff := range f.faces {
			s.faces.faces = append(s.faces.faces, font.NewFace(ff.font))
		}
		return s
	}
	return f, nil
}

// Run is one line of shaped text, glyphs in visual order (left to right),
// in pixels at its size. Runs are cached and shared: do not modify one.
type Run struct {
	Glyphs []Glyph
	// Width is the advance of the whole line; Ascent and Descent are the
	// fonts' extent above and below the baseline (both positive).
	Width, Ascent, Descent float64
	Size                   float64 // font size in pixels

	text  string
	fonts *Fonts
}

// Glyph is a shaped glyph in a Run.
type Glyph struct {
	// X and Y place the glyph's origin relative to the start of the
	// run's baseline (y down), Advance is its own advance (without letter
	// spacing).
	X, Y, Advance float64
	// Rune is the index, in the text's runes, of the first rune the glyph
	// shows.
	Rune int

	face uint8
	id   font.GID
}

type runKey struct {
	text          string
	stack         uint64
	size, spacing float64
}

// Shape shapes text (one line) at size pixels with the first of fonts
// that is loaded, falling back rune by rune to the other listed fonts,
// then to the rest; unknown names are skipped, and with none known the
// first loaded font is used. letterSpacing (ems) is added between
// characters. Text in several scripts and directions is split into runs
// shaped separately (HarfBuzz) and put in visual order. Results are
// cached by text, fonts, size and spacing.
func (f *Fonts) Shape(text string, fonts []string, size, letterSpacing float64) *Run {
	key := runKey{text, f.stack(fonts), size, letterSpacing}
	if r, ok := f.runs.get(key); ok {
		return r
	}
	r := f.shape(text, key.stack, size, letterSpacing)
	f.runs.put(key, r)
	return r
}

// stack resolves font names to face indices packed a byte each, first
// in the low byte, with their count in the top byte (at most 7 names
// count; later faces are fallbacks anyway).
func (f *Fonts) stack(names []string) uint64 {
	var s uint64
	n := 0
	for _, name := range names {
		i, ok := f.byName[name]
		if !ok || n == 7 || inStack(s, n, i) {
			continue
		}
		s |= uint64(i) << (8 * n)
		n++
	}
	if n == 0 {
		return 0
	}
	return s | uint64(n)<<56
}

func inStack(s uint64, n, i int) bool {
	for k := range n {
		if int(s>>(8*k)&0xff) == i {
			return true
		}
	}
	return false
}

// order lists face indices: the stack, then every other face.
func (f *Fonts) order(stack uint64, buf []int) []int {
	buf = buf[:0]
	n := int(stack >> 56)
	if n == 0 {
		n, stack = 1, 0
	}
	for k := range n {
		buf = append(buf, int(stack>>(8*k)&0xff))
	}
	for i := range f.faces {
		if !slices.Contains(buf, i) {
			buf = append(buf, i)
		}
	}
	return buf
}

func (f *Fonts) shape(text string, stack uint64, size, letterSpacing float64) *Run {
	sh := f.shapers.Get().(*shaper)
	defer f.shapers.Put(sh)
	sh.faces.order = f.order(stack, sh.faces.order)

	runes := []rune(text)
	dir := paragraphDirection(runes)
	in := shaping.Input{Text: runes, RunEnd: len(runes), Direction: dir, Face: sh.faces.faces[sh.faces.order[0]]}
	var outs []shaping.Output
	if len(runes) > 0 {
		for _, seg := range sh.seg.Split(in, &sh.faces) {
			// Shaped at a pixel per font unit, positions come out in font
			// units: go-text rounds sizes up to whole pixels, so scaling
			// them here keeps fractional sizes exact.
			seg.Size = fixed.I(int(seg.Face.Upem()))
			outs = append(outs, sh.hb.Shape(seg))
		}
	}
	visualOrder(outs, dir)

	r := &Run{Size: size, text: text, fonts: f}
	first := f.faces[sh.faces.order[0]]
	r.Ascent, r.Descent = first.ascent*size, first.descent*size
	spacing := letterSpacing * size
	pen, n := 0.0, 0
	for _, o := range outs {
		fi := slices.Index(sh.faces.faces, o.Face)
		ff := f.faces[fi]
		r.Ascent, r.Descent = max(r.Ascent, ff.ascent*size), max(r.Descent, ff.descent*size)
		scale := size / ff.upem
		for _, g := range o.Glyphs {
			if n > 0 && spacing != 0 && g.ClusterIndex != r.Glyphs[n-1].Rune {
				pen += spacing
			}
			r.Glyphs = append(r.Glyphs, Glyph{
				X:       pen + units(g.XOffset)*scale,
				Y:       -units(g.YOffset) * scale,
				Advance: units(g.Advance) * scale,
				Rune:    g.ClusterIndex,
				face:    uint8(fi),
				id:      g.GlyphID,
			})
			pen += units(g.Advance) * scale
			n++
		}
	}
	r.Width = pen
	return r
}

func units(v fixed.Int26_6) float64 { return float64(v) / 64 }

// paragraphDirection is the direction of the first strongly directed
// rune (Unicode bidi rules P2–P3), left to right by default.
func paragraphDirection(runes []rune) di.Direction {
	for _, r := range runes {
		if unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana,
			unicode.Nko, unicode.Samaritan, unicode.Mandaic, unicode.Adlam, unicode.Hanifi_Rohingya) {
			return di.DirectionRTL
		}
		if unicode.IsLetter(r) {
			return di.DirectionLTR
		}
	}
	return di.DirectionLTR
}

// visualOrder puts runs, each with glyphs already in visual order, into
// visual order: runs against the paragraph's direction keep their order
// among themselves, and a right-to-left paragraph reads from its end
// (Unicode bidi rule L2 for two levels).
func visualOrder(outs []shaping.Output, dir di.Direction) {
	for i := 0; i < len(outs); i++ {
		j := i
		for j < len(outs) && outs[j].Direction.Progression() != dir.Progression() {
			j++
		}
		slices.Reverse(outs[i:j])
		i = j
	}
	if dir.Progression() == di.TowardTopLeft {
		slices.Reverse(outs)
	}
}

// glyphKey names a glyph of a loaded font.
type glyphKey struct {
	face uint8
	id   font.GID
}

// outline is a glyph's outline in font units (y up).
type outline struct {
	segs []font.Segment
	// reverse says the contours must be reversed to run the stroker's
	// way round (outer contours negative signedArea on screen), so that
	// a halo's strokes add to the glyph's fill instead of cancelling it.
	reverse bool
}

func (f *Fonts) outline(face uint8, id font.GID) *outline {
	k := glyphKey{face, id}
	f.outlineMu.RLock()
	o := f.outlines[k]
	f.outlineMu.RUnlock()
	if o != nil {
		return o
	}
	f.outlineMu.Lock()
	defer f.outlineMu.Unlock()
	if o = f.outlines[k]; o != nil {
		return o
	}
	g, _ := f.faces[face].face.GlyphDataOutline(id)
	o = &outline{segs: g.Segments}
	// The contour with the largest area is an outer one; fonts wind all
	// their outer contours alike.
	var largest, area float64
	var prev font.SegmentPoint
	for _, s := range g.Segments {
		if s.Op == ot.SegmentOpMoveTo {
			if math.Abs(area) > math.Abs(largest) {
				largest = area
			}
			area = 0
		} else {
			// Control points stand in for the curve: enough for a sign.
			for _, q := range s.Args[:argCount(s.Op)] {
				area += float64(prev.X)*float64(q.Y) - float64(q.X)*float64(prev.Y)
				prev = q
			}
			continue
		}
		prev = s.Args[0]
	}
	if math.Abs(area) > math.Abs(largest) {
		largest = area
	}
	// y flips on screen, which flips the sign.
	o.reverse = largest < 0
	f.outlines[k] = o
	return o
}

func argCount(op ot.SegmentOp) int {
	switch op {
	case ot.SegmentOpQuadTo:
		return 2
	case ot.SegmentOpCubeTo:
		return 3
	}
	return 1
}
