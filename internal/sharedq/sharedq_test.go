package sharedq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kiln/internal/pgtest"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
)

func job(x int) pipeline.Job {
	return pipeline.Job{Style: "osm", Scale: 1, Meta: tile.Meta{Z: 10, X: x * 8, Y: 0, N: 8}}
}

// counter records the renders a node's handler did, by job.
type counter struct {
	mu    sync.Mutex
	count map[pipeline.Job]int
	order []pipeline.Job
}

func (c *counter) add(j pipeline.Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count == nil {
		c.count = map[pipeline.Job]int{}
	}
	c.count[j]++
	c.order = append(c.order, j)
}

func (c *counter) get(j pipeline.Job) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[j]
}

func open(t testing.TB, url string, workers int, h Handler, onInvalidate func()) *Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := Open(ctx, Config{URL: url, Workers: workers, RenderTimeout: 5 * time.Second, OnInvalidate: onInvalidate}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return q
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Three nodes asked for the same metatiles many times render each once,
// and every caller hears that it is stored. The renders are held until
// every request is in, so none comes after its job is done (which would be
// a new render, rightly).
func TestDeduplicatedAcrossNodes(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	var renders counter
	release := make(chan struct{})
	held := func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
		renders.add(j)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	nodes := []*Queue{open(t, url, 2, held, nil), open(t, url, 2, held, nil), open(t, url, 2, held, nil)}
	ctx := waitCtx(t)
	tickets := make([]pipeline.SharedTicket, 30)
	var wg sync.WaitGroup
	for i := range tickets {
		wg.Go(func() {
			tk, err := nodes[i%len(nodes)].Enqueue(ctx, job(i%3), renderq.Priority(i%renderq.NumPriorities))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			tickets[i] = tk
		})
	}
	wg.Wait()
	close(release)
	for i, tk := range tickets {
		if tk == nil {
			continue
		}
		if err := tk.Wait(ctx); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	for x := range 3 {
		if n := renders.get(job(x)); n != 1 {
			t.Errorf("job %d rendered %d times, want once", x, n)
		}
	}
}

// One worker takes the highest priority first; asking again at a higher
// priority moves a queued job up.
func TestPriorities(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	var renders counter
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
		if j == job(0) {
			started <- struct{}{}
			<-release
		}
		renders.add(j)
		return nil
	}
	q := open(t, url, 1, h, nil)
	ctx := waitCtx(t)
	enqueue := func(x int, p renderq.Priority) pipeline.SharedTicket {
		tk, err := q.Enqueue(ctx, job(x), p)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	first := enqueue(0, renderq.Low)
	<-started // the worker is busy: the rest queue up
	low1, low2, low3 := enqueue(1, renderq.Low), enqueue(2, renderq.Low), enqueue(3, renderq.Low)
	bulk := enqueue(4, renderq.Bulk)
	onDemand := enqueue(5, renderq.OnDemand)
	raised := enqueue(3, renderq.OnDemand) // joins low3's job and moves it up
	queued, running, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := [renderq.NumPriorities]int{renderq.OnDemand: 2, renderq.Bulk: 1, renderq.Low: 2}; queued != want || running != 1 {
		t.Errorf("stats: %v queued, %d running; want %v, 1", queued, running, want)
	}
	close(release)
	for _, tk := range []pipeline.SharedTicket{first, low1, low2, low3, bulk, onDemand, raised} {
		if err := tk.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// At one priority river takes the earliest: job 3 was queued first.
	want := []pipeline.Job{job(0), job(3), job(5), job(4), job(1), job(2)}
	if fmt.Sprint(renders.order) != fmt.Sprint(want) {
		t.Errorf("rendered in order %v, want %v", renders.order, want)
	}
}

// A failed render reaches every waiter with its reason and is not tried
// again.
func TestFailure(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	var renders counter
	q := open(t, url, 1, func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
		renders.add(j)
		return errors.New("style broken")
	}, nil)
	ctx := waitCtx(t)
	tk, err := q.Enqueue(ctx, job(1), renderq.OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	err = tk.Wait(ctx)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "style broken") {
		t.Fatalf("wait: %v, want ErrFailed with the reason", err)
	}
	time.Sleep(2 * time.Second) // a retry would come within a second
	if n := renders.get(job(1)); n != 1 {
		t.Errorf("rendered %d times, want once", n)
	}
	// Asked again, it is a new job.
	if tk, err = q.Enqueue(ctx, job(1), renderq.OnDemand); err != nil {
		t.Fatal(err)
	}
	if err := tk.Wait(ctx); !errors.Is(err, ErrFailed) {
		t.Fatalf("second wait: %v", err)
	}
}

// A node that only queues (kiln render) hears of jobs that other nodes
// render, even one finished before it began to wait.
func TestWaitOnAnotherNode(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	var renders counter
	open(t, url, 2, func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
		renders.add(j)
		return nil
	}, nil)
	client := open(t, url, 0, nil, nil)
	ctx := waitCtx(t)
	tk, err := client.Enqueue(ctx, job(7), renderq.Bulk)
	if err != nil {
		t.Fatal(err)
	}
	for renders.get(job(7)) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the notification is gone: the poll must answer
	if err := tk.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// Invalidate reaches every node.
func TestInvalidate(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	got := make(chan struct{}, 2)
	hook := func() { got <- struct{}{} }
	a := open(t, url, 0, nil, hook)
	open(t, url, 0, nil, hook)
	time.Sleep(200 * time.Millisecond) // both listening
	if err := a.Invalidate(waitCtx(t), "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 2 nodes heard the invalidation", i)
		}
	}
}

