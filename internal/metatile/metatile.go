// Package metatile reads and writes mod_tile's metatile files (".meta") and
// computes their hashed paths, byte for byte as renderd and mod_tile do, so
// that a cache written by either side is served by the other.
//
// It is written by hand because no library implements the format: a
// little-endian header (magic "META" or "METZ", tile count, x, y, z), an
// index of (offset, size) pairs counted from the start of the file, then the
// tiles' bytes. With "METZ" every tile is gzip-compressed.
package metatile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"kiln/internal/tile"
)

const (
	// Magic starts a metatile of plain tiles.
	Magic = "META"
	// MagicCompressed starts a metatile whose tiles are each gzip-compressed.
	MagicCompressed = "METZ"

	headSize  = 20 // magic, count, x, y, z
	entrySize = 8  // offset, size

	// MaxTileSize bounds a single tile. mod_tile refuses tiles over 1 MiB;
	// kiln reads up to 16 MiB so that large @2x tiles of other tools work too.
	MaxTileSize = 16 << 20
)

// ErrCorrupt is returned for a file that is not a valid metatile of the
// expected tile: wrong magic or count, an index pointing outside the file, a
// header naming another tile. Callers treat such a file as missing.
var ErrCorrupt = errors.New("corrupt metatile")

// HeaderSize is the size of the header and index of a metatile of side n:
// 532 bytes for mod_tile's 8×8.
func HeaderSize(n int) int { return headSize + n*n*entrySize }

// Entry locates one tile's bytes inside the file.
type Entry struct {
	Offset, Size int64
}

// Header is a metatile's header and index.
type Header struct {
	Compressed bool // "METZ": tiles are gzip
	Meta       tile.Meta
	Index      []Entry // N×N entries, column-major
}

// Entry returns where tile c's bytes are, or false if the metatile holds no
// bytes for it.
func (h *Header) Entry(c tile.Coord) (Entry, bool) {
	if !h.Meta.Contains(c) {
		return Entry{}, false
	}
	e := h.Index[h.Meta.Index(c)]
	return e, e.Size > 0
}

