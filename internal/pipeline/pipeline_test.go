package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"kiln/internal/imgenc"
	"kiln/internal/metatile"
	"kiln/internal/metrics"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// flatRenderer paints each metatile one colour that changes with every
// render, counts renders and can be held to simulate a slow render.
type flatRenderer struct {
	renders atomic.Int32
	hold    chan struct{} // if not nil, Render waits for it
	fail    error
}

func (r *flatRenderer) Render(ctx context.Context, m tile.Meta, ts int, scale float64, dst *image.RGBA) error {
	n := r.renders.Add(1)
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.fail != nil {
		return r.fail
	}
	if dst.Rect.Dx() != m.Side()*ts {
		return errors.New("canvas of the wrong size")
	}
	draw.Draw(dst, dst.Rect, image.NewUniform(color.RGBA{uint8(n), uint8(m.Z), 0, 255}), image.Point{}, draw.Src)
	return nil
}

type fixture struct {
	p       *Pipeline
	store   *tilestore.Files
	style   *Style
	r       *flatRenderer
	metrics *metrics.Metrics
}

func newFixture(t *testing.T, r *flatRenderer) *fixture {
	t.Helper()
	store, err := tilestore.NewFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	p := New(store, Config{Workers: 2, RenderTimeout: 5 * time.Second}, m, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { p.Close(context.Background()) })
	s := &Style{ID: "flat", Renderer: r, RendererName: "map", Encoder: imgenc.New(imgenc.PNG, 0),
		MinZoom: 0, MaxZoom: 20, TileSize: 32, MetaSize: 8}
	return &fixture{p: p, store: store, style: s, r: r, metrics: m}
}

func (f *fixture) req(z, x, y int) Request {
	return Request{Style: f.style, Scale: 1, Coord: tile.Coord{Z: z, X: x, Y: y}}
}

// red is the red channel of a tile's first pixel: the render's number.
func red(t *testing.T, b []byte) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r, _, _, _ := img.At(0, 0).RGBA()
	return int(r >> 8)
}

func TestMissThenHit(t *testing.T) {
	f := newFixture(t, &flatRenderer{})
	ctx := context.Background()
	got, err := f.p.Tile(ctx, f.req(12, 2050, 1361), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Rendered || red(t, got.Data) != 1 {
		t.Errorf("first request: state %v, render %d", got.State, red(t, got.Data))
	}
	// Every tile of the metatile is now cached, from that one render.
	m := tile.MetaOf(tile.Coord{Z: 12, X: 2050, Y: 1361}, 8)
	for c := range m.Tiles() {
		got, err := f.p.Tile(ctx, f.req(c.Z, c.X, c.Y), nil)
		if err != nil || got.State != Fresh || red(t, got.Data) != 1 {
			t.Fatalf("tile %s: state %v, err %v", c, got.State, err)
		}
	}
	if n := f.r.renders.Load(); n != 1 {
		t.Errorf("%d renders, want 1", n)
	}
	if v := testutil.ToFloat64(f.metrics.Renders.WithLabelValues("map", "flat", "ok")); v != 1 {
		t.Errorf("kiln_renders_total = %v", v)
	}
	if v := testutil.ToFloat64(f.metrics.CacheRequests.WithLabelValues("tile", "hit")); v != 64 {
		t.Errorf("hits = %v, want 64", v)
	}
}

// 100 concurrent requests for the tiles of one missing metatile: one render.
func TestConcurrentMissesRenderOnce(t *testing.T) {
	r := &flatRenderer{hold: make(chan struct{})}
	f := newFixture(t, r)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			got, err := f.p.Tile(context.Background(), f.req(10, 16+i%8, 24+i/8%8), nil)
			if err != nil || got.State != Rendered {
				t.Errorf("request %d: %v, %v", i, got.State, err)
			}
		})
	}
	for f.p.QueueStats().Joined < 99 {
		time.Sleep(time.Millisecond)
	}
	close(r.hold)
	wg.Wait()
	if n := r.renders.Load(); n != 1 {
		t.Errorf("%d renders, want 1", n)
	}
}

