package renderd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kiln/internal/pipeline"
	"kiln/internal/renderq"
)

// statsNames is the stats file's lines in the order renderd 0.6 writes
// them (src/renderd.c, stats_writeout_thread), written out here apart from
// the code under test.
func statsNames() []string {
	names := []string{"ReqQueueLength", "ReqPrioQueueLength", "ReqLowQueueLength", "ReqBulkQueueLength",
		"DirtQueueLength", "DropedRequest", "ReqRendered", "TimeRendered", "ReqPrioRendered", "TimePrioRendered",
		"ReqLowRendered", "TimeLowRendered", "ReqBulkRendered", "TimeBulkRendered", "DirtyRendered", "TimeDirtyRendered"}
	for _, prefix := range []string{"ZoomRendered", "TimeRenderedZoom"} {
		for z := 0; z <= 20; z++ {
			names = append(names, fmt.Sprintf("%s%02d", prefix, z))
		}
	}
	return names
}

func TestWriteStats(t *testing.T) {
	var s pipeline.RenderStats
	s.Queue.Queued = [renderq.NumPriorities]int{renderq.OnDemand: 3, renderq.Dirty: 7, renderq.Bulk: 5, renderq.Low: 2}
	s.Queue.Dropped = 4
	s.Queue.Ran = [renderq.NumPriorities]int64{renderq.OnDemand: 10, renderq.Dirty: 20, renderq.Bulk: 30, renderq.Low: 40}
	s.Queue.RanTime = [renderq.NumPriorities]time.Duration{renderq.OnDemand: 1500 * time.Millisecond,
		renderq.Dirty: 2 * time.Second, renderq.Bulk: 3 * time.Second, renderq.Low: 4*time.Second + 999*time.Microsecond}
	s.ZoomRendered[12], s.ZoomTime[12] = 9, 900*time.Millisecond
	s.ZoomRendered[20], s.ZoomTime[20] = 1, 2*time.Millisecond
	var b bytes.Buffer
	if err := WriteStats(&b, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	names := statsNames()
	if len(lines) != len(names) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(names), b.String())
	}
	want := map[string]string{
		"ReqQueueLength": "3", "ReqPrioQueueLength": "0", "ReqLowQueueLength": "2", "ReqBulkQueueLength": "5",
		"DirtQueueLength": "7", "DropedRequest": "4",
		"ReqRendered": "10", "TimeRendered": "1500", "ReqPrioRendered": "0", "TimePrioRendered": "0",
		"ReqLowRendered": "40", "TimeLowRendered": "4000", "ReqBulkRendered": "30", "TimeBulkRendered": "3000",
		"DirtyRendered": "20", "TimeDirtyRendered": "2000",
		"ZoomRendered12": "9", "TimeRenderedZoom12": "900", "ZoomRendered20": "1", "TimeRenderedZoom20": "2",
	}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ": ")
		if !ok || name != names[i] {
			t.Errorf("line %d is %q, want %s: …", i+1, line, names[i])
			continue
		}
		w, ok := want[name]
		if !ok {
			w = "0"
		}
		if value != w {
			t.Errorf("%s: %s, want %s", name, value, w)
		}
	}
}

// The file is replaced whole at every tick and once more at the end, and
// is readable by others; no temporary file stays behind.
func TestKeepStatsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "renderd.stats")
	var n atomic.Int64
	stats := func() pipeline.RenderStats {
		var s pipeline.RenderStats
		s.Queue.Ran[renderq.Bulk] = n.Load()
		return s
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		KeepStatsFile(ctx, path, 10*time.Millisecond, stats, slog.New(slog.DiscardHandler))
		close(done)
	}()
	read := func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, want := range []int64{0, 5} {
		n.Store(want)
		line := fmt.Sprintf("ReqBulkRendered: %d\n", want)
		for !strings.Contains(read(), line) {
			if time.Now().After(deadline) {
				t.Fatalf("the file never said %q:\n%s", line, read())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	n.Store(7)
	cancel()
	<-done
	if !strings.Contains(read(), "ReqBulkRendered: 7\n") {
		t.Errorf("no last write at the end:\n%s", read())
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want the stats file alone", len(entries))
	}
}

func TestWriteStatsFileFails(t *testing.T) {
	err := WriteStatsFile(filepath.Join(t.TempDir(), "missing", "renderd.stats"), pipeline.RenderStats{})
	if err == nil || !strings.Contains(err.Error(), "renderd stats") {
		t.Errorf("err = %v, want a renderd stats error", err)
	}
}
