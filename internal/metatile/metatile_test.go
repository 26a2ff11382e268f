package metatile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"kiln/internal/tile"
)

// handMade builds a metatile file field by field from the format description
// in mod_tile's metatile.h, independently of Encode: 8×8, tile (dx, dy) holds
// the bytes "t<dx><dy>", data in index order starting at byte 532.
func handMade(magic string, z, x, y int) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	for _, v := range []int32{64, int32(x), int32(y), int32(z)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	offset := int32(532)
	var data bytes.Buffer
	for dx := 0; dx < 8; dx++ {
		for dy := 0; dy < 8; dy++ {
			body := []byte{'t', byte('0' + dx), byte('0' + dy)}
			if 1<<z <= dx || 1<<z <= dy {
				body = nil // outside the world: size 0, offset still the running position
			}
			binary.Write(&b, binary.LittleEndian, offset)
			binary.Write(&b, binary.LittleEndian, int32(len(body)))
			offset += int32(len(body))
			data.Write(body)
		}
	}
	if b.Len() != 532 {
		panic("hand-made header is not 532 bytes")
	}
	b.Write(data.Bytes())
	return b.Bytes()
}

func TestDecodeHandMade(t *testing.T) {
	tests := []struct {
		name    string
		magic   string
		z, x, y int
		tiles   int
	}{
		{"zoom 0 holds one tile", Magic, 0, 0, 0, 1},
		{"zoom 2 holds 4x4", Magic, 2, 0, 0, 16},
		{"zoom 13", Magic, 13, 1232, 5672, 64},
		{"compressed magic", MagicCompressed, 14, 4816, 6160, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := handMade(tc.magic, tc.z, tc.x, tc.y)
			m := tile.Meta{Z: tc.z, X: tc.x, Y: tc.y, N: 8}
			h, tiles, err := Decode(b, m)
			if err != nil {
				t.Fatal(err)
			}
			if h.Compressed != (tc.magic == MagicCompressed) {
				t.Errorf("Compressed = %v", h.Compressed)
			}
			n := 0
			for c := range m.Tiles() {
				want := []byte{'t', byte('0' + c.X - m.X), byte('0' + c.Y - m.Y)}
				if got := tiles[m.Index(c)]; !bytes.Equal(got, want) {
					t.Errorf("tile %s = %q, want %q", c, got, want)
				}
				e, ok := h.Entry(c)
				if !ok || e.Size != 3 {
					t.Errorf("Entry(%s) = %v, %v", c, e, ok)
				}
				n++
			}
			if n != tc.tiles {
				t.Errorf("%d tiles, want %d", n, tc.tiles)
			}
		})
	}
}

