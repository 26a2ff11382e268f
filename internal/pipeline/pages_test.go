package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	_ "golang.org/x/image/webp" // to decode webp thumbnails

	"kiln/internal/imgenc"
	"kiln/internal/metrics"
	"kiln/internal/pagerender"
	"kiln/internal/renderq"
	"kiln/internal/thumbstore"
)

// pageFake stands in for Chromium (whose own tests are in pagerender): it
// paints a 1024x768 capture whose colour is the load's number, counts
// loads, can be held, and fails URLs it is told to.
type pageFake struct {
	loads atomic.Int32
	hold  chan struct{}
	fails map[string]*pagerender.PageError
}

func (f *pageFake) Capture(ctx context.Context, job pagerender.Job) (*pagerender.Capture, error) {
	n := f.loads.Add(1)
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if pe := f.fails[job.URL]; pe != nil {
		return nil, pe
	}
	img := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{uint8(n * 40), 0, 200, 255}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return &pagerender.Capture{Image: img, JPEG: buf.Bytes(), URL: job.URL, Status: 200, Title: "fake"}, nil
}

type pagesFixture struct {
	p       *Pages
	store   *thumbstore.Files
	r       *pageFake
	metrics *metrics.Metrics
}

func newPagesFixture(t *testing.T, r *pageFake, cfg PagesConfig) *pagesFixture {
	t.Helper()
	store, err := thumbstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Wait == 0 {
		cfg.Wait = time.Minute // loads are slow under -race on a busy machine
	}
	p := NewPages(store, r, cfg, m, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { p.Close(context.Background()) })
	return &pagesFixture{p: p, store: store, r: r, metrics: m}
}

func thumbReq(url string, s pagerender.Size, f imgenc.Format) ThumbRequest {
	return ThumbRequest{URL: url, Size: s, Format: f, Priority: renderq.OnDemand}
}

// decodeSize decodes a thumbnail and returns its size and first pixel's red.
func decodeSize(t *testing.T, b []byte) (image.Point, uint8) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r, _, _, _ := img.At(0, 0).RGBA()
	return img.Bounds().Size(), uint8(r >> 8)
}

