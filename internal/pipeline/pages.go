package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // captures are JPEG
	"log/slog"
	"time"

	"kiln/internal/imgenc"
	"kiln/internal/metrics"
	"kiln/internal/pagerender"
	"kiln/internal/renderq"
	"kiln/internal/thumbstore"
)

// The page side of the pipeline: a thumbnail request is answered from the
// thumbnail cache, or the page is queued (one load however many ask),
// captured by the page renderer, and every configured size cut from the
// one capture, stored and answered — the path tiles take, with pages.

// PageRenderer captures web pages (pagerender.Renderer).
type PageRenderer interface {
	Capture(ctx context.Context, job pagerender.Job) (*pagerender.Capture, error)
}

// ThumbStore is the thumbnail cache (thumbstore.Files or thumbstore.S3).
type ThumbStore interface {
	Get(ctx context.Context, k thumbstore.Key) (thumbstore.Entry, error)
	PutCapture(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, capture []byte, thumbs map[string][]byte) error
	PutFailure(ctx context.Context, k thumbstore.Key, e thumbstore.Entry) error
	Capture(ctx context.Context, k thumbstore.Key, e thumbstore.Entry) ([]byte, error)
	Thumb(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, name string) ([]byte, error)
	PutThumb(ctx context.Context, k thumbstore.Key, e thumbstore.Entry, name string, b []byte) error
}

// PagesConfig tunes the page side.
type PagesConfig struct {
	Workers     int           // pages loaded at once (the renderer's pages in flight)
	TTL         time.Duration // thumbnails older than this are refreshed, served stale meanwhile
	NegativeTTL time.Duration // a failed page is not tried again for this long
	Wait        time.Duration // how long a request waits for a page before ErrUnavailable
	Timeout     time.Duration // deadline of one page job (the renderer has its own, shorter)
	Sizes       []pagerender.Size
	QueueLimits [renderq.NumPriorities]int
}

// Pages answers thumbnail requests.
type Pages struct {
	store    ThumbStore
	renderer PageRenderer
	queue    *renderq.Queue[thumbstore.Entry]
	cfg      PagesConfig
	metrics  *metrics.Metrics
	log      *slog.Logger
	encoders map[imgenc.Format]*imgenc.Encoder
	thumbs   *pagerender.Thumbnailer // keeps the filters of cfg.Sizes

	// shared, if set, takes every page load and gives it to whichever
	// node of a cluster has a free page; queue then runs the ones this
	// node takes.
	shared SharedPages
}

// PageJob names a page load as the nodes of a cluster hand it around.
type PageJob struct {
	URL      string // canonical
	FullPage bool
}

// SharedPages spreads page loads over the nodes of a cluster
// (sharedq.Queue) as SharedQueue spreads metatiles.
type SharedPages interface {
	// EnqueuePage queues j at prio to be loaded and stored by some node,
	// or joins the same load queued or running anywhere.
	EnqueuePage(ctx context.Context, j PageJob, prio renderq.Priority) (SharedTicket, error)
}

// Share makes q take every page load from now on; this node loads what q
// hands it through LoadHere.
func (p *Pages) Share(q SharedPages) { p.shared = q }

// Workers is how many pages this node loads at once.
func (p *Pages) Workers() int { return p.cfg.Workers }

// NewPages starts the page side with its workers.
func NewPages(store ThumbStore, r PageRenderer, cfg PagesConfig, m *metrics.Metrics, log *slog.Logger) *Pages {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 10 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []pagerender.Size{pagerender.Small, pagerender.Large}
	}
	p := &Pages{store: store, renderer: r, cfg: cfg, metrics: m, log: log, encoders: map[imgenc.Format]*imgenc.Encoder{},
		thumbs: pagerender.NewThumbnailer(cfg.Sizes...)}
	for _, f := range []imgenc.Format{imgenc.PNG, imgenc.JPEG, imgenc.WebP} {
		p.encoders[f] = imgenc.New(f, 85)
	}
	p.queue = renderq.New[thumbstore.Entry](renderq.Config{
		Workers: cfg.Workers, Limits: cfg.QueueLimits, Timeout: cfg.Timeout, Logger: log,
	})
	m.WatchQueue(p.queue.Stats)
	return p
}

// Close stops the workers: queued pages are dropped, loading ones get
// until ctx ends.
func (p *Pages) Close(ctx context.Context) error { return p.queue.Close(ctx) }

// ThumbRequest asks for a thumbnail.
type ThumbRequest struct {
	URL      string // canonical
	FullPage bool
	Size     pagerender.Size
	Format   imgenc.Format
	Refresh  bool             // load the page again even if cached
	Priority renderq.Priority // of the page load if one is needed: OnDemand for clients, Bulk for kiln thumb
	NoWait   bool             // queue the load but answer ErrQueued at once when not cached (AST's Exists="false")
}