// ParseHeader decodes the header at the start of b (at least HeaderSize(m.N)
// bytes) and checks it against the metatile m it is expected to hold and
// against the file's size.
func ParseHeader(b []byte, m tile.Meta, fileSize int64) (*Header, error) {
	compressed, err := checkHead(b, m, fileSize)
	if err != nil {
		return nil, err
	}
	h := &Header{Meta: m, Compressed: compressed, Index: make([]Entry, m.N*m.N)}
	for i := range h.Index {
		if h.Index[i], err = entryAt(b, m, i, fileSize); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Decode parses a whole metatile file and returns its tiles by index slot
// (nil for slots without bytes).
func Decode(b []byte, m tile.Meta) (*Header, [][]byte, error) {
	h, err := ParseHeader(b, m, int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	tiles := make([][]byte, len(h.Index))
	for i, e := range h.Index {
		if e.Size > 0 {
			tiles[i] = b[e.Offset : e.Offset+e.Size]
		}
	}
	return h, tiles, nil
}

// Encode writes a "META" file for m (see Append).
func Encode(w io.Writer, m tile.Meta, tiles [][]byte) error {
	head, offs, _, err := header(m, tiles)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	pos := int64(len(head))
	for i, t := range tiles {
		if offs[i] == pos { // not an earlier tile's bytes
			if _, err := w.Write(t); err != nil {
				return err
			}
			pos += int64(len(t))
		}
	}
	return nil
}

// Append appends a "META" file for m to dst. tiles holds N×N tiles by
// index slot (see tile.Meta.Index); nil or empty slots get size 0, as
// renderd writes the tiles of a metatile that lie outside the world. Tile
// data follows the header in index order, as renderd lays it out, except
// that a tile equal to an earlier one points at that one's bytes.
func Append(dst []byte, m tile.Meta, tiles [][]byte) ([]byte, error) {
	head, offs, size, err := header(m, tiles)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(slices.Grow(dst, int(size)), head...)
	for i, t := range tiles {
		if offs[i] == int64(len(dst)-start) { // not an earlier tile's bytes
			dst = append(dst, t...)
		}
	}
	return dst, nil
}

// header checks tiles and lays them out (layout), and returns the file's
// header and index, each tile's offset and the file's size.
func header(m tile.Meta, tiles [][]byte) (head []byte, offs []int64, size int64, err error) {
	if len(tiles) != m.N*m.N {
		return nil, nil, 0, fmt.Errorf("metatile %s: %d tiles, want %d", m, len(tiles), m.N*m.N)
	}
	for i, t := range tiles {
		if len(t) > MaxTileSize {
			return nil, nil, 0, fmt.Errorf("metatile %s: tile %d is %d bytes, over the %d-byte limit", m, i, len(t), MaxTileSize)
		}
	}
	offs, size = layout(m, tiles)
	if size > 1<<31-1 {
		return nil, nil, 0, fmt.Errorf("metatile %s: %d bytes do not fit 32-bit offsets", m, size)
	}
	head = make([]byte, HeaderSize(m.N))
	copy(head, Magic)
	le := binary.LittleEndian
	le.PutUint32(head[4:], uint32(len(tiles)))
	le.PutUint32(head[8:], uint32(m.X))
	le.PutUint32(head[12:], uint32(m.Y))
	le.PutUint32(head[16:], uint32(m.Z))
	for i, t := range tiles {
		le.PutUint32(head[headSize+i*entrySize:], uint32(offs[i]))
		le.PutUint32(head[headSize+i*entrySize+4:], uint32(len(t)))
	}
	return head, offs, size, nil
}

// layout places the tiles after the header. A tile whose bytes equal an
// earlier tile's shares its offset, as mod_tile reads every index entry on
// its own: the 64 identical tiles of a metatile of open sea are stored once.
// size is the file's.
func layout(m tile.Meta, tiles [][]byte) (offs []int64, size int64) {
	offs = make([]int64, len(tiles))
	seed := maphash.MakeSeed()
	seen := make(map[uint64]int, len(tiles)) // hash of a tile's bytes → its first index
	size = int64(HeaderSize(m.N))
	for i, t := range tiles {
		offs[i] = size // an empty tile's too, as renderd writes it
		if len(t) == 0 {
			continue
		}
		h := maphash.Bytes(seed, t)
		if j, ok := seen[h]; ok && bytes.Equal(tiles[j], t) {
			offs[i] = offs[j]
			continue
		}
		seen[h] = i
		size += int64(len(t))
	}
	return offs, size
}

// Size is the length of the file Encode writes.
func Size(m tile.Meta, tiles [][]byte) int {
	_, size := layout(m, tiles)
	return int(size)
}

// Path is the file of metatile m of tileset set under root, in mod_tile's
// layout: root/set/z/h4/h3/h2/h1/h0.meta, where each hi packs four bits of
// x (high nibble) and of y (low nibble), h0 holding the lowest.
func Path(root, set string, m tile.Meta) string {
	x, y := m.X, m.Y
	var h [5]int
	for i := range h {
		h[i] = (x&0x0f)<<4 | y&0x0f
		x >>= 4
		y >>= 4
	}
	// Built by appending: this runs for every tile served.
	b := make([]byte, 0, len(root)+len(set)+32)
	b = append(b, root...)
	b = append(b, filepath.Separator)
	b = append(b, set...)
	b = append(b, filepath.Separator)
	b = strconv.AppendInt(b, int64(m.Z), 10)
	for i := 4; i >= 0; i-- {
		b = append(b, filepath.Separator)
		b = strconv.AppendInt(b, int64(h[i]), 10)
	}
	b = append(b, ".meta"...)
	return filepath.Clean(string(b))
}

// ParsePath reverses Path for the part below the tileset directory
// ("z/h4/h3/h2/h1/h0.meta"), returning the metatile of side n it names.
func ParsePath(rel string, n int) (tile.Meta, error) {
	parts := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	if len(parts) != 6 || filepath.Ext(parts[5]) != ".meta" {
		return tile.Meta{}, fmt.Errorf("%q is not a metatile path (z/h4/h3/h2/h1/h0.meta)", rel)
	}
	parts[5] = parts[5][:len(parts[5])-len(".meta")]
	z, err := strconv.Atoi(parts[0])
	if err != nil || z < 0 || z > tile.MaxZoom {
		return tile.Meta{}, fmt.Errorf("%q: bad zoom %q", rel, parts[0])
	}
	var x, y int
	for _, p := range parts[1:] {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 {
			return tile.Meta{}, fmt.Errorf("%q: bad hash component %q", rel, p)
		}
		x = x<<4 | v>>4
		y = y<<4 | v&0x0f
	}
	m := tile.Meta{Z: z, X: x, Y: y, N: n}
	if x&(n-1) != 0 || y&(n-1) != 0 || !(tile.Coord{Z: z, X: x, Y: y}).InGrid() {
		return tile.Meta{}, fmt.Errorf("%q: %s is not a metatile origin at zoom %d", rel, m, z)
	}
	return m, nil
}

// Locate finds tile c in a metatile file of fileSize bytes whose first
// HeaderSize(m.N) bytes are head, checking only what serving c relies on:
// magic, count, the header's tile and c's own index entry. It allocates
// nothing, for the hot path of serving one tile out of a metatile.
func Locate(head []byte, m tile.Meta, c tile.Coord, fileSize int64) (e Entry, compressed bool, err error) {
	if !m.Contains(c) {
		return Entry{}, false, fmt.Errorf("tile %s is not in metatile %s", c, m)
	}
	if compressed, err = checkHead(head, m, fileSize); err != nil {
		return Entry{}, false, err
	}
	if e, err = entryAt(head, m, m.Index(c), fileSize); err != nil {
		return Entry{}, false, err
	}
	if e.Size == 0 {
		return Entry{}, false, fmt.Errorf("%w: no bytes for tile %s", ErrCorrupt, c)
	}
	return e, compressed, nil
}

// checkHead validates the fixed part of a header: size, magic, count and tile.
func checkHead(head []byte, m tile.Meta, fileSize int64) (compressed bool, err error) {
	if hs := HeaderSize(m.N); len(head) < hs || fileSize < int64(hs) {
		return false, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, min(int64(len(head)), fileSize), hs)
	}
	switch string(head[0:4]) {
	case Magic:
	case MagicCompressed:
		compressed = true
	default:
		return false, fmt.Errorf("%w: bad magic %q", ErrCorrupt, head[0:4])
	}
	le := binary.LittleEndian
	if count := int32(le.Uint32(head[4:])); int(count) != m.N*m.N {
		return false, fmt.Errorf("%w: count %d, want %d", ErrCorrupt, count, m.N*m.N)
	}
	x, y, z := int32(le.Uint32(head[8:])), int32(le.Uint32(head[12:])), int32(le.Uint32(head[16:]))
	if int(x) != m.X || int(y) != m.Y || int(z) != m.Z {
		return false, fmt.Errorf("%w: header is for %d/%d/%d, want %s", ErrCorrupt, z, x, y, m)
	}
	return compressed, nil
}

// entryAt reads index entry i, checking that it lies inside the file. A
// size of 0 (a tile outside the world at low zooms) is not an error.
func entryAt(head []byte, m tile.Meta, i int, fileSize int64) (Entry, error) {
	le := binary.LittleEndian
	p := headSize + i*entrySize
	off := int64(int32(le.Uint32(head[p:])))
	size := int64(int32(le.Uint32(head[p+4:])))
	if size == 0 {
		return Entry{}, nil
	}
	if size < 0 || size > MaxTileSize || off < int64(HeaderSize(m.N)) || off+size > fileSize {
		return Entry{}, fmt.Errorf("%w: entry %d (offset %d, size %d) outside the %d-byte file", ErrCorrupt, i, off, size, fileSize)
	}
	return Entry{Offset: off, Size: size}, nil
}