func TestThumbnailMissThenHit(t *testing.T) {
	f := newPagesFixture(t, &pageFake{}, PagesConfig{})
	ctx := context.Background()
	for i, want := range []State{Rendered, Fresh} {
		th, err := f.p.Thumbnail(ctx, thumbReq("http://example.com/", pagerender.Small, imgenc.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		if th.State != want {
			t.Errorf("request %d: state %v, want %v", i, th.State, want)
		}
		if size, _ := decodeSize(t, th.Data); size != image.Pt(111, 82) {
			t.Errorf("size %v", size)
		}
	}
	// One load made every configured size; another size and format is cut
	// from the stored capture, not loaded again.
	for _, r := range []ThumbRequest{
		thumbReq("http://example.com/", pagerender.Large, imgenc.JPEG),
		thumbReq("http://example.com/", pagerender.Size{W: 320, H: 100}, imgenc.PNG),
		thumbReq("http://example.com/", pagerender.Size{W: 320, H: 100}, imgenc.WebP),
	} {
		th, err := f.p.Thumbnail(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if size, _ := decodeSize(t, th.Data); size != image.Pt(r.Size.W, r.Size.H) {
			t.Errorf("%v %v: size %v", r.Size, r.Format, size)
		}
	}
	if n := f.r.loads.Load(); n != 1 {
		t.Errorf("%d page loads, want 1", n)
	}
	if got := testutil.ToFloat64(f.metrics.CacheRequests.WithLabelValues("thumbnail", "hit")); got != 4 {
		t.Errorf("%v cache hits, want 4", got)
	}
	if got := testutil.ToFloat64(f.metrics.Renders.WithLabelValues("page", "thumbnail", "ok")); got != 1 {
		t.Errorf("%v page renders counted, want 1", got)
	}
}

// 100 requests for one URL while its page loads are one page load.
func TestConcurrentRequestsLoadOnce(t *testing.T) {
	r := &pageFake{hold: make(chan struct{})}
	f := newPagesFixture(t, r, PagesConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			size := pagerender.Small
			if i%2 == 1 {
				size = pagerender.Large
			}
			_, err := f.p.Thumbnail(context.Background(), thumbReq("http://example.com/same", size, imgenc.JPEG))
			errs <- err
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(r.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := r.loads.Load(); n != 1 {
		t.Errorf("%d page loads for 100 requests, want 1", n)
	}
}

func TestFailedPageIsCachedNegatively(t *testing.T) {
	bad := &pagerender.PageError{Kind: "http_status", Reason: "http://bad.example/ answered HTTP 500"}
	r := &pageFake{fails: map[string]*pagerender.PageError{"http://bad.example/": bad}}
	f := newPagesFixture(t, r, PagesConfig{NegativeTTL: 200 * time.Millisecond})
	ctx := context.Background()
	req := thumbReq("http://bad.example/", pagerender.Large, imgenc.JPEG)
	for i := range 2 {
		_, err := f.p.Thumbnail(ctx, req)
		var pe *pagerender.PageError
		if !errors.As(err, &pe) || pe.Kind != "http_status" {
			t.Fatalf("request %d: %v, want the page's failure", i, err)
		}
	}
	if n := r.loads.Load(); n != 1 {
		t.Errorf("%d loads within the negative TTL, want 1", n)
	}
	time.Sleep(250 * time.Millisecond)
	f.p.Thumbnail(ctx, req)
	if n := r.loads.Load(); n != 2 {
		t.Errorf("%d loads after the negative TTL, want 2", n)
	}
	// refresh=1 does not wait for the negative TTL.
	req.Refresh = true
	f.p.Thumbnail(ctx, req)
	if n := r.loads.Load(); n != 3 {
		t.Errorf("%d loads after a refresh, want 3", n)
	}
}

func TestStaleThumbnailServedWhileRefreshing(t *testing.T) {
	r := &pageFake{}
	f := newPagesFixture(t, r, PagesConfig{TTL: 100 * time.Millisecond})
	ctx := context.Background()
	req := thumbReq("http://example.com/", pagerender.Large, imgenc.PNG)
	first, err := f.p.Thumbnail(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, red1 := decodeSize(t, first.Data)
	time.Sleep(150 * time.Millisecond)
	r.hold = make(chan struct{}) // the refresh is slow: the stale one must be served at once
	start := time.Now()
	stale, err := f.p.Thumbnail(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if stale.State != Stale || time.Since(start) > time.Second {
		t.Errorf("state %v after %v, want Stale at once", stale.State, time.Since(start))
	}
	if _, red := decodeSize(t, stale.Data); red != red1 {
		t.Errorf("stale thumbnail is not the old one")
	}
	close(r.hold)
	deadline := time.Now().Add(30 * time.Second) // a load is slow under -race on a busy machine
	for {
		th, err := f.p.Thumbnail(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, red := decodeSize(t, th.Data); red != red1 {
			break // the refreshed capture
		}
		if time.Now().After(deadline) {
			t.Fatal("the stale thumbnail was never refreshed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(f.metrics.CacheRequests.WithLabelValues("thumbnail", "stale")); got < 1 {
		t.Errorf("stale answers not counted")
	}
}

func TestSlowPageIsUnavailable(t *testing.T) {
	r := &pageFake{hold: make(chan struct{})}
	defer close(r.hold)
	f := newPagesFixture(t, r, PagesConfig{Wait: 100 * time.Millisecond})
	_, err := f.p.Thumbnail(context.Background(), thumbReq("http://slow.example/", pagerender.Small, imgenc.JPEG))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v, want ErrUnavailable", err)
	}
	// NoWait answers at once that the page is queued.
	req := thumbReq("http://slow2.example/", pagerender.Small, imgenc.JPEG)
	req.NoWait = true
	if _, err := f.p.Thumbnail(context.Background(), req); !errors.Is(err, ErrQueued) {
		t.Fatalf("%v, want ErrQueued", err)
	}
}

func TestFullQueueIsUnavailable(t *testing.T) {
	r := &pageFake{hold: make(chan struct{})}
	defer close(r.hold)
	var limits [renderq.NumPriorities]int
	for i := range limits {
		limits[i] = 1
	}
	f := newPagesFixture(t, r, PagesConfig{Workers: 1, QueueLimits: limits})
	for i, host := range []string{"a", "b"} { // one loading, one queued
		req := thumbReq("http://"+host+".example/", pagerender.Small, imgenc.JPEG)
		req.NoWait, req.Priority = true, renderq.Bulk
		if _, err := f.p.Thumbnail(context.Background(), req); !errors.Is(err, ErrQueued) {
			t.Fatalf("page %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req := thumbReq("http://c.example/", pagerender.Small, imgenc.JPEG)
	req.Priority = renderq.Bulk
	if _, err := f.p.Thumbnail(context.Background(), req); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v, want ErrUnavailable for a full queue", err)
	}
}

func BenchmarkCachedThumbnail(b *testing.B) {
	store, err := thumbstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	p := NewPages(store, &pageFake{}, PagesConfig{Workers: 1}, metrics.New(), slog.New(slog.DiscardHandler))
	defer p.Close(context.Background())
	ctx := context.Background()
	req := thumbReq("http://example.com/", pagerender.Large, imgenc.JPEG)
	if _, err := p.Thumbnail(ctx, req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Thumbnail(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// sharedPagesFake hands every page job to another node's LoadHere, as the
// shared queue does (sharedq, tested on PostgreSQL, is the real one).
type sharedPagesFake struct{ to *Pages }

type doneTicket chan error

func (t doneTicket) Wait(ctx context.Context) error {
	select {
	case err := <-t:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s sharedPagesFake) EnqueuePage(ctx context.Context, j PageJob, prio renderq.Priority) (SharedTicket, error) {
	done := make(doneTicket, 1)
	go func() { done <- s.to.LoadHere(context.WithoutCancel(ctx), j, prio) }()
	return done, nil
}

// A node sharing its page loads answers from the capture another node
// stored, and a page that failed there with that node's reason.
func TestThumbnailLoadedByAnotherNode(t *testing.T) {
	store, err := thumbstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newNode := func(r *pageFake) *Pages {
		p := NewPages(store, r, PagesConfig{Workers: 1, Wait: time.Minute}, metrics.New(), slog.New(slog.DiscardHandler))
		t.Cleanup(func() { p.Close(context.Background()) })
		return p
	}
	here, there := &pageFake{}, &pageFake{fails: map[string]*pagerender.PageError{
		"http://broken.example/": {Kind: "dns", Reason: "no such host"},
	}}
	a, b := newNode(here), newNode(there)
	a.Share(sharedPagesFake{to: b})
	ctx := context.Background()

	th, err := a.Thumbnail(ctx, thumbReq("http://example.com/", pagerender.Large, imgenc.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := decodeSize(t, th.Data); th.State != Rendered || size != image.Pt(201, 147) {
		t.Errorf("state %v, size %v; want rendered, 201x147", th.State, size)
	}
	_, err = a.Thumbnail(ctx, thumbReq("http://broken.example/", pagerender.Small, imgenc.JPEG))
	if pe, ok := errors.AsType[*pagerender.PageError](err); !ok || pe.Kind != "dns" || pe.Reason != "no such host" {
		t.Errorf("failed page: %v, want the other node's dns error", err)
	}
	if h, th := here.loads.Load(), there.loads.Load(); h != 0 || th != 2 {
		t.Errorf("%d pages loaded here, %d there; want 0 and 2", h, th)
	}
}
