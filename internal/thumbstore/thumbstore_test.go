package thumbstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoTemporaryFilesLeft(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	k := Key{URL: "http://example.com/"}
	for range 3 {
		if err := s.PutCapture(context.Background(), k, Entry{}, bytes.Repeat([]byte("x"), 1000), map[string][]byte{"1x1.png": {1}}); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

func BenchmarkThumb(b *testing.B) {
	s, _ := Open(b.TempDir())
	ctx := context.Background()
	k := Key{URL: "http://example.com/"}
	s.PutCapture(ctx, k, Entry{}, []byte("capture"), map[string][]byte{"201x147.jpeg": bytes.Repeat([]byte("x"), 8000)})
	for b.Loop() {
		e, err := s.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Thumb(ctx, k, e, "201x147.jpeg"); err != nil {
			b.Fatal(err)
		}
	}
}