// A node stopping mid-render gives the job back, and another renders it.
func TestStopGivesJobBack(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	started := make(chan struct{}, 1)
	ctx := waitCtx(t)
	stopping, err := Open(ctx, Config{URL: url, Workers: 1, RenderTimeout: 5 * time.Second},
		func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := stopping.Enqueue(ctx, job(2), renderq.OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	stopping.Close(sctx)
	cancel()
	var renders counter
	open(t, url, 1, func(ctx context.Context, j pipeline.Job, _ renderq.Priority) error {
		renders.add(j)
		return nil
	}, nil)
	// Its queue is closed: wait for the same job through another.
	waiter := open(t, url, 0, nil, nil)
	if err := (&Ticket{q: waiter, id: tk.(*Ticket).id}).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := renders.get(job(2)); n != 1 {
		t.Errorf("rendered %d times by the node that stayed, want once", n)
	}
}

// BenchmarkEnqueueWait is the queue's own cost per metatile: queued on
// one node, rendered (doing nothing) on another with 4 workers, waited for
// through a notification; one job at a time (what an on-demand request
// adds) and 64 at a time (what bulk rendering pays per metatile).
func BenchmarkEnqueueWait(b *testing.B) {
	url := pgtest.Start(b).NewDatabaseWithoutPostGIS(b)
	open(b, url, 4, func(context.Context, pipeline.Job, renderq.Priority) error { return nil }, nil)
	client := open(b, url, 0, nil, nil)
	ctx := context.Background()
	var next atomic.Int64
	for _, inFlight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			jobs := make(chan struct{})
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					for range jobs {
						tk, err := client.Enqueue(ctx, job(int(next.Add(1))), renderq.Bulk)
						if err == nil {
							err = tk.Wait(ctx)
						}
						if err != nil {
							b.Error(err)
						}
					}
				})
			}
			for b.Loop() {
				jobs <- struct{}{}
			}
			close(jobs)
			wg.Wait()
		})
	}
}

// Pages are jobs of their own queue: a node loads as many at once as it
// has page workers, beside its tile workers; one page asked for on two
// nodes many times is loaded once; a failed load reaches every waiter with
// its reason, and is not retried.
func TestPagesAcrossNodes(t *testing.T) {
	url := pgtest.Start(t).NewDatabaseWithoutPostGIS(t)
	ctx := waitCtx(t)
	var mu sync.Mutex
	loads := map[pipeline.PageJob]int{}
	var inFlight, most atomic.Int32
	load := func(ctx context.Context, j pipeline.PageJob, _ renderq.Priority) error {
		mu.Lock()
		loads[j]++
		mu.Unlock()
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(200 * time.Millisecond)
		if strings.Contains(j.URL, "broken") {
			return errors.New("dns: no such host")
		}
		return nil
	}
	open := func(pageWorkers int, handle PageHandler) *Queue {
		q, err := Open(ctx, Config{URL: url, PageWorkers: pageWorkers, RenderTimeout: 5 * time.Second, PageTimeout: 5 * time.Second}, nil, handle)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close(context.Background()) })
		return q
	}
	loader := open(2, load)
	asker := open(0, nil) // a node without a browser, or kiln thumb
	pages := []pipeline.PageJob{{URL: "https://a.example/"}, {URL: "https://a.example/", FullPage: true},
		{URL: "https://b.example/"}, {URL: "https://broken.example/"}}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			j := pages[i%len(pages)]
			q := []*Queue{loader, asker}[i%2]
			tk, err := q.EnqueuePage(ctx, j, renderq.OnDemand)
			if err == nil {
				err = tk.Wait(ctx)
			}
			switch broken := strings.Contains(j.URL, "broken"); {
			case broken && (!errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no such host")):
				t.Errorf("%v: %v, want the load's failure", j, err)
			case !broken && err != nil:
				t.Errorf("%v: %v", j, err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, j := range pages {
		if loads[j] != 1 {
			t.Errorf("%v loaded %d times, want once", j, loads[j])
		}
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d pages loading at once, want the node's 2", m)
	}
	var attempts int
	if err := loader.pool.QueryRow(ctx, `SELECT max(attempt) FROM river_job WHERE queue = $1`, pageQueueName).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("a page job taken %d times, want once (failures are not retried)", attempts)
	}
}
