package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"kiln/internal/config"

	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/sharedq"
	"kiln/internal/tile"
)

// share puts a's renders, and the page loads of ps if not nil, on the
// queue in PostgreSQL that [queue] names, when it names one: a serving node
// (node true) also renders and loads the jobs other nodes queue; kiln
// render, kiln expire and kiln thumb only queue and wait.
func (a *app) share(ctx context.Context, node bool, ps *pageSide) error {
	if a.cfg.Queue.Backend != "postgres" {
		return nil
	}
	workers, pageWorkers := 0, 0
	if node {
		workers = a.pipeline.Workers()
		if ps != nil {
			pageWorkers = ps.pages.Workers()
		}
	}
	var loadPage sharedq.PageHandler
	if ps != nil {
		loadPage = ps.pages.LoadHere
	}
	q, err := sharedq.Open(ctx, sharedq.Config{
		URL:           a.cfg.QueueURL(),
		Workers:       workers,
		Prefetch:      min(workers, 1), // hides a fetch's round trip between two renders
		PageWorkers:   pageWorkers,
		RenderTimeout: a.cfg.Render.Timeout,
		PageTimeout:   a.cfg.Thumbnails.JobTimeout(),
		Lease:         a.cfg.Queue.Lease,
		Logger:        a.log,
		OnInvalidate:  a.invalidate,
	}, a.renderJob, loadPage)
	if err != nil {
		return err
	}
	a.shared = q
	a.pipeline.Share(q)
	if ps != nil {
		ps.pages.Share(q)
	}
	a.metrics.WatchSharedQueue(func() ([renderq.NumPriorities]int, int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return q.Stats(ctx)
	})
	a.log.Info("render queue shared in PostgreSQL", "workers", workers, "page_workers", pageWorkers)
	return nil
}

// renderJob renders a job of the shared queue with this node's workers.
func (a *app) renderJob(ctx context.Context, j pipeline.Job, prio renderq.Priority) error {
	st, err := a.style(j.Style)
	if err != nil {
		return err
	}
	origin := tile.Coord{Z: j.Meta.Z, X: j.Meta.X, Y: j.Meta.Y}
	if j.Scale != 1 && j.Scale != 2 || !origin.InGrid() || tile.MetaOf(origin, st.MetaSize) != j.Meta ||
		j.Meta.Z < st.MinZoom || j.Meta.Z > st.MaxZoom {
		return fmt.Errorf("job %s@%dx %s: not a metatile of this style", j.Style, j.Scale, j.Meta)
	}
	return a.pipeline.RenderHere(ctx, st, j.Scale, j.Meta, prio)
}

// invalidate drops what this node keeps of the cache when another node
// says it changed (an import marked every tile stale).
func (a *app) invalidate() { a.store.ForgetImportTime() }

// tellNodes sends an invalidation to the nodes sharing cfg's queue, if
// there is one.
func tellNodes(ctx context.Context, cfg *config.Config, log *slog.Logger, why string) {
	if cfg.Queue.Backend != "postgres" {
		return
	}
	if err := sharedq.Invalidate(ctx, cfg.QueueURL(), why); err != nil {
		log.Warn("telling the other nodes", "err", err)
	}
}
