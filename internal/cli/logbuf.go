package cli

import (
	"io"
	"sync"
	"time"
)

// lineBuffer batches whole log records and writes them every flushEvery or
// when limit bytes are pending: under load the access log then costs one
// write per batch, not one system call per request. slog hands each record
// to Write whole, so batches never split a line.
type lineBuffer struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	limit int
	stop  chan struct{}
	done  chan struct{}
}

const flushEvery = 200 * time.Millisecond

func newLineBuffer(w io.Writer, limit int) *lineBuffer {
	b := &lineBuffer{w: w, buf: make([]byte, 0, limit), limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				b.Flush()
				return
			}
		}
	}()
	return b
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.limit {
		b.flushLocked()
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what is pending.
func (b *lineBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *lineBuffer) flushLocked() {
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// Close flushes and stops the flusher.
func (b *lineBuffer) Close() {
	close(b.stop)
	<-b.done
}
