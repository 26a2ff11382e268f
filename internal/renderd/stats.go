package renderd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"kiln/internal/atomicfile"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
)

// renderd's stats file (its stats_file setting), which the Munin plugins
// that Debian's renderd package ships (renderd_queue, renderd_processed,
// renderd_queue_time, renderd_zoom, renderd_zoom_time) read: "Name: value"
// lines in renderd's order, times in milliseconds, rewritten whole every
// 10 seconds.

// StatsEvery is how often renderd rewrites its stats file.
const StatsEvery = 10 * time.Second

// queues are renderd's render queues in its stats file's order. kiln
// answers RenderPrio and Render alike, on demand, so "Prio" stays 0.
var queues = []struct {
	length, rendered, time string
	prio                   renderq.Priority
	none                   bool
}{
	{"ReqQueueLength", "ReqRendered", "TimeRendered", renderq.OnDemand, false},
	{"ReqPrioQueueLength", "ReqPrioRendered", "TimePrioRendered", 0, true},
	{"ReqLowQueueLength", "ReqLowRendered", "TimeLowRendered", renderq.Low, false},
	{"ReqBulkQueueLength", "ReqBulkRendered", "TimeBulkRendered", renderq.Bulk, false},
	{"DirtQueueLength", "DirtyRendered", "TimeDirtyRendered", renderq.Dirty, false},
}

// WriteStats writes s as renderd writes its stats file.
func WriteStats(w io.Writer, s pipeline.RenderStats) error {
	b := bufio.NewWriter(w)
	for _, q := range queues {
		n := 0
		if !q.none {
			n = s.Queue.Queued[q.prio]
		}
		fmt.Fprintf(b, "%s: %d\n", q.length, n)
	}
	fmt.Fprintf(b, "DropedRequest: %d\n", s.Queue.Dropped) // sic
	for _, q := range queues {
		var n int64
		var d time.Duration
		if !q.none {
			n, d = s.Queue.Ran[q.prio], s.Queue.RanTime[q.prio]
		}
		fmt.Fprintf(b, "%s: %d\n%s: %d\n", q.rendered, n, q.time, d.Milliseconds())
	}
	for z := range tile.MaxZoom + 1 {
		fmt.Fprintf(b, "ZoomRendered%02d: %d\n", z, s.ZoomRendered[z])
	}
	for z := range tile.MaxZoom + 1 {
		fmt.Fprintf(b, "TimeRenderedZoom%02d: %d\n", z, s.ZoomTime[z].Milliseconds())
	}
	return b.Flush()
}

// WriteStatsFile replaces the file at path with s, whole: a reader sees
// the old file or the new one, never half of one. It is readable by the
// Munin user, as renderd's is.
func WriteStatsFile(path string, s pipeline.RenderStats) error {
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return WriteStats(w, s) }); err != nil {
		return fmt.Errorf("renderd stats: %w", err)
	}
	return nil
}

// KeepStatsFile rewrites path with stats() every `every` until ctx ends,
// and a last time then; the caller writes it first (WriteStatsFile), to
// find out whether it can. A failing write is logged once, until one
// succeeds again.
func KeepStatsFile(ctx context.Context, path string, every time.Duration, stats func() pipeline.RenderStats, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
		}
		err := WriteStatsFile(path, stats())
		switch {
		case err != nil && !failing:
			log.Warn("writing renderd's stats file", "path", path, "err", err)
		case err == nil && failing:
			log.Info("renderd's stats file written again", "path", path)
		}
		failing = err != nil
	}
}
