package vectortile

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"kiln/internal/mapdata"
	"kiln/internal/tile"
)

// countingSource counts the queries of whole tiles (one per layer each).
type countingSource struct {
	fakeSource
	queries atomic.Int64
	gate    chan struct{} // when set, queries wait for it
}

func (s *countingSource) Features(ctx context.Context, layer string, bbox orb.Bound, zoom int, fn func(*mapdata.Feature) error) error {
	if layer == "ocean" { // the first layer: one count per tile
		s.queries.Add(1)
		if s.gate != nil {
			<-s.gate
		}
	}
	return s.fakeSource.Features(ctx, layer, bbox, zoom, fn)
}

func TestCache(t *testing.T) {
	src := &countingSource{}
	var version atomic.Value
	version.Store("a")
	c := NewCache(New(src), func(context.Context) (string, error) { return version.Load().(string), nil }, 2)
	ctx := context.Background()
	get := func(coord tile.Coord) string {
		t.Helper()
		b, v, err := c.Tile(ctx, coord)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %d bytes, %v", coord, len(b), err)
		}
		return v
	}
	a, b, d := tile.Coord{Z: 1}, tile.Coord{Z: 2}, tile.Coord{Z: 3}
	get(a)
	get(a)
	if n := src.queries.Load(); n != 1 {
		t.Errorf("%d encodings of one tile asked for twice", n)
	}
	get(b)
	get(d) // evicts a
	get(a)
	if n := src.queries.Load(); n != 4 {
		t.Errorf("%d encodings after an eviction, want 4", n)
	}
	// New data: everything is made again, under the new version.
	version.Store("b")
	c.checked = time.Time{}
	if v := get(a); v != "b" {
		t.Errorf("version %q after the data changed", v)
	}
	if n := src.queries.Load(); n != 5 {
		t.Errorf("%d encodings after a data change, want 5", n)
	}
}

func TestCacheOneEncodingForManyCallers(t *testing.T) {
	src := &countingSource{gate: make(chan struct{})}
	c := NewCache(New(src), func(context.Context) (string, error) { return "v", nil }, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := c.Tile(context.Background(), tile.Coord{Z: 4, X: 3, Y: 5}); err != nil {
				t.Error(err)
			}
		})
	}
	for src.queries.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the one in flight
	close(src.gate)
	wg.Wait()
	if n := src.queries.Load(); n != 1 {
		t.Errorf("%d encodings for 20 callers of one tile", n)
	}
}
