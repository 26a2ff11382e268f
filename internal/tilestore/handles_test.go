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

	"kiln/internal/metatile"
	"kiln/internal/tile"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// A metatile replaced or removed behind kiln's back (renderd, another
// kiln) is served from the open file at most for the revalidate time.
func TestOpenFileRevalidated(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	s.open = newHandles(16, 20*time.Millisecond)
	m := tile.Meta{Z: 9, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 9, X: 9, Y: 9}
	s.Put(ctx, "test", m, encode(t, m, 1), time.Now())
	if got, _ := s.ReadTile(ctx, "test", m, c, nil); string(got.Data) != c.String()+";" {
		t.Fatalf("first read %q", got.Data)
	}
	// Another writer renames a new file into place.
	p := metatile.Path(s.Root(), "test", m)
	tmp := p + ".other"
	os.WriteFile(tmp, encode(t, m, 3), 0o644)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.ReadTile(ctx, "test", m, c, nil)
		if err == nil && string(got.Data) == strings.Repeat(c.String()+";", 3) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replacement never seen: %q %v", got.Data, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	os.Remove(p)
	time.Sleep(30 * time.Millisecond)
	if _, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed metatile: %v", err)
	}
}

// This process's own writes are seen at once.
func TestOpenFileForgottenOnWrite(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	s.open = newHandles(16, time.Hour)
	m := tile.Meta{Z: 9, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 9, X: 9, Y: 9}
	for i := 1; i <= 3; i++ {
		s.Put(ctx, "test", m, encode(t, m, i), time.Now())
		got, err := s.ReadTile(ctx, "test", m, c, nil)
		if err != nil || string(got.Data) != strings.Repeat(c.String()+";", i) {
			t.Fatalf("after write %d: %q %v", i, got.Data, err)
		}
	}
	before, _ := s.ReadTile(ctx, "test", m, c, nil)
	s.MarkDirty(ctx, "test", m)
	after, _ := s.ReadTile(ctx, "test", m, c, nil)
	if !MarkedDirty(after.ModTime, time.Now()) || MarkedDirty(before.ModTime, time.Now()) {
		t.Errorf("dirty mark not seen: %v → %v", before.ModTime, after.ModTime)
	}
	s.Delete(ctx, "test", m)
	if _, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted metatile: %v", err)
	}
}

// At most the limit of files stay open, and Close closes them.
func TestOpenFileLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	s.open = newHandles(3, time.Hour)
	base := openFDs(t)
	for i := range 10 {
		m := tile.Meta{Z: 10, X: 8 * i, Y: 0, N: 8}
		s.Put(ctx, "test", m, encode(t, m, 1), time.Now())
		c := tile.Coord{Z: 10, X: 8*i + 1, Y: 2}
		if got, err := s.ReadTile(ctx, "test", m, c, nil); err != nil || !bytes.Equal(got.Data, []byte(c.String()+";")) {
			t.Fatalf("metatile %d: %q %v", i, got.Data, err)
		}
	}
	if n := openFDs(t) - base; n > 3 {
		t.Errorf("%d files open, limit 3", n)
	}
	s.Close()
	if n := openFDs(t) - base; n > 0 {
		t.Errorf("%d files open after Close", n)
	}
}

// A corrupt metatile mended in place is read afresh.
func TestOpenFileCorruptNotKept(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFiles(t.TempDir())
	s.open = newHandles(16, time.Hour)
	m := tile.Meta{Z: 9, X: 8, Y: 8, N: 8}
	c := tile.Coord{Z: 9, X: 9, Y: 9}
	p := metatile.Path(s.Root(), "test", m)
	os.MkdirAll(filepath.Dir(p), 0o755)
	good := encode(t, m, 1)
	os.WriteFile(p, bytes.Repeat([]byte{'x'}, len(good)), 0o644)
	if _, err := s.ReadTile(ctx, "test", m, c, nil); !errors.Is(err, metatile.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
	os.WriteFile(p, good, 0o644) // same inode, same size
	if got, err := s.ReadTile(ctx, "test", m, c, nil); err != nil || string(got.Data) != c.String()+";" {
		t.Errorf("mended: %q %v", got.Data, err)
	}
}
