package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	goio "io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"kiln/internal/atomicfile"
	"kiln/internal/imgenc"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
)

// thumbCmd is kiln thumb: thumbnails of web pages through the same cache
// as the server, written to a directory.
func thumbCmd(ctx context.Context, args []string, io IO) error {
	fs := flags("thumb", io)
	var c common
	c.register(fs)
	sizeArg := fs.String("size", "large", "small (111x82), large (201x147) or WxH")
	formatArg := fs.String("format", "jpeg", "png, jpeg or webp")
	fullPage := fs.Bool("full-page", false, "capture the whole page, not only the 1024x768 viewport")
	refresh := fs.Bool("refresh", false, "load pages again even if cached")
	out := fs.String("o", "", "directory to write the thumbnails to (required)")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	size, err := pagerender.ParseSize(*sizeArg)
	if err != nil {
		return usagef("--size: %v", err)
	}
	format, err := pagerender.ParseFormat(*formatArg)
	if err != nil {
		return usagef("--format: %v", err)
	}
	if *out == "" {
		return usagef("-o DIR is required")
	}
	urls, err := thumbURLs(fs.Args(), io.In)
	if err != nil {
		return err
	}
	if len(urls) == 0 {
		return usagef("no URLs: give them as arguments, or - to read them from stdin")
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	log := newLogger(io.Err, cfg.Log.Level, cfg.Log.Format)
	if err := mkdirData(cfg.Data); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	a, err := build(ctx, cfg, log, 1)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	ps, err := buildPages(cfg, a.metrics, log)
	if err != nil {
		return err
	}
	defer ps.close(context.Background())
	// With a shared queue the nodes load the pages; this only waits.
	if err := a.share(ctx, false, ps); err != nil {
		return err
	}

	start := time.Now()
	bar := newProgress(io.Err, log, "pages", len(urls))
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    []string
		counts    = map[pipeline.State]int{}
	)
	work := make(chan string)
	var wg sync.WaitGroup
	// Enough requests in flight to keep every page slot busy.
	for range 2 * ps.renderer.Pages() {
		wg.Go(func() {
			for raw := range work {
				t0 := time.Now()
				file, state, err := thumbOne(ctx, ps, raw, size, format, *fullPage, *refresh, *out)
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("kiln thumb: %s: %v", raw, err))
				} else {
					counts[state]++
					latencies = append(latencies, took)
					log.Debug("thumbnail", "url", raw, "file", file, "ms", took.Milliseconds())
				}
				mu.Unlock()
				bar.Add(1)
			}
		})
	}
feed:
	for _, u := range urls {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	bar.Finish()
	for _, f := range failed {
		fmt.Fprintln(io.Err, f)
	}
	secs := time.Since(start).Seconds()
	slices.Sort(latencies)
	pct := func(p float64) int64 {
		if len(latencies) == 0 {
			return 0
		}
		// Nearest rank: the smallest latency at or above a fraction p.
		return latencies[max(0, int(math.Ceil(p*float64(len(latencies))))-1)].Milliseconds()
	}
	loaded := counts[pipeline.Rendered]
	fmt.Fprintf(io.Out, "kiln thumb: %d URLs: %d loaded, %d from the cache, %d failed in %.2f s (%.2f pages/s; p50 %d ms, p95 %d ms)\n",
		len(urls), loaded, counts[pipeline.Fresh]+counts[pipeline.Stale], len(failed), secs, float64(loaded)/max(secs, 1e-9), pct(0.5), pct(0.95))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d pages failed", len(failed), len(urls))
	}
	return nil
}

// thumbOne makes one thumbnail and writes it to dir.
func thumbOne(ctx context.Context, ps *pageSide, raw string, size pagerender.Size, format imgenc.Format, fullPage, refresh bool, dir string) (string, pipeline.State, error) {
	u, err := netguard.ParseURL(raw, 0)
	if err != nil {
		return "", 0, err
	}
	t, err := ps.pages.Thumbnail(ctx, pipeline.ThumbRequest{URL: u.String(), FullPage: fullPage, Size: size, Format: format,
		Refresh: refresh, Priority: renderq.Bulk})
	if err != nil {
		return "", 0, err
	}
	file := filepath.Join(dir, thumbFileName(u.String(), size, format))
	if err := atomicfile.WriteBytes(file, 0o644, t.Data); err != nil {
		return "", 0, err
	}
	return file, t.State, nil
}

// thumbFileName is a readable, unique file name for a page's thumbnail:
// its host and path, and a hash of the whole URL.
func thumbFileName(u string, size pagerender.Size, f imgenc.Format) string {
	h := sha256.Sum256([]byte(u))
	name := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, name)
	if len(name) > 80 {
		name = name[:80]
	}
	return fmt.Sprintf("%s-%s-%s.%s", strings.Trim(name, "_"), hex.EncodeToString(h[:4]), size, f.Ext())
}

// thumbURLs lists the URLs to make thumbnails of: the arguments, with
// "-" standing for the lines of stdin.
func thumbURLs(args []string, stdin goio.Reader) ([]string, error) {
	var urls []string
	for _, a := range args {
		if a != "-" {
			urls = append(urls, a)
			continue
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				urls = append(urls, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, usageError{fmt.Errorf("stdin: %w", err)}
		}
	}
	return urls, nil
}
