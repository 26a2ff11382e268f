// Package renderq is kiln's render queue, renderd's request queue made
// generic over what is rendered (metatiles, web pages): jobs wait in bounded
// FIFO queues by priority, a job is queued once per key however many callers
// ask for it, every caller waiting on a key is woken by its one render, and a
// fixed set of workers runs them, highest priority first.
package renderq

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Priority orders the queues; workers take from the first non-empty one.
type Priority int

const (
	// OnDemand: a client is waiting for something missing from the cache.
	OnDemand Priority = iota
	// Dirty: a stale copy was served and a re-render is due. A full
	// OnDemand queue overflows here, as renderd's queues overflow into its
	// dirty queue.
	Dirty
	// Bulk: pre-rendering, e.g. kiln render or renderd's render_list.
	Bulk
	// Low: background work nobody waits for, e.g. re-rendering tiles that
	// an import made stale.
	Low

	NumPriorities = 4
)

var priorityNames = [NumPriorities]string{"ondemand", "dirty", "bulk", "low"}

func (p Priority) String() string {
	if p < 0 || p >= NumPriorities {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

var (
	// ErrQueueFull: the job's queue (and, for OnDemand, the dirty queue it
	// overflows into) is full; nothing was queued.
	ErrQueueFull = errors.New("render queue full")
	// ErrDeferred: the job was queued, but at a lower priority than asked
	// because that queue is full; it will be rendered, though likely not
	// soon enough for a caller to wait.
	ErrDeferred = errors.New("render queue full: deferred to the dirty queue")
	// ErrClosed: the queue is shutting down.
	ErrClosed = errors.New("render queue closed")
)

// Config sizes a queue. Zero values take the defaults.
type Config struct {
	Workers int                // goroutines running jobs; default 1
	Limits  [NumPriorities]int // jobs waiting per priority; default DefaultLimits
	Timeout time.Duration      // deadline of one job's run; default 5 minutes
	Logger  *slog.Logger
}

// DefaultLimits are renderd's: 256 per render queue, 8000 dirty.
var DefaultLimits = [NumPriorities]int{OnDemand: 256, Dirty: 8000, Bulk: 256, Low: 8000}

// Func renders one job. It is called on a worker with a context carrying
// the job's deadline.
type Func[R any] func(ctx context.Context) (R, error)

type job[R any] struct {
	key  string
	prio Priority
	run  Func[R]
	elem *list.Element // position in queues[prio]; nil once running

	done chan struct{}
	res  R
	err  error
}

// Ticket is a caller's handle on a queued or running job.
type Ticket[R any] struct{ j *job[R] }

// Done is closed when the job has finished.
func (t *Ticket[R]) Done() <-chan struct{} { return t.j.done }

// Wait waits for the job's result or for ctx to end. A caller that stops
// waiting does not cancel the job: its result still reaches the cache.
func (t *Ticket[R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-t.j.done:
		return t.j.res, t.j.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// Stats counts what the queue did since it started.
type Stats struct {
	Queued   [NumPriorities]int // jobs waiting now
	Running  int                // jobs being rendered now
	Joined   int64              // submissions merged into a job already queued or running
	Deferred int64              // OnDemand jobs that overflowed into Dirty
	Dropped  int64              // submissions refused with ErrQueueFull
	// Ran and RanTime count the finished jobs and their run time by the
	// priority they ran at (renderd's stats file reports these).
	Ran     [NumPriorities]int64
	RanTime [NumPriorities]time.Duration
}

// Done is how many jobs finished.
func (s Stats) Done() int64 {
	var n int64
	for _, r := range s.Ran {
		n += r
	}
	return n
}

// Queue is a prioritised, de-duplicating render queue with its workers.
type Queue[R any] struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	work   *sync.Cond // signalled when a job is queued or the queue closes
	queues [NumPriorities]list.List
	jobs   map[string]*job[R] // queued or running, by key
	closed bool
	stats  Stats
}

// New starts a queue and its workers.
func New[R any](cfg Config) *Queue[R] {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	for p := range cfg.Limits {
		if cfg.Limits[p] <= 0 {
			cfg.Limits[p] = DefaultLimits[p]
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	q := &Queue[R]{cfg: cfg, log: cfg.Logger, jobs: make(map[string]*job[R])}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	q.work = sync.NewCond(&q.mu)
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	for range cfg.Workers {
		q.wg.Go(func() { q.worker(ctx) })
	}
	return q
}

// Submit asks for the job named key to be rendered by run at priority p. If
// a job with that key is already queued or running, the caller joins it
// (run is not used) and, if p is higher than the job's, the job moves up.
// The ticket is valid with a nil error or ErrDeferred.
func (q *Queue[R]) Submit(key string, p Priority, run Func[R]) (*Ticket[R], error) {
	if p < 0 || p >= NumPriorities {
		return nil, fmt.Errorf("renderq: bad priority %d", p)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	if j, ok := q.jobs[key]; ok {
		q.stats.Joined++
		if j.elem != nil && p < j.prio && q.queues[p].Len() < q.cfg.Limits[p] {
			q.queues[j.prio].Remove(j.elem)
			j.prio = p
			j.elem = q.queues[p].PushBack(j)
		}
		if j.elem != nil && j.prio > p {
			return &Ticket[R]{j}, ErrDeferred
		}
		return &Ticket[R]{j}, nil
	}
	var err error
	if q.queues[p].Len() >= q.cfg.Limits[p] {
		if p != OnDemand || q.queues[Dirty].Len() >= q.cfg.Limits[Dirty] {
			q.stats.Dropped++
			return nil, ErrQueueFull
		}
		q.stats.Deferred++
		p, err = Dirty, ErrDeferred
	}
	j := &job[R]{key: key, prio: p, run: run, done: make(chan struct{})}
	j.elem = q.queues[p].PushBack(j)
	q.jobs[key] = j
	q.work.Signal()
	return &Ticket[R]{j}, err
}

// Stats reports the queue's state and counters.
func (q *Queue[R]) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	for p := range q.queues {
		s.Queued[p] = q.queues[p].Len()
	}
	return s
}

// next blocks until a job is queued, takes the highest-priority one and
// marks it running; nil once the queue is closed.
func (q *Queue[R]) next() *job[R] {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return nil
		}
		for p := range q.queues {
			if e := q.queues[p].Front(); e != nil {
				j := q.queues[p].Remove(e).(*job[R])
				j.elem = nil
				q.stats.Running++
				return j
			}
		}
		q.work.Wait()
	}
}

func (q *Queue[R]) worker(ctx context.Context) {
	for {
		j := q.next()
		if j == nil {
			return
		}
		start := time.Now()
		res, err := q.runJob(ctx, j)
		took := time.Since(start)
		q.mu.Lock()
		delete(q.jobs, j.key)
		q.stats.Running--
		q.stats.Ran[j.prio]++
		q.stats.RanTime[j.prio] += took
		q.mu.Unlock()
		j.res, j.err = res, err
		close(j.done)
	}
}

// runJob runs one job under its deadline; a panicking renderer fails its
// job, not the process.
func (q *Queue[R]) runJob(ctx context.Context, j *job[R]) (res R, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			q.log.Error("renderer panicked", "key", j.key, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("render %s: panic: %v", j.key, r)
		}
	}()
	return j.run(ctx)
}

// Close stops taking jobs, fails the queued ones with ErrClosed and waits for
// running ones until ctx ends. Then it cancels their contexts and gives them
// a second to return; a renderer that ignores its context is left behind.
func (q *Queue[R]) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		for p := range q.queues {
			for e := q.queues[p].Front(); e != nil; e = e.Next() {
				j := e.Value.(*job[R])
				delete(q.jobs, j.key)
				j.err = ErrClosed
				close(j.done)
			}
			q.queues[p].Init()
		}
		q.work.Broadcast()
	}
	q.mu.Unlock()
	finished := make(chan struct{})
	go func() { q.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		q.cancel()
		select {
		case <-finished:
		case <-time.After(time.Second):
		}
		return fmt.Errorf("render queue: abandoned running jobs: %w", ctx.Err())
	}
}
