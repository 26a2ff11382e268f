// Package pipeline is kiln's core: a tile request is answered from the
// cache, or queued with a priority, de-duplicated, rendered as a whole
// metatile, stored and answered, the way mod_tile and renderd do it
// together. Renderers and the cache store plug in through the small
// interfaces below.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"kiln/internal/imgenc"
	"kiln/internal/metatile"
	"kiln/internal/metrics"
	"kiln/internal/renderq"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// Renderer draws one metatile.
type Renderer interface {
	// Render draws metatile m into dst, whose bounds are the metatile's
	// pixel area: m.Side() tiles of tileSize pixels per side, tileSize being
	// the style's tile size times scale. dst starts transparent.
	Render(ctx context.Context, m tile.Meta, tileSize int, scale float64, dst *image.RGBA) error
}

// Store is the cache of rendered metatiles (tilestore.Files or tilestore.S3).
type Store interface {
	// ReadTile appends tile c of metatile m of tileset set to dst.
	// tilestore.ErrNotFound if missing, metatile.ErrCorrupt if unreadable.
	ReadTile(ctx context.Context, set string, m tile.Meta, c tile.Coord, dst []byte) (tilestore.Tile, error)
	// Stat describes a stored metatile; on tilestore.ErrNotFound, Info.ID
	// still says where it would be stored.
	Stat(ctx context.Context, set string, m tile.Meta) (tilestore.Info, error)
	// Put stores a whole metatile file atomically, with renderedAt as its
	// modification time.
	Put(ctx context.Context, set string, m tile.Meta, file []byte, renderedAt time.Time) error
	MarkDirty(ctx context.Context, set string, m tile.Meta) error
	Delete(ctx context.Context, set string, m tile.Meta) error
	// ImportTime is when map data was last imported: older tiles are stale.
	ImportTime(set string) time.Time
}

// Style is a tileset that kiln serves: renderd.conf's map section.
type Style struct {
	ID               string
	Renderer         Renderer
	RendererName     string // for metrics: "map" for every tile style
	Encoder          *imgenc.Encoder
	MinZoom, MaxZoom int
	TileSize         int           // pixels per side at @1x
	MetaSize         int           // tiles per metatile side
	TTL              time.Duration // tiles older than this are stale; 0: only imports and dirty marks age them
	URI              string        // mod_tile-style alias, "" for none
	Description      string
	Attribution      string
}

// Set names the cache directory of the style at a scale: "osm", "osm@2x".
func (s *Style) Set(scale int) string {
	if scale == 1 {
		return s.ID
	}
	return fmt.Sprintf("%s@%dx", s.ID, scale)
}

// Request names one tile of a style at a scale (1 or 2).
type Request struct {
	Style *Style
	Scale int
	tile.Coord
}

func (r Request) meta() tile.Meta { return tile.MetaOf(r.Coord, r.Style.MetaSize) }

// State says where an answered tile came from.
type State int

const (
	Fresh    State = iota // from the cache, up to date
	Stale                 // from the cache, out of date; a re-render is queued
	Rendered              // missing from the cache, rendered for this request
)

// Tile is an answered tile.
type Tile struct {
	Data       []byte
	Gzip       bool      // Data is gzip-compressed
	RenderedAt time.Time // when its metatile was rendered
	State      State
}

var (
	// ErrUnavailable marks answers that a client should retry later: the
	// render did not finish in time, the queue is full, the cache's disk
	// is full.
	ErrUnavailable = errors.New("tile not available now")
)

// Config tunes a pipeline.
type Config struct {
	Workers       int                        // render workers; 0: one per core
	Wait          time.Duration              // how long Tile waits for a missing tile; 0: until its context ends
	RenderTimeout time.Duration              // deadline of one metatile render
	QueueLimits   [renderq.NumPriorities]int // 0 entries take renderq's defaults
}

