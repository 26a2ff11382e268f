package tilestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/fulldisk"
	"kiln/internal/metatile"
	"kiln/internal/tile"
)

// encode builds a metatile of m whose tile (x, y) holds "z/x/y" repeated n times.
func encode(t testing.TB, m tile.Meta, n int) []byte {
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

func TestPutReadTile(t *testing.T) {
	ctx := context.Background()
	s, err := NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []tile.Meta{{Z: 0, N: 8}, {Z: 2, N: 8}, {Z: 14, X: 4816, Y: 6160, N: 8}, {Z: 5, X: 4, Y: 12, N: 4}} {
		if err := s.Put(ctx, "test", m, encode(t, m, 3), time.Now()); err != nil {
			t.Fatal(err)
		}
		for c := range m.Tiles() {
			got, err := s.ReadTile(ctx, "test", m, c, nil)
			if err != nil {
				t.Fatalf("ReadTile(%s): %v", c, err)
			}
			if want := strings.Repeat(c.String()+";", 3); string(got.Data) != want || got.Gzip {
				t.Errorf("ReadTile(%s) = %q gzip=%v, want %q", c, got.Data, got.Gzip, want)
			}
		}
	}
	// No temporary files are left next to the metatiles.
	filepath.WalkDir(s.Root(), func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
}

func TestReadTileReusesBuffer(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	m := tile.Meta{Z: 10, X: 8, Y: 16, N: 8}
	s.Put(ctx, "test", m, encode(t, m, 2), time.Now())
	buf := make([]byte, 0, 1024)
	got, err := s.ReadTile(ctx, "test", m, tile.Coord{Z: 10, X: 9, Y: 17}, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &got.Data[0] != &buf[:1][0] {
		t.Error("ReadTile did not read into the buffer it was given")
	}
}

func TestReadTileMissingAndCorrupt(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	m := tile.Meta{Z: 12, X: 2048, Y: 1024, N: 8}
	c := tile.Coord{Z: 12, X: 2050, Y: 1027}
	if _, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
	good := encode(t, m, 10)
	head, _, err := metatile.Locate(good[:metatile.HeaderSize(8)], m, c, int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"empty file", nil},
		{"truncated in the header", good[:100]},
		{"truncated in the tile", good[:head.Offset+head.Size-1]},
		{"garbage", bytes.Repeat([]byte("x"), len(good))},
		{"another metatile's file", encode(t, tile.Meta{Z: 12, X: 2056, Y: 1024, N: 8}, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := metatile.Path(s.Root(), "test", m)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			if got, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, metatile.ErrCorrupt) {
				t.Errorf("ReadTile = %q, %v; want ErrCorrupt", got.Data, err)
			}
		})
	}
}

func TestMarkDirtyDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	m := tile.Meta{Z: 3, N: 8}
	if err := s.MarkDirty(ctx, "test", m); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDirty of a missing metatile: %v", err)
	}
	s.Put(ctx, "test", m, encode(t, m, 1), time.Now())
	before, err := s.Stat(ctx, "test", m)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stat(ctx, "test", m)
	if want := before.ModTime.AddDate(-20, 0, 0); !after.ModTime.Equal(want) {
		t.Errorf("dirty mtime %v, want %v", after.ModTime, want)
	}
	if !after.AccessTime.Equal(before.AccessTime) {
		t.Errorf("atime changed from %v to %v", before.AccessTime, after.AccessTime)
	}
	now := time.Now()
	if !MarkedDirty(after.ModTime, now) || MarkedDirty(before.ModTime, now) {
		t.Errorf("MarkedDirty: before %v, after %v", MarkedDirty(before.ModTime, now), MarkedDirty(after.ModTime, now))
	}
	if got := RenderedAt(after.ModTime, now); !got.Equal(before.ModTime) {
		t.Errorf("RenderedAt = %v, want %v", got, before.ModTime)
	}
	// A second mark changes nothing, so the render time is still known.
	s.MarkDirty(ctx, "test", m)
	if again, _ := s.Stat(ctx, "test", m); !again.ModTime.Equal(after.ModTime) {
		t.Errorf("second mark moved mtime to %v", again.ModTime)
	}
	if err := s.Delete(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "test", m); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if err := s.Delete(ctx, "test", m); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}

