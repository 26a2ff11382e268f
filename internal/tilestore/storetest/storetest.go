// Package storetest is the test suite every tile cache backend passes
// (tilestore.Files, tilestore.S3): what the pipeline and the commands rely
// on, checked the same way against each.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/metatile"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// Store is what a backend offers.
type Store interface {
	ReadTile(ctx context.Context, set string, m tile.Meta, c tile.Coord, dst []byte) (tilestore.Tile, error)
	ReadMeta(ctx context.Context, set string, m tile.Meta) ([]byte, error)
	Stat(ctx context.Context, set string, m tile.Meta) (tilestore.Info, error)
	Put(ctx context.Context, set string, m tile.Meta, b []byte, renderedAt time.Time) error
	MarkDirty(ctx context.Context, set string, m tile.Meta) error
	Delete(ctx context.Context, set string, m tile.Meta) error
	ImportTime(set string) time.Time
	TouchImport(t time.Time) error
	Close() error
}

// Options relaxes the suite where a backend's storage cannot do better.
type Options struct {
	// DirtyMayWinRace: a dirty mark racing a render may leave the render
	// marked dirty (so rendered once more) rather than fresh. It is for
	// stores whose conditional copy is not atomic with a write to the
	// same key: versitygw checks a copy's If-Match, then writes, and a
	// PUT between the two loses its metadata to the copy's. An old render
	// must still never be left fresh.
	DirtyMayWinRace bool
}