func TestEncodeMatchesHandMade(t *testing.T) {
	for _, z := range []int{0, 1, 2, 3, 17} {
		m := tile.Meta{Z: z, N: 8}
		tiles := make([][]byte, 64)
		for c := range m.Tiles() {
			tiles[m.Index(c)] = []byte{'t', byte('0' + c.X), byte('0' + c.Y)}
		}
		var b bytes.Buffer
		if err := Encode(&b, m, tiles); err != nil {
			t.Fatal(err)
		}
		if want := handMade(Magic, z, 0, 0); !bytes.Equal(b.Bytes(), want) {
			t.Errorf("z%d: Encode differs from the hand-made file", z)
		}
		if Size(m, tiles) != b.Len() {
			t.Errorf("z%d: Size %d, wrote %d", z, Size(m, tiles), b.Len())
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	m := tile.Meta{Z: 13, X: 1232, Y: 5672, N: 8}
	good := handMade(Magic, 13, 1232, 5672)
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	le := binary.LittleEndian
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"truncated header", good[:300]},
		{"truncated data", good[:len(good)-1]},
		{"bad magic", mutate(func(b []byte) []byte { copy(b, "MEAT"); return b })},
		{"bad count", mutate(func(b []byte) []byte { le.PutUint32(b[4:], 63); return b })},
		{"other tile", mutate(func(b []byte) []byte { le.PutUint32(b[8:], 1240); return b })},
		{"other zoom", mutate(func(b []byte) []byte { le.PutUint32(b[16:], 12); return b })},
		{"negative size", mutate(func(b []byte) []byte { le.PutUint32(b[24:], 0xffffffff); return b })},
		{"offset into header", mutate(func(b []byte) []byte { le.PutUint32(b[20:], 100); return b })},
		{"offset past end", mutate(func(b []byte) []byte { le.PutUint32(b[20:], 1<<30); return b })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(tc.file, m); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestPath(t *testing.T) {
	// Worked examples from mod_tile's xyzo_to_meta (reference/tileservers.md §b.3).
	tests := []struct {
		c    tile.Coord
		path string
		slot int
	}{
		{tile.Coord{Z: 0, X: 0, Y: 0}, "default/0/0/0/0/0/0.meta", 0},
		{tile.Coord{Z: 1, X: 1, Y: 1}, "default/1/0/0/0/0/0.meta", 9},
		{tile.Coord{Z: 13, X: 1234, Y: 5678}, "default/13/0/1/70/210/8.meta", 22},
		{tile.Coord{Z: 14, X: 4823, Y: 6160}, "default/14/0/17/40/209/0.meta", 56},
		{tile.Coord{Z: 18, X: 130000, Y: 87000}, "default/18/17/245/179/221/8.meta", 0},
	}
	for _, tc := range tests {
		m := tile.MetaOf(tc.c, 8)
		got := Path("/cache", "default", m)
		if want := filepath.Join("/cache", tc.path); got != want {
			t.Errorf("Path(%s) = %s, want %s", tc.c, got, want)
		}
		if slot := m.Index(tc.c); slot != tc.slot {
			t.Errorf("Index(%s) = %d, want %d", tc.c, slot, tc.slot)
		}
		back, err := ParsePath(tc.path[len("default/"):], 8)
		if err != nil || back != m {
			t.Errorf("ParsePath(%s) = %v, %v; want %v", tc.path, back, err, m)
		}
	}
}

func TestParsePathRejects(t *testing.T) {
	for _, p := range []string{"", "13/0/1/70/210.meta", "13/0/1/70/210/8.png", "21/0/0/0/0/0.meta",
		"13/0/1/70/256/8.meta", "13/0/1/70/-1/8.meta", "13/0/1/70/210/9.meta", "1/0/0/0/0/16.meta"} {
		if m, err := ParsePath(p, 8); err == nil {
			t.Errorf("ParsePath(%q) = %v, want an error", p, m)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(handMade(Magic, 13, 1232, 5672), 13, 1232, 5672)
	f.Add(handMade(MagicCompressed, 13, 1232, 5672), 13, 1232, 5672)
	f.Add([]byte("META"), 0, 0, 0)
	f.Fuzz(func(t *testing.T, b []byte, z, x, y int) {
		m := tile.MetaOf(tile.Coord{Z: min(max(z, 0), tile.MaxZoom), X: max(x, 0), Y: max(y, 0)}, 8)
		h, tiles, err := Decode(b, m)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		for i, e := range h.Index {
			if e.Size > 0 && int64(len(tiles[i])) != e.Size {
				t.Fatalf("slot %d: %d bytes, index says %d", i, len(tiles[i]), e.Size)
			}
		}
		// A valid file re-encodes to one that decodes to the same tiles.
		var out bytes.Buffer
		if err := Encode(&out, m, tiles); err != nil {
			t.Fatal(err)
		}
		_, again, err := Decode(out.Bytes(), m)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tiles {
			if !bytes.Equal(tiles[i], again[i]) {
				t.Fatalf("slot %d changed in a round trip", i)
			}
		}
	})
}

func TestEncodeStoresEqualTilesOnce(t *testing.T) {
	sea, land := bytes.Repeat([]byte("sea"), 100), bytes.Repeat([]byte("land"), 100)
	tests := []struct {
		name  string
		tile  func(i int) []byte
		bytes int // of tile data
	}{
		{"all equal", func(int) []byte { return bytes.Clone(sea) }, len(sea)},
		{"two kinds", func(i int) []byte {
			if i%3 == 0 {
				return bytes.Clone(land)
			}
			return bytes.Clone(sea)
		}, len(sea) + len(land)},
		{"all differ", func(i int) []byte { return []byte{'t', byte(i)} }, 64 * 2},
		{"same length, other bytes", func(i int) []byte { return []byte{'t', byte(i % 2)} }, 2 * 2},
	}
	m := tile.Meta{Z: 14, X: 4816, Y: 6160, N: 8}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tiles := make([][]byte, 64)
			for i := range tiles {
				tiles[i] = tc.tile(i)
			}
			var b bytes.Buffer
			if err := Encode(&b, m, tiles); err != nil {
				t.Fatal(err)
			}
			if want := HeaderSize(8) + tc.bytes; b.Len() != want || Size(m, tiles) != want {
				t.Errorf("%d bytes written, Size %d, want %d", b.Len(), Size(m, tiles), want)
			}
			_, got, err := Decode(b.Bytes(), m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tiles {
				if !bytes.Equal(got[i], tiles[i]) {
					t.Errorf("tile %d = %q, want %q", i, got[i], tiles[i])
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	m := tile.Meta{Z: 14, X: 4816, Y: 6160, N: 8}
	tiles := make([][]byte, 64)
	for i := range tiles {
		tiles[i] = bytes.Repeat([]byte{byte(i)}, 8<<10) // a map tile's size, all different
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, m, tiles); err != nil {
			b.Fatal(err)
		}
	}
}

// Append adds the same file as Encode writes after what dst holds.
func TestAppendAfterPrefix(t *testing.T) {
	m := tile.Meta{Z: 3, N: 8}
	tiles := make([][]byte, 64)
	for i := range tiles {
		tiles[i] = []byte{'t', byte(i % 5)}
	}
	var want bytes.Buffer
	if err := Encode(&want, m, tiles); err != nil {
		t.Fatal(err)
	}
	got, err := Append([]byte("prefix"), m, tiles)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want.Bytes()...)) {
		t.Errorf("Append after a prefix differs from Encode")
	}
}
