package thumbstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k := Key{URL: "http://example.com/"}
	if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	small := ThumbName(111, 82, "jpeg")
	if err := s.PutCapture(ctx, k, Entry{CapturedAt: now, Title: "Example", Status: 200}, []byte("capture-1"), map[string][]byte{small: []byte("small-1")}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, k)
	if err != nil || e.URL != k.URL || e.Title != "Example" || !e.CapturedAt.Equal(now) || e.Generation == 0 {
		t.Fatalf("entry %+v, %v", e, err)
	}
	if b, err := s.Capture(ctx, k, e); err != nil || string(b) != "capture-1" {
		t.Errorf("capture %q %v", b, err)
	}
	if b, err := s.Thumb(ctx, k, e, small); err != nil || string(b) != "small-1" {
		t.Errorf("thumb %q %v", b, err)
	}
	large := ThumbName(201, 147, "png")
	if _, err := s.Thumb(ctx, k, e, large); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing thumb: %v", err)
	}
	if err := s.PutThumb(ctx, k, e, large, []byte("large-1")); err != nil {
		t.Fatal(err)
	}
	// The other key (full page) is another page.
	if _, err := s.Get(ctx, Key{URL: k.URL, FullPage: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("full page shares the viewport capture: %v", err)
	}

	// A new capture replaces the old files; a failure replaces everything.
	time.Sleep(time.Millisecond)
	if err := s.PutCapture(ctx, k, Entry{CapturedAt: now}, []byte("capture-2"), nil); err != nil {
		t.Fatal(err)
	}
	e2, _ := s.Get(ctx, k)
	if e2.Generation == e.Generation {
		t.Fatal("same generation")
	}
	if _, err := s.Thumb(ctx, k, e, small); !errors.Is(err, ErrNotFound) {
		t.Errorf("old generation's thumbnail kept: %v", err)
	}
	if err := s.PutFailure(ctx, k, Entry{CapturedAt: now, Kind: "timeout", Reason: "too slow"}); err != nil {
		t.Fatal(err)
	}
	f, _ := s.Get(ctx, k)
	if !f.Failed || f.Reason != "too slow" || f.Generation != 0 {
		t.Errorf("failure %+v", f)
	}
	files, _ := filepath.Glob(filepath.Join(s.pageDir(k), "*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], "meta.json") {
		t.Errorf("files after a failure: %v", files)
	}
}

func TestDamagedRecord(t *testing.T) {
	s, _ := Open(t.TempDir())
	ctx := context.Background()
	k := Key{URL: "http://example.com/a"}
	s.PutCapture(ctx, k, Entry{}, []byte("x"), nil)
	os.WriteFile(filepath.Join(s.pageDir(k), "meta.json"), []byte(`{"url": "http://exa`), 0o644)
	if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Errorf("truncated record: %v", err)
	}
	// A record of another URL in the same place (a hash collision, or a
	// file copied by hand) is not this page's.
	other := Key{URL: "http://example.com/b"}
	s.PutCapture(ctx, other, Entry{}, []byte("y"), nil)
	b, _ := os.ReadFile(filepath.Join(s.pageDir(other), "meta.json"))
	os.WriteFile(filepath.Join(s.pageDir(k), "meta.json"), b, 0o644)
	if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Errorf("another page's record: %v", err)
	}
}

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