// Run runs the suite; open returns a new, empty store for each test.
func Run(t *testing.T, open func(t *testing.T) Store, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"PutReadTile", testPutReadTile},
		{"ReadTileReusesBuffer", testReusesBuffer},
		{"ReadTileReadsOnlyItsTile", testReadsOnlyItsTile},
		{"Missing", testMissing},
		{"Corrupt", testCorrupt},
		{"Overwrite", testOverwrite},
		{"MarkDirty", testMarkDirty},
		{"Delete", testDelete},
		{"ImportTime", testImportTime},
		{"ConcurrentPutRead", testConcurrentPutRead},
		{"ConcurrentPutMarkDirty", func(t *testing.T, s Store) { testConcurrentPutMarkDirty(t, s, opts) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// Encode builds a metatile of m whose tile (x, y) holds "z/x/y;" repeated
// n times.
func Encode(t testing.TB, m tile.Meta, n int) []byte {
	t.Helper()
	tiles := make([][]byte, m.N*m.N)
	for c := range m.Tiles() {
		tiles[m.Index(c)] = bytes.Repeat([]byte(c.String()+";"), n)
	}
	var b bytes.Buffer
	if err := metatile.Encode(&b, m, tiles); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// want is what tile c of a metatile from Encode(…, n) holds.
func want(c tile.Coord, n int) string { return strings.Repeat(c.String()+";", n) }

// at is a render time with nanoseconds, which every backend keeps.
var at = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func testPutReadTile(t *testing.T, s Store) {
	ctx := context.Background()
	for _, m := range []tile.Meta{{Z: 0, N: 8}, {Z: 2, N: 8}, {Z: 14, X: 4816, Y: 6160, N: 8}, {Z: 5, X: 4, Y: 12, N: 4}} {
		file := Encode(t, m, 3)
		if err := s.Put(ctx, "test", m, file, at); err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(ctx, "test", m)
		if err != nil {
			t.Fatal(err)
		}
		if !info.ModTime.Equal(at) || info.Size != int64(len(file)) || info.ID == "" || info.ETag == "" {
			t.Errorf("Stat(%s) = %+v, want mtime %v, size %d, an ID and an ETag", m, info, at, len(file))
		}
		for c := range m.Tiles() {
			got, err := s.ReadTile(ctx, "test", m, c, nil)
			if err != nil {
				t.Fatalf("ReadTile(%s): %v", c, err)
			}
			if string(got.Data) != want(c, 3) || got.Gzip || !got.ModTime.Equal(at) || got.ETag != info.ETag {
				t.Errorf("ReadTile(%s) = %q gzip=%v mtime=%v etag=%q, want %q, %v, %q", c, got.Data, got.Gzip, got.ModTime, got.ETag, want(c, 3), at, info.ETag)
			}
		}
		// The stored bytes are the metatile file, unchanged.
		if b, err := s.ReadMeta(ctx, "test", m); err != nil || !bytes.Equal(b, file) {
			t.Errorf("ReadMeta(%s): %d bytes, %v; want the %d put", m, len(b), err, len(file))
		}
	}
	// Tilesets are apart.
	if _, err := s.ReadTile(ctx, "other", tile.Meta{Z: 2, N: 8}, tile.Coord{Z: 2, X: 1, Y: 1}, nil); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("another tileset: %v, want ErrNotFound", err)
	}
}

func testReusesBuffer(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 10, X: 8, Y: 16, N: 8}
	if err := s.Put(ctx, "test", m, Encode(t, m, 2), at); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	for range 2 { // cold, then with what the first read kept
		got, err := s.ReadTile(ctx, "test", m, tile.Coord{Z: 10, X: 9, Y: 17}, buf)
		if err != nil {
			t.Fatal(err)
		}
		if &got.Data[0] != &buf[:1][0] {
			t.Error("ReadTile did not read into the buffer it was given")
		}
	}
}

// Serving reads the index and the one tile: the bytes of the other tiles
// are never looked at.
func testReadsOnlyItsTile(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 11, X: 1024, Y: 512, N: 8}
	b := Encode(t, m, 4)
	c := tile.Coord{Z: 11, X: 1027, Y: 515}
	e, _, err := metatile.Locate(b, m, c, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i := metatile.HeaderSize(8); i < len(b); i++ {
		if int64(i) < e.Offset || int64(i) >= e.Offset+e.Size {
			b[i] = 0xff
		}
	}
	if err := s.Put(ctx, "test", m, b, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadTile(ctx, "test", m, c, nil)
	if err != nil || string(got.Data) != want(c, 4) {
		t.Errorf("ReadTile = %q, %v", got.Data, err)
	}
}

func testMissing(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 12, X: 2048, Y: 1024, N: 8}
	if _, err := s.ReadTile(ctx, "test", m, tile.Coord{Z: 12, X: 2050, Y: 1027}, nil); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("ReadTile: %v, want ErrNotFound", err)
	}
	if info, err := s.Stat(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) || info.ID == "" {
		t.Errorf("Stat: %+v, %v; want ErrNotFound with the ID it would have", info, err)
	}
	if _, err := s.ReadMeta(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("ReadMeta: %v, want ErrNotFound", err)
	}
	if err := s.MarkDirty(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("MarkDirty: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("Delete: %v, want ErrNotFound", err)
	}
}

// A stored file that is not a metatile of the tile asked for is
// ErrCorrupt, and a good one stored over it is read.
func testCorrupt(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 12, X: 2048, Y: 1024, N: 8}
	c := tile.Coord{Z: 12, X: 2050, Y: 1027}
	good := Encode(t, m, 10)
	e, _, err := metatile.Locate(good[:metatile.HeaderSize(8)], m, c, int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"empty file", []byte{}},
		{"truncated in the header", good[:100]},
		{"truncated in the tile", good[:e.Offset+e.Size-1]},
		{"garbage", bytes.Repeat([]byte("x"), len(good))},
		{"another metatile's file", Encode(t, tile.Meta{Z: 12, X: 2056, Y: 1024, N: 8}, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Read the good one first, so that what a backend keeps of it
			// (an open file, a cached header) is put to the test.
			if err := s.Put(ctx, "test", m, good, at); err != nil {
				t.Fatal(err)
			}
			if got, err := s.ReadTile(ctx, "test", m, c, nil); err != nil || string(got.Data) != want(c, 10) {
				t.Fatalf("good: %q %v", got.Data, err)
			}
			if err := s.Put(ctx, "test", m, tc.file, at); err != nil {
				t.Fatal(err)
			}
			if got, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, metatile.ErrCorrupt) {
				t.Errorf("ReadTile = %q, %v; want ErrCorrupt", got.Data, err)
			}
		})
	}
}

// A rewritten metatile is read whole and new, with a new ETag and time.
func testOverwrite(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 9, X: 16, Y: 24, N: 8}
	c := tile.Coord{Z: 9, X: 19, Y: 30}
	if err := s.Put(ctx, "test", m, Encode(t, m, 1), at); err != nil {
		t.Fatal(err)
	}
	first, err := s.ReadTile(ctx, "test", m, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Hour)
	if err := s.Put(ctx, "test", m, Encode(t, m, 5), later); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadTile(ctx, "test", m, c, nil)
	if err != nil || string(got.Data) != want(c, 5) || !got.ModTime.Equal(later) {
		t.Fatalf("after rewrite: %q %v %v", got.Data, got.ModTime, err)
	}
	if got.ETag == first.ETag {
		t.Errorf("ETag %q unchanged by a rewrite", got.ETag)
	}
	if info, _ := s.Stat(ctx, "test", m); info.ETag != got.ETag {
		t.Errorf("Stat's ETag %q, ReadTile's %q", info.ETag, got.ETag)
	}
}