// Pipeline answers tile requests and runs renders.
type Pipeline struct {
	store   Store
	queue   *renderq.Queue[*rendered]
	metrics *metrics.Metrics
	log     *slog.Logger
	workers int
	wait    time.Duration

	canvases sync.Map // pixel side → *sync.Pool of *image.RGBA

	// uniform keeps the encodings of one-colour tiles (see encodeTile), at
	// most maxUniform of them.
	uniform  sync.Map // uniformKey → []byte
	uniformN atomic.Int32

	// shared, if set, takes every render and gives it to whichever node
	// of a cluster is free; queue then runs the ones this node takes.
	shared SharedQueue

	meanRender atomic.Int64 // moving average of a render's nanoseconds, for Retry-After

	// Metatiles rendered and their nanoseconds, by zoom.
	zoomRendered, zoomTime [tile.MaxZoom + 1]atomic.Int64
}

// RenderStats is what this node's render queue and workers did since
// they started.
type RenderStats struct {
	Queue renderq.Stats
	// Metatiles rendered (and stored) and the time they took, by zoom.
	ZoomRendered [tile.MaxZoom + 1]int64
	ZoomTime     [tile.MaxZoom + 1]time.Duration
}

// RenderStats reports what the render queue and workers did.
func (p *Pipeline) RenderStats() RenderStats {
	s := RenderStats{Queue: p.queue.Stats()}
	for z := range s.ZoomRendered {
		s.ZoomRendered[z] = p.zoomRendered[z].Load()
		s.ZoomTime[z] = time.Duration(p.zoomTime[z].Load())
	}
	return s
}

// rendered is a metatile just rendered, handed to every waiter. A render
// by another node of a cluster has no tiles: they are in the store.
type rendered struct {
	meta       tile.Meta
	tiles      [][]byte // by metatile index slot
	renderedAt time.Time
}

// Job names a metatile render as the nodes of a cluster hand it around.
type Job struct {
	Style string // Style.ID
	Scale int
	Meta  tile.Meta
}

// SharedQueue spreads renders over the nodes of a cluster (sharedq.Queue),
// keeping renderq's priorities and de-duplication across them.
type SharedQueue interface {
	// Enqueue queues j at prio to be rendered and stored by some node. If
	// the same job is queued or running anywhere, the caller joins it,
	// and a queued one moves up to prio.
	Enqueue(ctx context.Context, j Job, prio renderq.Priority) (SharedTicket, error)
}

// SharedTicket is a caller's handle on a job of a SharedQueue.
type SharedTicket interface {
	// Wait returns once the job is stored, with the render's error if it
	// failed, or when ctx ends.
	Wait(ctx context.Context) error
}

// Share makes q take every render from now on; this node renders what q
// hands it through RenderHere.
func (p *Pipeline) Share(q SharedQueue) { p.shared = q }

// New starts a pipeline with its render workers.
func New(store Store, cfg Config, m *metrics.Metrics, log *slog.Logger) *Pipeline {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	p := &Pipeline{store: store, metrics: m, log: log, workers: cfg.Workers, wait: cfg.Wait}
	p.queue = renderq.New[*rendered](renderq.Config{
		Workers: cfg.Workers,
		Limits:  cfg.QueueLimits,
		Timeout: cfg.RenderTimeout,
		Logger:  log,
	})
	m.WatchQueue(p.queue.Stats)
	return p
}

// Close stops the workers: queued renders are dropped, running ones get
// until ctx ends.
func (p *Pipeline) Close(ctx context.Context) error { return p.queue.Close(ctx) }

// QueueStats reports the render queue's state.
func (p *Pipeline) QueueStats() renderq.Stats { return p.queue.Stats() }

