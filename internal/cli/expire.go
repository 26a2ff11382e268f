package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"kiln/internal/expire"
	"kiln/internal/pipeline"
	"kiln/internal/tile"
)

func expireCmd(ctx context.Context, args []string, io IO) error {
	fs := flags("expire", io)
	var c common
	c.register(fs)
	styleID := fs.String("style", "", "style whose cached metatiles to expire (required)")
	minZoom := fs.Int("min-zoom", -1, "lowest zoom to expire (default: the style's)")
	maxZoom := fs.Int("max-zoom", -1, "highest zoom to expire (default: the style's)")
	mode := fs.String("mode", "dirty", "dirty (serve stale, re-render when asked), delete, or render")
	touchFrom := fs.Int("touch-from", -1, "from this zoom up, mark dirty whatever the mode (render_expired's --touch-from)")
	deleteFrom := fs.Int("delete-from", -1, "from this zoom up, delete whatever the mode (render_expired's --delete-from)")
	threads := fs.Int("threads", runtime.NumCPU(), "metatiles re-rendered at once in render mode")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	actions := map[string]pipeline.ExpireAction{"dirty": pipeline.ExpireDirty, "delete": pipeline.ExpireDelete, "render": pipeline.ExpireRender}
	action, ok := actions[*mode]
	switch {
	case *styleID == "":
		return usagef("--style is required")
	case !ok:
		return usagef("--mode %q: want dirty, delete or render", *mode)
	case fs.NArg() > 1:
		return usagef("one expire list at most, got %d", fs.NArg())
	case *threads < 1:
		return usagef("--threads %d: want at least 1", *threads)
	}
	name := "-"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	tiles, err := readExpireList(name, io.In)
	if err != nil {
		return usageError{err}
	}
	a, st, err := c.openStyle(io, *threads, *styleID)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	if err := a.share(ctx, false, nil); err != nil {
		return err
	}
	lo, hi := st.MinZoom, st.MaxZoom
	if *minZoom >= 0 {
		lo = *minZoom
	}
	if *maxZoom >= 0 {
		hi = *maxZoom
	}
	if lo > hi || lo < st.MinZoom || hi > st.MaxZoom {
		return usagef("zooms %d-%d are outside style %s's zooms %d-%d", lo, hi, st.ID, st.MinZoom, st.MaxZoom)
	}

	var counts [3]int // by action
	missing, failed := 0, 0
	var mu sync.Mutex
	for z, metas := range expire.Metas(tiles, lo, hi, st.MetaSize) {
		act := action
		if *deleteFrom >= 0 && z >= *deleteFrom {
			act = pipeline.ExpireDelete
		} else if *touchFrom >= 0 && z >= *touchFrom {
			act = pipeline.ExpireDirty
		}
		// @2x tiles show the same data: they expire with the @1x ones.
		for _, scale := range []int{1, 2} {
			parallel(ctx, metas, *threads, func(m tile.Meta) {
				done, err := a.pipeline.Expire(ctx, st, scale, m, act)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					failed++
					a.log.Error("expiring metatile failed", "style", st.Set(scale), "metatile", m, "err", err)
				case done:
					counts[act]++
				default:
					missing++
				}
			})
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(io.Out, "kiln expire: %s zooms %d-%d: %d tiles listed; %d metatiles marked dirty, %d deleted, %d re-rendered; %d not cached\n",
		st.ID, lo, hi, len(tiles), counts[pipeline.ExpireDirty], counts[pipeline.ExpireDelete], counts[pipeline.ExpireRender], missing)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted")
	case failed > 0:
		return fmt.Errorf("%d metatiles failed; the log says why", failed)
	}
	return nil
}

func readExpireList(name string, stdin io.Reader) ([]tile.Coord, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	tiles, err := expire.Read(r)
	if err != nil {
		if name == "-" {
			name = "stdin"
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return tiles, nil
}

// parallel calls f for each metatile, n at a time, until ctx ends.
func parallel(ctx context.Context, metas []tile.Meta, n int, f func(tile.Meta)) {
	work := make(chan tile.Meta)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for m := range work {
				f(m)
			}
		})
	}
	for _, m := range metas {
		if ctx.Err() != nil {
			break
		}
		work <- m
	}
	close(work)
	wg.Wait()
}
