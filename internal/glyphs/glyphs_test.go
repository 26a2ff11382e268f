package glyphs

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// parse decodes a glyph range message into its stack name, range and glyphs.
func parse(b []byte) (name, rng string, glyphs map[rune]glyph, err error) {
	glyphs = map[rune]glyph{}
	err = fields(b, func(num protowire.Number, v uint64, sub []byte) error {
		if num != 1 {
			return nil
		}
		return fields(sub, func(num protowire.Number, v uint64, sub []byte) error {
			switch num {
			case 1:
				name = string(sub)
			case 2:
				rng = string(sub)
			case 3:
				var g glyph
				err := fields(sub, func(num protowire.Number, v uint64, sub []byte) error {
					switch num {
					case 1:
						g.id = rune(v)
					case 2:
						g.bitmap = sub
					case 3:
						g.width = int(v)
					case 4:
						g.height = int(v)
					case 5:
						g.left = int(protowire.DecodeZigZag(v))
					case 6:
						g.top = int(protowire.DecodeZigZag(v))
					case 7:
						g.advance = int(v)
					}
					return nil
				})
				glyphs[g.id] = g
				return err
			}
			return nil
		})
	})
	return
}

// fields walks a message's fields: varints in v, bytes in sub.
func fields(b []byte, fn func(protowire.Number, uint64, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var sub []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			sub, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("field %d: wire type %d", num, typ)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v, sub); err != nil {
			return err
		}
	}
	return nil
}

func openSans(t testing.TB) *Set {
	t.Helper()
	ttf, err := os.ReadFile("testdata/OpenSans-Regular.ttf")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(map[string][]byte{"Open Sans Regular": ttf}, []string{"Open Sans Regular"}, "Open Sans Regular")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLikeFontnik compares kiln's glyphs with node-fontnik's for the same
// font: the same metrics (within a pixel, since FreeType and sfnt round
// curves differently) and nearly the same distance fields.
func TestLikeFontnik(t *testing.T) {
	z, err := os.ReadFile("testdata/opensans.0-256.pbf.z")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	_, _, want, err := parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openSans(t).Range("Open Sans Regular", 0)
	if err != nil {
		t.Fatal(err)
	}
	name, rng, got, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if name != "Open Sans Regular" || rng != "0-255" {
		t.Errorf("stack %q range %q", name, rng)
	}
	compared := 0
	var worst, total float64
	for r, w := range want {
		if r > 255 {
			continue // fontnik's range ran to 256
		}
		g, ok := got[r]
		if !ok {
			t.Errorf("U+%04X: missing", r)
			continue
		}
		near := func(a, b int) bool { return a-b <= 1 && b-a <= 1 }
		if !near(g.width, w.width) || !near(g.height, w.height) || !near(g.left, w.left) || !near(g.top, w.top) || g.advance != w.advance {
			t.Errorf("U+%04X %q: got %dx%d left %d top %d advance %d, fontnik %dx%d left %d top %d advance %d", r, r,
				g.width, g.height, g.left, g.top, g.advance, w.width, w.height, w.left, w.top, w.advance)
			continue
		}
		if g.width != w.width || g.height != w.height || len(w.bitmap) == 0 {
			continue // a pixel off in size: the fields cannot be laid over each other
		}
		var diff int
		for i := range w.bitmap {
			d := int(g.bitmap[i]) - int(w.bitmap[i])
			diff += max(d, -d)
		}
		if mean := float64(diff) / float64(len(w.bitmap)); mean > 8 {
			t.Errorf("U+%04X %q: distance field differs by %.1f on average", r, r, mean)
		}
		worst = max(worst, float64(diff)/float64(len(w.bitmap)))
		total += float64(diff) / float64(len(w.bitmap))
		compared++
	}
	t.Logf("%d glyphs compared: mean difference %.2f, worst %.2f (of 255)", compared, total/float64(compared), worst)
	if compared < 150 {
		t.Errorf("only %d glyphs compared pixel by pixel", compared)
	}
	if len(got) != len(want)-countAbove(want, 255) {
		t.Errorf("%d glyphs, fontnik %d", len(got), len(want))
	}
}

func countAbove(m map[rune]glyph, n rune) int {
	c := 0
	for r := range m {
		if r > n {
			c++
		}
	}
	return c
}

func TestStacks(t *testing.T) {
	s := openSans(t)
	for _, stack := range []string{"Open Sans Regular", "Unknown Font,Open Sans Regular", "Arial Unicode MS Regular"} {
		b, err := s.Range(stack, 0)
		if err != nil {
			t.Fatal(err)
		}
		name, _, glyphs, err := parse(b)
		if err != nil || name != "Open Sans Regular" || len(glyphs) < 190 || glyphs['A'].width == 0 {
			t.Errorf("%q: name %q, %d glyphs, %v", stack, name, len(glyphs), err)
		}
	}
	// A range with no glyphs in the font is a valid, empty range.
	b, err := s.Range("Open Sans Regular", 0x4e00)
	if _, _, glyphs, perr := parse(b); err != nil || perr != nil || len(glyphs) != 0 {
		t.Errorf("CJK range: %d glyphs, %v %v", len(glyphs), err, perr)
	}
	for _, start := range []int{-256, 1, 65536, 300} {
		if _, err := s.Range("Open Sans Regular", start); err == nil {
			t.Errorf("start %d accepted", start)
		}
	}
}

func BenchmarkRange(b *testing.B) {
	s := openSans(b)
	for b.Loop() {
		s.ranges = map[string][]byte{}
		if _, err := s.Range("Open Sans Regular", 0); err != nil {
			b.Fatal(err)
		}
	}
}