// Tile answers a tile request: a fresh tile from the cache; a stale one
// from the cache with a re-render queued; a missing (or corrupt) one
// rendered on demand and waited for until ctx ends or the configured wait
// is over. buf, if not nil, is reused for the tile's bytes.
func (p *Pipeline) Tile(ctx context.Context, req Request, buf []byte) (Tile, error) {
	set, m := req.Style.Set(req.Scale), req.meta()
	t, err := p.store.ReadTile(ctx, set, m, req.Coord, buf)
	switch {
	case err == nil:
		now := time.Now()
		out := Tile{Data: t.Data, Gzip: t.Gzip, RenderedAt: tilestore.RenderedAt(t.ModTime, now)}
		if p.fresh(req.Style, set, t.ModTime, now) {
			p.cacheResult("hit")
			return out, nil
		}
		p.cacheResult("stale")
		out.State = Stale
		// A tile marked dirty is re-rendered before bulk work; one merely
		// older than the last import or its TTL (after an import, that is
		// every tile) after it, as mod_tile sends such tiles as RenderLow.
		prio := renderq.Low
		if tilestore.MarkedDirty(t.ModTime, now) {
			prio = renderq.Dirty
		}
		if _, err := p.submit(ctx, req.Style, req.Scale, m, prio); err != nil && !errors.Is(err, renderq.ErrDeferred) {
			p.log.Debug("stale tile not re-queued", "tile", req.Coord, "style", set, "err", err)
		}
		return out, nil
	case errors.Is(err, metatile.ErrCorrupt):
		p.log.Warn("corrupt metatile, rendering it again", "style", set, "metatile", m, "err", err)
	case errors.Is(err, tilestore.ErrUnavailable), ctx.Err() != nil:
		return Tile{}, fmt.Errorf("%w: reading tile %s of %s: %w", ErrUnavailable, req.Coord, set, err)
	case !errors.Is(err, tilestore.ErrNotFound):
		return Tile{}, fmt.Errorf("reading tile %s of %s: %w", req.Coord, set, err)
	}
	p.cacheResult("miss")
	if p.wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.wait)
		defer cancel()
	}
	r, err := p.renderAndWait(ctx, req.Style, req.Scale, m, renderq.OnDemand)
	if err != nil {
		return Tile{}, err
	}
	if r.tiles == nil { // rendered by another node
		t, err := p.store.ReadTile(ctx, set, m, req.Coord, buf)
		switch {
		case errors.Is(err, tilestore.ErrUnavailable), ctx.Err() != nil:
			return Tile{}, fmt.Errorf("%w: reading tile %s of %s rendered by another node: %w", ErrUnavailable, req.Coord, set, err)
		case err != nil:
			return Tile{}, fmt.Errorf("reading tile %s of %s rendered by another node: %w", req.Coord, set, err)
		}
		return Tile{Data: t.Data, Gzip: t.Gzip, RenderedAt: tilestore.RenderedAt(t.ModTime, time.Now()), State: Rendered}, nil
	}
	return Tile{Data: r.tiles[m.Index(req.Coord)], RenderedAt: r.renderedAt, State: Rendered}, nil
}

func (p *Pipeline) cacheResult(result string) {
	p.metrics.CacheRequests.WithLabelValues("tile", result).Inc()
}

// fresh reports whether a metatile last modified at mtime is up to date:
// not older than the last import, not marked dirty, not past the TTL. An
// import time in the future counts only once it has come, or every tile
// rendered meanwhile would be stale and rendered again on every request.
func (p *Pipeline) fresh(s *Style, set string, mtime, now time.Time) bool {
	if tilestore.MarkedDirty(mtime, now) {
		return false
	}
	if imported := p.store.ImportTime(set); mtime.Before(imported) && !imported.After(now) {
		return false
	}
	return s.TTL <= 0 || now.Sub(mtime) <= s.TTL
}

// renderAndWait queues metatile m at priority prio and waits for it.
func (p *Pipeline) renderAndWait(ctx context.Context, s *Style, scale int, m tile.Meta, prio renderq.Priority) (*rendered, error) {
	wait, err := p.submit(ctx, s, scale, m, prio)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	r, err := wait(ctx)
	switch {
	case err == nil:
		return r, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: metatile %s of %s still rendering: %w", ErrUnavailable, m, s.Set(scale), ctx.Err())
	case errors.Is(err, tilestore.ErrFull), errors.Is(err, tilestore.ErrUnavailable), errors.Is(err, renderq.ErrClosed):
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil, err
}

// submit queues metatile m at prio, on the shared queue if there is one,
// and returns what waits for its render.
func (p *Pipeline) submit(ctx context.Context, s *Style, scale int, m tile.Meta, prio renderq.Priority) (wait func(context.Context) (*rendered, error), err error) {
	if p.shared == nil {
		tk, err := p.submitHere(s, scale, m, prio)
		if err != nil {
			return nil, err
		}
		return tk.Wait, nil
	}
	tk, err := p.shared.Enqueue(ctx, Job{Style: s.ID, Scale: scale, Meta: m}, prio)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*rendered, error) {
		if err := tk.Wait(ctx); err != nil {
			return nil, err
		}
		return &rendered{meta: m}, nil
	}, nil
}

