package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports how far a long command is: a bar on a terminal, else a
// log line every few seconds.
type progress struct {
	bar   *progressbar.ProgressBar
	done  atomic.Int64
	total int64
	stop  chan struct{}
	ended chan struct{}
}

const progressEvery = 5 * time.Second

func newProgress(w io.Writer, log *slog.Logger, what string, total int) *progress {
	p := &progress{total: int64(total), stop: make(chan struct{}), ended: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		close(p.ended)
		return p
	}
	start := time.Now()
	go func() {
		defer close(p.ended)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				n := p.done.Load()
				log.Info("progress", what, fmt.Sprintf("%d/%d", n, p.total),
					"percent", fmt.Sprintf("%.1f", 100*float64(n)/float64(max(p.total, 1))),
					"per_second", fmt.Sprintf("%.1f", float64(n)/time.Since(start).Seconds()))
			}
		}
	}()
	return p
}

// Add counts n more items done.
func (p *progress) Add(n int) {
	p.done.Add(int64(n))
	if p.bar != nil {
		p.bar.Add(n)
	}
}

// Finish ends the report.
func (p *progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	close(p.stop)
	<-p.ended
}
