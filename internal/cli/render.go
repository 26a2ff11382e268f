package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"kiln/internal/pipeline"
	"kiln/internal/tile"
)

func render(ctx context.Context, args []string, io IO) error {
	fs := flags("render", io)
	var c common
	c.register(fs)
	styleID := fs.String("style", "", "style to render (required)")
	bboxArg := fs.String("bbox", "", "area as W,S,E,N in degrees")
	all := fs.Bool("all", false, "render the whole world")
	zoomArg := fs.String("zoom", "", "zoom range MIN-MAX or a single zoom (default: the style's)")
	threads := fs.Int("threads", runtime.NumCPU(), "metatiles rendered at once (with a shared queue: kept queued at once, default 256)")
	force := fs.Bool("force", false, "render metatiles that are cached and fresh too")
	scale := fs.Int("scale", 1, "1, or 2 for the @2x tiles")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	switch {
	case *styleID == "":
		return usagef("--style is required")
	case (*bboxArg == "") == !*all:
		return usagef("give exactly one of --bbox W,S,E,N and --all")
	case *threads < 1:
		return usagef("--threads %d: want at least 1", *threads)
	case *scale != 1 && *scale != 2:
		return usagef("--scale %d: want 1 or 2", *scale)
	}
	var area *orb.Bound
	if *bboxArg != "" {
		b, err := parseBBox(*bboxArg)
		if err != nil {
			return usagef("--bbox: %v", err)
		}
		area = &b
	}
	a, st, err := c.openStyle(io, *threads, *styleID)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	if err := a.share(ctx, false, nil); err != nil {
		return err
	}
	if a.shared != nil && !flagSet(fs, "threads") {
		// The nodes render; this only keeps them fed.
		*threads = sharedInFlight
	}
	minZ, maxZ := st.MinZoom, st.MaxZoom
	if *zoomArg != "" {
		if minZ, maxZ, err = parseZoomRange(*zoomArg); err != nil {
			return usagef("--zoom: %v", err)
		}
		if minZ < st.MinZoom || maxZ > st.MaxZoom {
			return usagef("--zoom %s is outside style %s's zooms %d-%d", *zoomArg, st.ID, st.MinZoom, st.MaxZoom)
		}
	}
	var ranges []tile.Range
	total := 0
	for z := minZ; z <= maxZ; z++ {
		r := tile.World(z)
		if area != nil {
			r = tile.Covering(*area, z)
		}
		ranges = append(ranges, r)
		for range r.Metas(st.MetaSize) {
			total++
		}
	}
	s := seed(ctx, a.pipeline, st, *scale, ranges, total, *threads, *force, io, a.log)
	fmt.Fprintf(io.Out, "kiln render: %s %d-%d: %d tiles in %d metatiles in %.2f s = %.1f tiles/s (%d fresh metatiles skipped, %d failed)\n",
		st.Set(*scale), minZ, maxZ, s.tiles, s.rendered, s.seconds, float64(s.tiles)/max(s.seconds, 1e-9), s.skipped, s.failed)
	switch {
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case s.failed > 0:
		return fmt.Errorf("%d metatiles failed; the log says why", s.failed)
	}
	return nil
}

// sharedInFlight is how many metatiles kiln render keeps on a shared
// queue: enough to keep a few nodes' workers busy.
const sharedInFlight = 256

// flagSet reports whether the command line gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

type seedStats struct {
	rendered, skipped, failed, tiles int
	seconds                          float64
}

// seed renders every metatile of the ranges with threads at a time.
func seed(ctx context.Context, p *pipeline.Pipeline, st *pipeline.Style, scale int, ranges []tile.Range, total, threads int, force bool, io IO, log *slog.Logger) seedStats {
	start := time.Now()
	prog := newProgress(io.Err, log, "metatiles", total)
	metas := make(chan tile.Meta)
	var mu sync.Mutex
	var s seedStats
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for m := range metas {
				did, err := p.Seed(ctx, st, scale, m, force)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() == nil:
					s.failed++
					log.Error("metatile failed", "style", st.Set(scale), "metatile", m, "err", err)
				case did:
					s.rendered++
					s.tiles += m.Count()
				case err == nil:
					s.skipped++
				}
				mu.Unlock()
				prog.Add(1)
			}
		})
	}
feed:
	for _, r := range ranges {
		for m := range r.Metas(st.MetaSize) {
			select {
			case metas <- m:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(metas)
	wg.Wait()
	prog.Finish()
	s.seconds = time.Since(start).Seconds()
	return s
}

// parseBBox reads W,S,E,N in degrees.
func parseBBox(s string) (orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return orb.Bound{}, fmt.Errorf("%q is not W,S,E,N", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return orb.Bound{}, fmt.Errorf("%q is not W,S,E,N: %q is not a number", s, p)
		}
		v[i] = f
	}
	w, so, e, n := v[0], v[1], v[2], v[3]
	if w < -180 || e > 180 || w >= e || so < -90 || n > 90 || so >= n {
		return orb.Bound{}, fmt.Errorf("%q: want -180 <= W < E <= 180 and -90 <= S < N <= 90", s)
	}
	return orb.Bound{Min: orb.Point{w, so}, Max: orb.Point{e, n}}, nil
}

// parseZoomRange reads "MIN-MAX" or a single zoom.
func parseZoomRange(s string) (int, int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 0 || b < a || b > tile.MaxZoom {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX with 0 <= MIN <= MAX <= %d", s, tile.MaxZoom)
	}
	return a, b, nil
}