// RenderHere renders metatile m at prio on this node's workers, whatever
// the shared queue, and returns once it is stored: the shared queue's
// nodes run its jobs with it.
func (p *Pipeline) RenderHere(ctx context.Context, s *Style, scale int, m tile.Meta, prio renderq.Priority) error {
	tk, err := p.submitHere(s, scale, m, prio)
	if err != nil {
		return err
	}
	_, err = tk.Wait(ctx)
	return err
}

func (p *Pipeline) submitHere(s *Style, scale int, m tile.Meta, prio renderq.Priority) (*renderq.Ticket[*rendered], error) {
	key := s.Set(scale) + "/" + m.String()
	return p.queue.Submit(key, prio, func(ctx context.Context) (*rendered, error) {
		return p.renderJob(ctx, s, scale, m)
	})
}

// renderJob renders, encodes and stores one metatile, on a queue worker.
func (p *Pipeline) renderJob(ctx context.Context, s *Style, scale int, m tile.Meta) (*rendered, error) {
	start := time.Now()
	r, err := p.render(ctx, s, scale, m)
	took := time.Since(start)
	result := "ok"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	case err != nil:
		result = "error"
	}
	p.metrics.Renders.WithLabelValues(s.RendererName, s.ID, result).Inc()
	p.metrics.RenderSeconds.WithLabelValues(s.RendererName, p.metrics.Zoom(m.Z)).Observe(took.Seconds())
	if err != nil {
		p.log.Error("render failed", "style", s.Set(scale), "metatile", m, "seconds", took.Seconds(), "err", err)
		return nil, err
	}
	if m.Z >= 0 && m.Z <= tile.MaxZoom {
		p.zoomRendered[m.Z].Add(1)
		p.zoomTime[m.Z].Add(int64(took))
	}
	// Exponential moving average, weight 1/8.
	old := p.meanRender.Load()
	p.meanRender.Store(old + (int64(took)-old)/8)
	p.log.Debug("rendered", "style", s.Set(scale), "metatile", m, "seconds", took.Seconds())
	return r, nil
}

func (p *Pipeline) render(ctx context.Context, s *Style, scale int, m tile.Meta) (*rendered, error) {
	ts := s.TileSize * scale
	side := m.Side() * ts
	canvas := p.canvas(side)
	defer p.putCanvas(side, canvas)
	renderedAt := time.Now()
	if err := s.Renderer.Render(ctx, m, ts, float64(scale), canvas); err != nil {
		return nil, fmt.Errorf("rendering metatile %s of %s: %w", m, s.Set(scale), err)
	}
	tiles, err := p.encode(ctx, s, m, ts, canvas)
	if err != nil {
		return nil, err
	}
	file, err := metatile.Append(nil, m, tiles)
	if err != nil {
		return nil, err
	}
	if err := p.store.Put(ctx, s.Set(scale), m, file, renderedAt); err != nil {
		return nil, fmt.Errorf("storing metatile %s of %s: %w", m, s.Set(scale), err)
	}
	return &rendered{meta: m, tiles: tiles, renderedAt: renderedAt}, nil
}

