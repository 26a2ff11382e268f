// Package storetest is the test suite every thumbnail cache backend passes
// (thumbstore.Files, thumbstore.S3), checked the same way against each.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"kiln/internal/thumbstore"
)

// Store is what a backend offers.
type Store interface {
	Get(ctx context.Context, k thumbstore.Key) (thumbstore.Entry, error)
	PutCapture(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, capture []byte, thumbs map[string][]byte) error
	PutFailure(ctx context.Context, k thumbstore.Key, e thumbstore.Entry) error
	Capture(ctx context.Context, k thumbstore.Key, e thumbstore.Entry) ([]byte, error)
	Thumb(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, name string) ([]byte, error)
	PutThumb(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, name string, b []byte) error
}

// Backend opens stores and reaches under them, to a page's stored files
// by name ("meta.json", "<generation>.201x147.jpeg").
type Backend struct {
	Open  func(t *testing.T) Store                      // a new, empty store
	Names func(t *testing.T, k thumbstore.Key) []string // what is stored for a page
	Write func(t *testing.T, k thumbstore.Key, name string, b []byte)
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store, b Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"DamagedRecord", testDamagedRecord},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b.Open(t), b) })
	}
}

func testRoundTrip(t *testing.T, s Store, b Backend) {
	ctx := context.Background()
	k := thumbstore.Key{URL: "http://example.com/"}
	if _, err := s.Get(ctx, k); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	small := thumbstore.ThumbName(111, 82, "jpeg")
	if err := s.PutCapture(ctx, k, thumbstore.Entry{CapturedAt: now, Title: "Example", Status: 200}, []byte("capture-1"), map[string][]byte{small: []byte("small-1")}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, k)
	if err != nil || e.URL != k.URL || e.Title != "Example" || !e.CapturedAt.Equal(now) || e.Generation == 0 {
		t.Fatalf("entry %+v, %v", e, err)
	}
	if got, err := s.Capture(ctx, k, e); err != nil || string(got) != "capture-1" {
		t.Errorf("capture %q %v", got, err)
	}
	if got, err := s.Thumb(ctx, k, e, small); err != nil || string(got) != "small-1" {
		t.Errorf("thumb %q %v", got, err)
	}
	large := thumbstore.ThumbName(201, 147, "png")
	if _, err := s.Thumb(ctx, k, e, large); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Errorf("missing thumb: %v", err)
	}
	if err := s.PutThumb(ctx, k, e, large, []byte("large-1")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Thumb(ctx, k, e, large); err != nil || string(got) != "large-1" {
		t.Errorf("thumb cut later %q %v", got, err)
	}
	// The other key (full page) is another page.
	if _, err := s.Get(ctx, thumbstore.Key{URL: k.URL, FullPage: true}); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Errorf("full page shares the viewport capture: %v", err)
	}

	// A new capture replaces the old files; a failure replaces everything.
	time.Sleep(time.Millisecond)
	if err := s.PutCapture(ctx, k, thumbstore.Entry{CapturedAt: now}, []byte("capture-2"), nil); err != nil {
		t.Fatal(err)
	}
	e2, _ := s.Get(ctx, k)
	if e2.Generation == e.Generation {
		t.Fatal("same generation")
	}
	if _, err := s.Thumb(ctx, k, e, small); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Errorf("old generation's thumbnail kept: %v", err)
	}
	if err := s.PutFailure(ctx, k, thumbstore.Entry{CapturedAt: now, Kind: "timeout", Reason: "too slow"}); err != nil {
		t.Fatal(err)
	}
	f, _ := s.Get(ctx, k)
	if !f.Failed || f.Reason != "too slow" || f.Generation != 0 {
		t.Errorf("failure %+v", f)
	}
	if names := b.Names(t, k); !slices.Equal(names, []string{"meta.json"}) {
		t.Errorf("stored after a failure: %v", names)
	}
}

func testDamagedRecord(t *testing.T, s Store, b Backend) {
	ctx := context.Background()
	k := thumbstore.Key{URL: "http://example.com/a"}
	if err := s.PutCapture(ctx, k, thumbstore.Entry{}, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	b.Write(t, k, "meta.json", []byte(`{"url": "http://exa`))
	if _, err := s.Get(ctx, k); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Errorf("truncated record: %v", err)
	}
	// A record of another URL in the same place (a hash collision, or a
	// file copied by hand) is not this page's.
	other := thumbstore.Key{URL: "http://example.com/b"}
	if err := s.PutCapture(ctx, other, thumbstore.Entry{}, []byte("y"), nil); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(t, k, "meta.json", rec)
	if _, err := s.Get(ctx, k); !errors.Is(err, thumbstore.ErrNotFound) {
		t.Errorf("another page's record: %v", err)
	}
}