func TestImportTime(t *testing.T) {
	s, _ := NewFiles(t.TempDir())
	if got := s.ImportTime("a"); !got.IsZero() {
		t.Errorf("no stamp: %v", got)
	}
	t1 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := s.TouchImport(t1); err != nil {
		t.Fatal(err)
	}
	if got := s.ImportTime("a"); !got.Equal(t1) {
		t.Errorf("global stamp: %v, want %v", got, t1)
	}
	// A tileset's own stamp wins over the global one (after the recheck delay).
	t2 := t1.Add(time.Hour)
	os.MkdirAll(filepath.Join(s.Root(), "a"), 0o755)
	p := filepath.Join(s.Root(), "a", ImportStamp)
	os.WriteFile(p, nil, 0o644)
	os.Chtimes(p, t2, t2)
	s.mu.Lock()
	clear(s.stamps)
	s.mu.Unlock()
	if got := s.ImportTime("a"); !got.Equal(t2) {
		t.Errorf("tileset stamp: %v, want %v", got, t2)
	}
	if got := s.ImportTime("b"); !got.Equal(t1) {
		t.Errorf("other tileset: %v, want %v", got, t1)
	}
}

// Readers racing a writer see a whole old or a whole new metatile.
func TestConcurrentPutRead(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	m := tile.Meta{Z: 8, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 8, X: 12, Y: 13}
	s.Put(ctx, "test", m, encode(t, m, 1), time.Now())
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
				if n := len(got.Data) / len(c.String()+";"); strings.Repeat(c.String()+";", n) != string(got.Data) {
					t.Errorf("torn read: %q", got.Data)
					return
				}
			}
		})
	}
	for i := range 200 {
		if err := s.Put(ctx, "test", m, encode(t, m, 1+i%7), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A full disk fails the write with ErrFull and leaves the old metatile and
// no partial file.
func TestPutDiskFull(t *testing.T) {
	dir := fulldisk.Mount(t, 64<<10)
	ctx := context.Background()
	s, _ := NewFiles(dir)
	m := tile.Meta{Z: 9, X: 0, Y: 0, N: 8}
	small := encode(t, m, 1)
	if err := s.Put(ctx, "test", m, small, time.Now()); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, "test", m, encode(t, m, 1000), time.Now()) // ~500 KB into 64 KB
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Put on a full disk: %v, want ErrFull", err)
	}
	got, err := s.ReadMeta(ctx, "test", m)
	if err != nil || !bytes.Equal(got, small) {
		t.Errorf("old metatile lost: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(metatile.Path(dir, "test", m)))
	for _, e := range entries {
		if e.Name() != "0.meta" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// Serving reads the index and the one tile: the bytes of the other tiles
// are never looked at.
func TestReadTileReadsOnlyItsTile(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	m := tile.Meta{Z: 11, X: 1024, Y: 512, N: 8}
	b := encode(t, m, 4)
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
	s.Put(ctx, "test", m, b, time.Now())
	got, err := s.ReadTile(ctx, "test", m, c, nil)
	if err != nil || string(got.Data) != strings.Repeat(c.String()+";", 4) {
		t.Errorf("ReadTile = %q, %v", got.Data, err)
	}
}

func BenchmarkReadTile(b *testing.B) {
	ctx := context.Background()
	s, _ := NewFiles(b.TempDir())
	m := tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}
	s.Put(ctx, "bench", m, encode(b, m, 2000), time.Now()) // ~28 KB tiles
	c := tile.Coord{Z: 14, X: 8699, Y: 5757}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ReadTile(ctx, "bench", m, c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s, _ := NewFiles(b.TempDir())
	m := tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}
	file := encode(b, m, 200)
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		if err := s.Put(ctx, "bench", m, file, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
