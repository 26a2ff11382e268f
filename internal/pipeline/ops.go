package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kiln/internal/renderq"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// TileStatus is what mod_tile's /status tells of a tile.
type TileStatus struct {
	Fresh bool
	tilestore.Info
}

// Status describes the metatile holding a tile; tilestore.ErrNotFound if
// it is not cached, with Info.ID saying where it would be.
func (p *Pipeline) Status(ctx context.Context, req Request) (TileStatus, error) {
	set := req.Style.Set(req.Scale)
	info, err := p.store.Stat(ctx, set, req.meta())
	if err != nil {
		return TileStatus{Info: info}, err
	}
	return TileStatus{Fresh: p.fresh(req.Style, set, info.ModTime, time.Now()), Info: info}, nil
}

// Dirty marks the metatile holding a tile out of date and queues its
// re-render, as mod_tile's /dirty does. Until it is rendered, the old tile
// is served.
func (p *Pipeline) Dirty(ctx context.Context, req Request) error {
	m := req.meta()
	if err := p.store.MarkDirty(ctx, req.Style.Set(req.Scale), m); err != nil && !errors.Is(err, tilestore.ErrNotFound) {
		if errors.Is(err, tilestore.ErrUnavailable) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	if _, err := p.submit(ctx, req.Style, req.Scale, m, renderq.Dirty); err != nil && !errors.Is(err, renderq.ErrDeferred) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Seed renders metatile m at bulk priority and waits for it, unless it is
// cached and fresh and force is false. It reports whether it rendered.
func (p *Pipeline) Seed(ctx context.Context, s *Style, scale int, m tile.Meta, force bool) (bool, error) {
	if !force {
		set := s.Set(scale)
		info, err := p.store.Stat(ctx, set, m)
		if err == nil && p.fresh(s, set, info.ModTime, time.Now()) {
			return false, nil
		}
		if err != nil && !errors.Is(err, tilestore.ErrNotFound) {
			return false, err
		}
	}
	for {
		_, err := p.renderAndWait(ctx, s, scale, m, renderq.Bulk)
		if errors.Is(err, renderq.ErrQueueFull) && ctx.Err() == nil {
			// Back-pressure from a queue shared with other seeders.
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		return err == nil, err
	}
}

// Render renders metatile m at priority prio, whether or not it is
// cached, and waits for it to be stored, as renderd does for a request on
// its socket. A full queue is renderq.ErrQueueFull (or ErrDeferred, when
// the job went to the dirty queue and nobody should wait for it).
func (p *Pipeline) Render(ctx context.Context, s *Style, scale int, m tile.Meta, prio renderq.Priority) error {
	wait, err := p.submit(ctx, s, scale, m, prio)
	if err != nil {
		return err
	}
	_, err = wait(ctx)
	return err
}

// ExpireAction is what kiln expire does to a cached metatile.
type ExpireAction int

const (
	ExpireDirty  ExpireAction = iota // mark dirty: served stale, re-rendered when asked for
	ExpireDelete                     // delete: rendered anew when asked for
	ExpireRender                     // re-render now
)

// Expire applies action to metatile m if it is cached, as render_expired
// does; it reports whether it was.
func (p *Pipeline) Expire(ctx context.Context, s *Style, scale int, m tile.Meta, action ExpireAction) (bool, error) {
	set := s.Set(scale)
	if _, err := p.store.Stat(ctx, set, m); err != nil {
		if errors.Is(err, tilestore.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	var err error
	switch action {
	case ExpireDirty:
		err = p.store.MarkDirty(ctx, set, m)
	case ExpireDelete:
		err = p.store.Delete(ctx, set, m)
	case ExpireRender:
		_, err = p.Seed(ctx, s, scale, m, true)
	}
	if errors.Is(err, tilestore.ErrNotFound) {
		return false, nil // removed meanwhile
	}
	return err == nil, err
}