// Thumb is an answered thumbnail.
type Thumb struct {
	Data  []byte
	Entry thumbstore.Entry
	State State // Fresh, Stale (a refresh is queued) or Rendered
}

// ErrQueued answers a NoWait request for a page not cached yet: its load
// is queued.
var ErrQueued = errors.New("thumbnail queued")

// Thumbnail answers a request. Errors: a *pagerender.PageError (live or
// from the negative cache) for a page that failed; ErrUnavailable when the
// page did not load in time or the queue is full; ErrQueued for NoWait.
func (p *Pages) Thumbnail(ctx context.Context, req ThumbRequest) (Thumb, error) {
	key := thumbstore.Key{URL: req.URL, FullPage: req.FullPage}
	e, err := p.store.Get(ctx, key)
	now := time.Now()
	switch {
	case err == nil && !req.Refresh && e.Failed && now.Sub(e.CapturedAt) < p.cfg.NegativeTTL:
		p.cacheResult("hit")
		return Thumb{Entry: e}, &pagerender.PageError{Kind: e.Kind, Reason: e.Reason + " (cached)"}
	case err == nil && !req.Refresh && !e.Failed:
		data, err := p.cut(ctx, key, e, req.Size, req.Format)
		if err == nil {
			t := Thumb{Data: data, Entry: e}
			// Blank captures are retried as soon as failures are.
			if ttl := p.ttl(e); now.Sub(e.CapturedAt) > ttl {
				p.cacheResult("stale")
				t.State = Stale
				if _, err := p.submit(ctx, key, renderq.Dirty); err != nil && !errors.Is(err, renderq.ErrDeferred) {
					p.log.Debug("stale thumbnail not re-queued", "url", req.URL, "err", err)
				}
				return t, nil
			}
			p.cacheResult("hit")
			return t, nil
		}
		if !errors.Is(err, thumbstore.ErrNotFound) {
			return Thumb{}, err
		}
		// The capture went with a newer generation: load again below.
	case errors.Is(err, thumbstore.ErrUnavailable):
		return Thumb{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil && !errors.Is(err, thumbstore.ErrNotFound):
		return Thumb{}, err
	}
	p.cacheResult("miss")
	wait, err := p.submit(ctx, key, req.Priority)
	if err != nil {
		return Thumb{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if req.NoWait {
		return Thumb{}, ErrQueued
	}
	if p.cfg.Wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.Wait)
		defer cancel()
	}
	e, err = wait(ctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return Thumb{}, fmt.Errorf("%w: page %s still loading: %w", ErrUnavailable, req.URL, ctx.Err())
	case errors.Is(err, renderq.ErrClosed), errors.Is(err, thumbstore.ErrUnavailable):
		return Thumb{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return Thumb{}, err
	}
	data, err := p.cut(ctx, key, e, req.Size, req.Format)
	if err != nil {
		return Thumb{}, err
	}
	return Thumb{Data: data, Entry: e, State: Rendered}, nil
}

// ttl is how long a capture stays fresh: blank ones only as long as a
// failure, so that a page that showed nothing is tried again soon.
func (p *Pages) ttl(e thumbstore.Entry) time.Duration {
	if e.Blank {
		return p.cfg.NegativeTTL
	}
	return p.cfg.TTL
}

func (p *Pages) cacheResult(result string) {
	p.metrics.CacheRequests.WithLabelValues("thumbnail", result).Inc()
}

// submit queues the load of a page at prio, on the shared queue if there
// is one, and returns what waits for it.
func (p *Pages) submit(ctx context.Context, key thumbstore.Key, prio renderq.Priority) (wait func(context.Context) (thumbstore.Entry, error), err error) {
	if p.shared == nil {
		tk, err := p.submitHere(key, prio)
		if err != nil {
			return nil, err
		}
		return tk.Wait, nil
	}
	tk, err := p.shared.EnqueuePage(ctx, PageJob{URL: key.URL, FullPage: key.FullPage}, prio)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (thumbstore.Entry, error) {
		werr := tk.Wait(ctx)
		if ctx.Err() != nil {
			return thumbstore.Entry{}, werr
		}
		// The node that loaded the page stored its capture, or its
		// failure with the reason: the answer is in the cache.
		e, err := p.store.Get(ctx, key)
		switch {
		case err == nil && e.Failed:
			return thumbstore.Entry{}, &pagerender.PageError{Kind: e.Kind, Reason: e.Reason}
		case err == nil && werr == nil:
			return e, nil
		case werr != nil:
			return thumbstore.Entry{}, werr
		}
		return thumbstore.Entry{}, fmt.Errorf("page %s loaded by another node: %w", key.URL, err)
	}, nil
}

// LoadHere loads page j at prio on this node's page workers, whatever the
// shared queue, and returns once it is stored: the shared queue's nodes
// run its page jobs with it.
func (p *Pages) LoadHere(ctx context.Context, j PageJob, prio renderq.Priority) error {
	tk, err := p.submitHere(thumbstore.Key{URL: j.URL, FullPage: j.FullPage}, prio)
	if err != nil {
		return err
	}
	_, err = tk.Wait(ctx)
	return err
}

func (p *Pages) submitHere(key thumbstore.Key, prio renderq.Priority) (*renderq.Ticket[thumbstore.Entry], error) {
	return p.queue.Submit(key.ID(), prio, func(ctx context.Context) (thumbstore.Entry, error) {
		return p.load(ctx, key)
	})
}

// load captures a page on a queue worker and stores the capture with the
// configured sizes, or the failure.
func (p *Pages) load(ctx context.Context, key thumbstore.Key) (thumbstore.Entry, error) {
	start := time.Now()
	c, err := p.renderer.Capture(ctx, pagerender.Job{URL: key.URL, FullPage: key.FullPage})
	took := time.Since(start)
	p.metrics.RenderSeconds.WithLabelValues("page", "").Observe(took.Seconds())
	var pe *pagerender.PageError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		result := "error"
		if pe.Kind == "timeout" {
			result = "timeout"
		}
		p.metrics.Renders.WithLabelValues("page", "thumbnail", result).Inc()
		e := thumbstore.Entry{CapturedAt: time.Now(), Kind: pe.Kind, Reason: pe.Reason}
		if err := p.store.PutFailure(context.WithoutCancel(ctx), key, e); err != nil {
			p.log.Error("storing a page failure", "url", key.URL, "err", err)
		}
		p.log.Info("page failed", "url", key.URL, "kind", pe.Kind, "reason", pe.Reason, "seconds", took.Seconds())
		return thumbstore.Entry{}, err
	default:
		result := "error"
		if errors.Is(err, context.DeadlineExceeded) {
			result = "timeout"
		}
		p.metrics.Renders.WithLabelValues("page", "thumbnail", result).Inc()
		p.log.Error("page render failed", "url", key.URL, "seconds", took.Seconds(), "err", err)
		return thumbstore.Entry{}, err
	}
	p.metrics.Renders.WithLabelValues("page", "thumbnail", "ok").Inc()
	thumbs := make(map[string][]byte, len(p.cfg.Sizes))
	for i, img := range p.thumbs.Thumbnails(c.Image, p.cfg.Sizes...) {
		b, err := p.encoders[imgenc.JPEG].Bytes(img)
		if err != nil {
			return thumbstore.Entry{}, err
		}
		s := p.cfg.Sizes[i]
		thumbs[thumbstore.ThumbName(s.W, s.H, imgenc.JPEG.Ext())] = b
	}
	e := thumbstore.Entry{CapturedAt: time.Now(), FinalURL: c.URL, Title: c.Title, Status: c.Status, Partial: c.Partial, Blank: c.Blank}
	if err := p.store.PutCapture(context.WithoutCancel(ctx), key, e, c.JPEG, thumbs); err != nil {
		return thumbstore.Entry{}, err
	}
	p.log.Info("page captured", "url", key.URL, "seconds", took.Seconds(), "requests", c.Requests, "bytes", c.Bytes, "partial", c.Partial, "blank", c.Blank)
	return p.store.Get(ctx, key)
}

// cut returns a thumbnail of e's capture, made and stored now if no one
// asked for that size and format before.
func (p *Pages) cut(ctx context.Context, key thumbstore.Key, e thumbstore.Entry, s pagerender.Size, f imgenc.Format) ([]byte, error) {
	name := thumbstore.ThumbName(s.W, s.H, f.Ext())
	b, err := p.store.Thumb(ctx, key, e, name)
	if err == nil || !errors.Is(err, thumbstore.ErrNotFound) {
		return b, err
	}
	capture, err := p.store.Capture(ctx, key, e)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(capture))
	if err != nil {
		return nil, fmt.Errorf("stored capture of %s: %w", key.URL, err)
	}
	enc, ok := p.encoders[f]
	if !ok {
		return nil, fmt.Errorf("thumbnail format %s is not offered", f)
	}
	b, err = enc.Bytes(p.thumbs.Thumbnail(img, s))
	if err != nil {
		return nil, err
	}
	if err := p.store.PutThumb(ctx, key, e, name, b); err != nil {
		p.log.Warn("storing a thumbnail", "url", key.URL, "size", s, "err", err)
	}
	return b, nil
}