func TestStaleServedWhileRerendering(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		stale func(f *fixture)
	}{
		{"marked dirty", func(f *fixture) { f.p.Dirty(ctx, f.req(9, 100, 200)) }},
		{"older than the import", func(f *fixture) { f.store.TouchImport(time.Now()) }},
		{"past its TTL", func(f *fixture) { f.style.TTL = time.Nanosecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &flatRenderer{}
			f := newFixture(t, r)
			if _, err := f.p.Tile(ctx, f.req(9, 100, 200), nil); err != nil {
				t.Fatal(err)
			}
			r.hold = make(chan struct{})
			tc.stale(f)
			got, err := f.p.Tile(ctx, f.req(9, 101, 201), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != Stale || red(t, got.Data) != 1 {
				t.Errorf("state %v render %d, want the stale first render", got.State, red(t, got.Data))
			}
			close(r.hold)
			c := tile.Coord{Z: 9, X: 101, Y: 201}
			deadline := time.Now().Add(10 * time.Second)
			for {
				t2, err := f.store.ReadTile(ctx, "flat", tile.MetaOf(c, 8), c, nil)
				if err == nil && red(t, t2.Data) == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("stale metatile never re-rendered")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// An import stamp in the future does not make every new render stale.
func TestFutureImportIgnored(t *testing.T) {
	f := newFixture(t, &flatRenderer{})
	ctx := context.Background()
	f.store.TouchImport(time.Now().Add(time.Hour))
	f.p.Tile(ctx, f.req(7, 1, 1), nil)
	if got, err := f.p.Tile(ctx, f.req(7, 1, 1), nil); err != nil || got.State != Fresh {
		t.Errorf("state %v, %v; want fresh", got.State, err)
	}
	if n := f.r.renders.Load(); n != 1 {
		t.Errorf("%d renders, want 1", n)
	}
}

func TestCorruptMetatileRerendered(t *testing.T) {
	f := newFixture(t, &flatRenderer{})
	ctx := context.Background()
	c := tile.Coord{Z: 8, X: 3, Y: 5}
	p := metatile.Path(f.store.Root(), "flat", tile.MetaOf(c, 8))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("META this is not a metatile"), 0o644)
	got, err := f.p.Tile(ctx, f.req(8, 3, 5), nil)
	if err != nil || got.State != Rendered {
		t.Fatalf("state %v, %v", got.State, err)
	}
	if _, err := f.store.ReadTile(ctx, "flat", tile.MetaOf(c, 8), c, nil); err != nil {
		t.Errorf("metatile not replaced: %v", err)
	}
}

func TestSlowRenderIsUnavailable(t *testing.T) {
	r := &flatRenderer{hold: make(chan struct{})}
	f := newFixture(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.p.Tile(ctx, f.req(5, 1, 1), nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("slow render: %v, want ErrUnavailable", err)
	}
	if ra := f.p.RetryAfter(); ra < time.Second || ra > time.Minute {
		t.Errorf("RetryAfter = %v", ra)
	}
	close(r.hold)
	// The render carried on and the tile is cached.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := f.p.Tile(context.Background(), f.req(5, 1, 1), nil)
		if err == nil && got.State == Fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("render abandoned with its waiter")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRenderErrorIsNotUnavailable(t *testing.T) {
	f := newFixture(t, &flatRenderer{fail: errors.New("style broken")})
	_, err := f.p.Tile(context.Background(), f.req(3, 1, 1), nil)
	if err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("failed render: %v", err)
	}
	if v := testutil.ToFloat64(f.metrics.Renders.WithLabelValues("map", "flat", "error")); v != 1 {
		t.Errorf("error renders = %v", v)
	}
}

// fullStore is a store whose disk is full.
type fullStore struct{ *tilestore.Files }

func (fullStore) Put(context.Context, string, tile.Meta, []byte, time.Time) error {
	return tilestore.ErrFull
}

func TestFullDiskIsUnavailable(t *testing.T) {
	f := newFixture(t, &flatRenderer{})
	p := New(fullStore{f.store}, Config{Workers: 1}, metrics.New(), slog.New(slog.DiscardHandler))
	defer p.Close(context.Background())
	_, err := p.Tile(context.Background(), f.req(4, 1, 1), nil)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, tilestore.ErrFull) {
		t.Errorf("full disk: %v", err)
	}
}

func TestSeedAndExpire(t *testing.T) {
	r := &flatRenderer{}
	f := newFixture(t, r)
	ctx := context.Background()
	m := tile.Meta{Z: 6, X: 8, Y: 16, N: 8}
	for i, force := range []bool{false, false, true} {
		did, err := f.p.Seed(ctx, f.style, 1, m, force)
		if err != nil {
			t.Fatal(err)
		}
		if want := i != 1; did != want {
			t.Errorf("Seed #%d (force %v) rendered %v, want %v", i, force, did, want)
		}
	}
	if n := r.renders.Load(); n != 2 {
		t.Errorf("%d renders, want 2", n)
	}
	missing := tile.Meta{Z: 6, X: 0, Y: 0, N: 8}
	for _, a := range []ExpireAction{ExpireDirty, ExpireDelete, ExpireRender} {
		if ok, err := f.p.Expire(ctx, f.style, 1, missing, a); ok || err != nil {
			t.Errorf("expire %v of a missing metatile: %v, %v", a, ok, err)
		}
	}
	if ok, err := f.p.Expire(ctx, f.style, 1, m, ExpireDirty); !ok || err != nil {
		t.Fatalf("dirty: %v %v", ok, err)
	}
	st, _ := f.p.Status(ctx, f.req(6, 9, 17))
	if st.Fresh {
		t.Error("marked dirty but fresh")
	}
	if ok, err := f.p.Expire(ctx, f.style, 1, m, ExpireRender); !ok || err != nil {
		t.Fatalf("render: %v %v", ok, err)
	}
	if st, _ = f.p.Status(ctx, f.req(6, 9, 17)); !st.Fresh {
		t.Error("re-rendered but not fresh")
	}
	if ok, err := f.p.Expire(ctx, f.style, 1, m, ExpireDelete); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, err := f.p.Status(ctx, f.req(6, 9, 17)); !errors.Is(err, tilestore.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// BenchmarkRenderMetatile is one whole on-demand render of an 8×8
// metatile: canvas, 64 PNG encodes, metatile file, atomic store. It
// measures the pipeline's own cost around a renderer, for a metatile of
// one colour (the open sea: one encode, reused) and for one whose every
// tile differs.
func BenchmarkRenderMetatile(b *testing.B) {
	for _, bc := range []struct {
		name     string
		renderer Renderer
	}{
		{"one colour", seaRenderer{}},
		{"every tile different", patternRenderer{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store, _ := tilestore.NewFiles(b.TempDir())
			p := New(store, Config{Workers: 1}, metrics.New(), slog.New(slog.DiscardHandler))
			defer p.Close(context.Background())
			s := &Style{ID: "bench", Renderer: bc.renderer, RendererName: "map", Encoder: imgenc.New(imgenc.PNG, 0),
				MaxZoom: 20, TileSize: 256, MetaSize: 8}
			m := tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8}
			for b.Loop() {
				if _, err := p.Seed(context.Background(), s, 1, m, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seaRenderer paints every metatile the sea's colour.
type seaRenderer struct{}

func (seaRenderer) Render(_ context.Context, _ tile.Meta, _ int, _ float64, dst *image.RGBA) error {
	draw.Draw(dst, dst.Rect, image.NewUniform(color.RGBA{170, 211, 223, 255}), image.Point{}, draw.Src)
	return nil
}

// patternRenderer draws diagonal stripes whose colour changes along them,
// so that no two tiles of a metatile are alike.
type patternRenderer struct{}

func (patternRenderer) Render(_ context.Context, _ tile.Meta, _ int, _ float64, dst *image.RGBA) error {
	r := dst.Rect
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := uint8((x + y) / 7)
			dst.SetRGBA(x, y, color.RGBA{v, uint8(x / 64), uint8(y / 64), 255})
		}
	}
	return nil
}

func TestUniformColour(t *testing.T) {
	sea := color.RGBA{170, 211, 223, 255}
	canvas := func(odd ...image.Point) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		draw.Draw(img, img.Rect, image.NewUniform(sea), image.Point{}, draw.Src)
		for _, p := range odd {
			img.SetRGBA(p.X, p.Y, color.RGBA{170, 211, 224, 255})
		}
		return img
	}
	area := image.Rect(32, 32, 64, 64)
	tests := []struct {
		name string
		img  *image.RGBA
		want bool
	}{
		{"one colour", canvas(), true},
		{"one colour, a tile of it", canvas(image.Pt(0, 0), image.Pt(31, 40)).SubImage(area).(*image.RGBA), true},
		{"first pixel differs", canvas(image.Pt(32, 32)).SubImage(area).(*image.RGBA), false},
		{"last pixel differs", canvas(image.Pt(63, 63)).SubImage(area).(*image.RGBA), false},
		{"end of the first row differs", canvas(image.Pt(63, 32)).SubImage(area).(*image.RGBA), false},
		{"transparent", image.NewRGBA(image.Rect(0, 0, 8, 8)), true},
		{"empty", image.NewRGBA(image.Rectangle{}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := uniformColour(tc.img)
			if ok != tc.want {
				t.Fatalf("uniform = %v, want %v", ok, tc.want)
			}
			if ok && tc.img.Rect.Dx() > 8 && c != [4]byte{sea.R, sea.G, sea.B, sea.A} {
				t.Errorf("colour %v, want %v", c, sea)
			}
		})
	}
}

// A metatile of one colour is encoded once and stored as one tile's bytes;
// the next, of another colour, gets its own.
func TestOneColourMetatile(t *testing.T) {
	f := newFixture(t, &flatRenderer{})
	ctx := context.Background()
	for i, m := range []tile.Meta{{Z: 9, X: 8, Y: 16, N: 8}, {Z: 9, X: 16, Y: 16, N: 8}} {
		if _, err := f.p.Seed(ctx, f.style, 1, m, false); err != nil {
			t.Fatal(err)
		}
		file, err := f.store.ReadMeta(ctx, f.style.Set(1), m)
		if err != nil {
			t.Fatal(err)
		}
		_, tiles, err := metatile.Decode(file, m)
		if err != nil {
			t.Fatal(err)
		}
		if want := metatile.HeaderSize(8) + len(tiles[0]); len(file) != want {
			t.Errorf("metatile %s: %d bytes, want %d (one tile's)", m, len(file), want)
		}
		for j, b := range tiles {
			if r := red(t, b); r != i+1 {
				t.Fatalf("metatile %s, tile %d: render %d, want %d", m, j, r, i+1)
			}
		}
	}
}