// encode cuts the metatile image into tiles and encodes them, spread over
// the cores so that a lone on-demand render is not slowed by encoding.
func (p *Pipeline) encode(ctx context.Context, s *Style, m tile.Meta, ts int, canvas *image.RGBA) ([][]byte, error) {
	tiles := make([][]byte, m.N*m.N)
	coords := make(chan tile.Coord)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), m.Count()) {
		wg.Go(func() {
			for c := range coords {
				o := image.Pt((c.X-m.X)*ts, (c.Y-m.Y)*ts)
				b, err := p.encodeTile(s.Encoder, canvas.SubImage(image.Rectangle{Min: o, Max: o.Add(image.Pt(ts, ts))}).(*image.RGBA))
				if err != nil {
					select {
					case errs <- fmt.Errorf("tile %s: %w", c, err):
					default:
					}
					continue
				}
				tiles[m.Index(c)] = b
			}
		})
	}
feed:
	for c := range m.Tiles() {
		select {
		case coords <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(coords)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return tiles, ctx.Err()
}

// maxUniform bounds the one-colour tiles kept encoded: a style has a few
// (its sea, its background, transparent).
const maxUniform = 256

// uniformKey names the encoding of a one-colour tile.
type uniformKey struct {
	enc    *imgenc.Encoder
	side   int
	colour [4]byte
}

// encodeTile encodes one tile. A tile of one colour (the open sea, a
// style's background) is encoded once per colour, encoder and size and
// then reused: most of a planet's tiles at low and middle zooms are such,
// and encoding 64 of them was nearly all the cost of an empty metatile.
// The bytes returned may be shared and must not be modified.
func (p *Pipeline) encodeTile(enc *imgenc.Encoder, img *image.RGBA) ([]byte, error) {
	colour, ok := uniformColour(img)
	if !ok {
		return enc.Bytes(img)
	}
	k := uniformKey{enc: enc, side: img.Rect.Dx(), colour: colour}
	if b, ok := p.uniform.Load(k); ok {
		return b.([]byte), nil
	}
	b, err := enc.Bytes(img)
	if err == nil && p.uniformN.Add(1) <= maxUniform {
		p.uniform.Store(k, b)
	}
	return b, err
}

// uniformColour returns the colour of img if every pixel has it.
func uniformColour(img *image.RGBA) ([4]byte, bool) {
	r := img.Rect
	if r.Empty() {
		return [4]byte{}, false
	}
	row0 := img.Pix[img.PixOffset(r.Min.X, r.Min.Y):][:4*r.Dx()]
	// A row is one colour when it equals itself shifted by a pixel.
	if !bytes.Equal(row0[4:], row0[:len(row0)-4]) {
		return [4]byte{}, false
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		if !bytes.Equal(img.Pix[img.PixOffset(r.Min.X, y):][:len(row0)], row0) {
			return [4]byte{}, false
		}
	}
	return [4]byte(row0), true
}

// canvas returns a transparent RGBA image of side×side pixels, reusing one
// from an earlier render: a 2048² metatile is 16 MiB.
func (p *Pipeline) canvas(side int) *image.RGBA {
	pool, _ := p.canvases.LoadOrStore(side, &sync.Pool{})
	if img, ok := pool.(*sync.Pool).Get().(*image.RGBA); ok {
		clear(img.Pix)
		return img
	}
	return image.NewRGBA(image.Rect(0, 0, side, side))
}

func (p *Pipeline) putCanvas(side int, img *image.RGBA) {
	pool, _ := p.canvases.Load(side)
	pool.(*sync.Pool).Put(img)
}

// RetryAfter estimates how long a client should wait before asking again
// for a tile that is not ready: the queue ahead of it at the mean render
// time, between 1 and 60 seconds.
func (p *Pipeline) RetryAfter() time.Duration {
	st := p.queue.Stats()
	ahead := st.Queued[renderq.OnDemand] + st.Queued[renderq.Dirty] + st.Running
	d := time.Duration(p.meanRender.Load()) * time.Duration(ahead+1) / time.Duration(p.workers)
	secs := math.Ceil(d.Seconds())
	return time.Duration(min(max(secs, 1), 60)) * time.Second
}

// Workers is the number of render workers.
func (p *Pipeline) Workers() int { return p.workers }
