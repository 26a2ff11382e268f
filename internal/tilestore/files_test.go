package tilestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// Put leaves no temporary file next to the metatiles, and MarkDirty keeps
// the access time, as mod_tile's tools do.
func TestFilesOnDisk(t *testing.T) {
	ctx := context.Background()
	s, err := NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := tile.Meta{Z: 14, X: 4816, Y: 6160, N: 8}
	for n := range 3 {
		if err := s.Put(ctx, "test", m, encode(t, m, n+1), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(s.Root(), func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
	before, err := s.Stat(ctx, "test", m)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, "test", m); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stat(ctx, "test", m)
	if !after.AccessTime.Equal(before.AccessTime) {
		t.Errorf("atime changed from %v to %v", before.AccessTime, after.AccessTime)
	}
	if !strings.HasPrefix(after.ID, "file://"+s.Root()+"/test/14/") {
		t.Errorf("ID %q", after.ID)
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