func testMarkDirty(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 3, N: 8}
	c := tile.Coord{Z: 3, X: 2, Y: 5}
	rendered := time.Now().Add(-time.Minute)
	if err := s.Put(ctx, "test", m, Encode(t, m, 1), rendered); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadTile(ctx, "test", m, c, nil); err != nil { // warm any cache
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, mt := range map[string]func() (time.Time, error){
		"Stat":     func() (time.Time, error) { i, err := s.Stat(ctx, "test", m); return i.ModTime, err },
		"ReadTile": func() (time.Time, error) { tl, err := s.ReadTile(ctx, "test", m, c, nil); return tl.ModTime, err },
	} {
		got, err := mt()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Equal(rendered.AddDate(-20, 0, 0)) || !tilestore.MarkedDirty(got, now) {
			t.Errorf("%s: dirty mtime %v, want %v", name, got, rendered.AddDate(-20, 0, 0))
		}
		if r := tilestore.RenderedAt(got, now); !r.Equal(rendered) {
			t.Errorf("%s: RenderedAt = %v, want %v", name, r, rendered)
		}
	}
	// A second mark changes nothing, so the render time is still known.
	if err := s.MarkDirty(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Stat(ctx, "test", m); !again.ModTime.Equal(rendered.AddDate(-20, 0, 0)) {
		t.Errorf("second mark moved mtime to %v", again.ModTime)
	}
	// The tiles are still served.
	if got, err := s.ReadTile(ctx, "test", m, c, nil); err != nil || string(got.Data) != want(c, 1) {
		t.Errorf("dirty tile: %q %v", got.Data, err)
	}
}

func testDelete(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 6, X: 8, Y: 0, N: 8}
	c := tile.Coord{Z: 6, X: 9, Y: 1}
	if err := s.Put(ctx, "test", m, Encode(t, m, 1), at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadTile(ctx, "test", m, c, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("Stat after Delete: %v", err)
	}
	if _, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("ReadTile after Delete: %v", err)
	}
	if err := s.Delete(ctx, "test", m); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}

func testImportTime(t *testing.T, s Store) {
	if got := s.ImportTime("a"); !got.IsZero() {
		t.Errorf("no stamp: %v", got)
	}
	t1 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := s.TouchImport(t1); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"a", "b@2x"} {
		if got := s.ImportTime(set); !got.Equal(t1) {
			t.Errorf("ImportTime(%q) = %v, want %v", set, got, t1)
		}
	}
	t2 := t1.Add(time.Hour)
	if err := s.TouchImport(t2); err != nil {
		t.Fatal(err)
	}
	if got := s.ImportTime("a"); !got.Equal(t2) {
		t.Errorf("after a second import: %v, want %v", got, t2)
	}
}

// Readers racing a writer see a whole old or a whole new metatile.
func testConcurrentPutRead(t *testing.T, s Store) {
	ctx := context.Background()
	m := tile.Meta{Z: 8, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 8, X: 12, Y: 13}
	if err := s.Put(ctx, "test", m, Encode(t, m, 1), at); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.ReadTile(ctx, "test", m, c, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if n := len(got.Data) / len(c.String()+";"); want(c, n) != string(got.Data) {
					t.Errorf("torn read: %q", got.Data)
					return
				}
			}
		})
	}
	for i := range 100 {
		if err := s.Put(ctx, "test", m, Encode(t, m, 1+i%7), at); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A dirty mark racing a new render never gives the new render the old
// one's time: whichever comes last, the stored metatile's RenderedAt is
// the time it was rendered.
func testConcurrentPutMarkDirty(t *testing.T, s Store, opts Options) {
	ctx := context.Background()
	m := tile.Meta{Z: 7, X: 0, Y: 8, N: 8}
	old, fresh := Encode(t, m, 1), Encode(t, m, 2)
	base := time.Now().Add(-time.Hour)
	raced := 0
	for i := range 30 {
		oldAt, freshAt := base.Add(time.Duration(2*i)*time.Second), base.Add(time.Duration(2*i+1)*time.Second)
		if err := s.Put(ctx, "test", m, old, oldAt); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.MarkDirty(ctx, "test", m); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := s.Put(ctx, "test", m, fresh, freshAt); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		b, err := s.ReadMeta(ctx, "test", m)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(ctx, "test", m)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		dirty := tilestore.MarkedDirty(info.ModTime, now)
		switch got := tilestore.RenderedAt(info.ModTime, now); {
		case bytes.Equal(b, fresh) && got.Equal(freshAt): // marked after it, or not
		case opts.DirtyMayWinRace && dirty && (bytes.Equal(b, fresh) || bytes.Equal(b, old)):
			raced++
		case !bytes.Equal(b, fresh):
			t.Fatalf("round %d: the new render was lost", i)
		default:
			t.Fatalf("round %d: the new render's RenderedAt is %v (dirty %v), want %v (the old one's: %v)", i, got, dirty, freshAt, oldAt)
		}
	}
	if raced > 0 {
		t.Logf("%d of 30 renders lost their time to the dirty mark they raced", raced)
	}
}
