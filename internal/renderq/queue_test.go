package renderq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gate blocks the single worker of a queue on a first job until released,
// so that jobs submitted meanwhile pile up in the queues.
func gate(t *testing.T, q *Queue[string]) (release func()) {
	t.Helper()
	started, hold := make(chan struct{}), make(chan struct{})
	if _, err := q.Submit("gate", OnDemand, func(context.Context) (string, error) {
		close(started)
		<-hold
		return "gate", nil
	}); err != nil {
		t.Fatal(err)
	}
	<-started
	return sync.OnceFunc(func() { close(hold) })
}

func newQueue(t *testing.T, cfg Config) *Queue[string] {
	q := New[string](cfg)
	t.Cleanup(func() { q.Close(context.Background()) })
	return q
}

func TestPriorityOrder(t *testing.T) {
	q := newQueue(t, Config{Workers: 1})
	release := gate(t, q)
	var mu sync.Mutex
	var order []string
	record := func(name string) Func[string] {
		return func(context.Context) (string, error) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return name, nil
		}
	}
	var tickets []*Ticket[string]
	for _, s := range []struct {
		key string
		p   Priority
	}{{"low1", Low}, {"bulk1", Bulk}, {"dirty1", Dirty}, {"ondemand1", OnDemand}, {"low2", Low}, {"bulk2", Bulk}, {"ondemand2", OnDemand}, {"dirty2", Dirty}} {
		tk, err := q.Submit(s.key, s.p, record(s.key))
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	if st := q.Stats(); st.Queued != [NumPriorities]int{2, 2, 2, 2} || st.Running != 1 {
		t.Errorf("stats while gated: %+v", st)
	}
	// Held for far longer than the jobs take, so that the time of the
	// gate's run, checked below, is not a matter of scheduling.
	time.Sleep(20 * time.Millisecond)
	release()
	for _, tk := range tickets {
		tk.Wait(context.Background())
	}
	want := []string{"ondemand1", "ondemand2", "dirty1", "dirty2", "bulk1", "bulk2", "low1", "low2"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", order, want)
	}
	// The gate ran on demand too, and held its worker the longest.
	st := q.Stats()
	if st.Ran != [NumPriorities]int64{3, 2, 2, 2} || st.RanTime[OnDemand] <= 0 || st.RanTime[OnDemand] < st.RanTime[Low] {
		t.Errorf("ran %v in %v, want {3 2 2 2}, most time on demand", st.Ran, st.RanTime)
	}
}

func TestDeduplication(t *testing.T) {
	q := newQueue(t, Config{Workers: 4})
	release := gate(t, q)
	var runs atomic.Int32
	var tickets []*Ticket[string]
	for i := range 100 {
		tk, err := q.Submit("meta", Priority(i%NumPriorities), func(context.Context) (string, error) {
			runs.Add(1)
			time.Sleep(10 * time.Millisecond)
			return fmt.Sprintf("render by submitter %d", i), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	release()
	for _, tk := range tickets {
		got, err := tk.Wait(context.Background())
		if err != nil || got != "render by submitter 0" {
			t.Fatalf("Wait = %q, %v", got, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("rendered %d times, want 1", n)
	}
	if st := q.Stats(); st.Joined != 99 {
		t.Errorf("Joined = %d, want 99", st.Joined)
	}
	// A job that has finished is rendered again when asked again.
	tk, _ := q.Submit("meta", OnDemand, func(context.Context) (string, error) { return "again", nil })
	if got, _ := tk.Wait(context.Background()); got != "again" {
		t.Errorf("second render = %q", got)
	}
}

// Joining a running job waits for that render.
func TestJoinRunning(t *testing.T) {
	q := newQueue(t, Config{Workers: 2})
	release := gate(t, q)
	tk, err := q.Submit("gate", Bulk, func(context.Context) (string, error) { return "other", nil })
	if err != nil {
		t.Fatal(err)
	}
	release()
	if got, _ := tk.Wait(context.Background()); got != "gate" {
		t.Errorf("joined a running job but got %q", got)
	}
}

func TestPriorityUpgrade(t *testing.T) {
	q := newQueue(t, Config{Workers: 1})
	release := gate(t, q)
	var order []string
	var mu sync.Mutex
	rec := func(k string) Func[string] {
		return func(context.Context) (string, error) { mu.Lock(); order = append(order, k); mu.Unlock(); return k, nil }
	}
	q.Submit("b1", Bulk, rec("b1"))
	q.Submit("b2", Bulk, rec("b2"))
	q.Submit("d1", Dirty, rec("d1"))
	tk, err := q.Submit("b2", OnDemand, rec("unused"))
	if err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Queued[OnDemand] != 1 || st.Queued[Bulk] != 1 {
		t.Errorf("after upgrade: %+v", st.Queued)
	}
	// A lower priority does not move a job down.
	q.Submit("d1", Low, rec("unused"))
	release()
	tk.Wait(context.Background())
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[b2 d1 b1]" {
		t.Errorf("order %v, want [b2 d1 b1]", order)
	}
}

func TestLimits(t *testing.T) {
	q := newQueue(t, Config{Workers: 1, Limits: [NumPriorities]int{2, 1, 1, 1}})
	release := gate(t, q)
	defer release()
	nop := func(context.Context) (string, error) { return "", nil }
	for i := range 2 {
		if _, err := q.Submit(fmt.Sprint("o", i), OnDemand, nop); err != nil {
			t.Fatal(err)
		}
	}
	// The full on-demand queue overflows into the dirty queue...
	tk, err := q.Submit("o2", OnDemand, nop)
	if !errors.Is(err, ErrDeferred) || tk == nil {
		t.Fatalf("third on-demand: %v", err)
	}
	// ...until that is full too.
	if _, err := q.Submit("o3", OnDemand, nop); !errors.Is(err, ErrQueueFull) {
		t.Errorf("fourth on-demand: %v, want ErrQueueFull", err)
	}
	if _, err := q.Submit("d", Dirty, nop); !errors.Is(err, ErrQueueFull) {
		t.Errorf("dirty: %v, want ErrQueueFull", err)
	}
	// Bulk does not overflow: its submitter is told to slow down.
	q.Submit("b0", Bulk, nop)
	if _, err := q.Submit("b1", Bulk, nop); !errors.Is(err, ErrQueueFull) {
		t.Errorf("bulk: %v, want ErrQueueFull", err)
	}
	// Joining a deferred job at on-demand priority while that queue is full is deferred too.
	if _, err := q.Submit("o2", OnDemand, nop); !errors.Is(err, ErrDeferred) {
		t.Errorf("join deferred: %v, want ErrDeferred", err)
	}
	// Joining a queued job needs no room.
	if _, err := q.Submit("o0", OnDemand, nop); err != nil {
		t.Errorf("join: %v", err)
	}
	st := q.Stats()
	if st.Deferred != 1 || st.Dropped != 3 || st.Queued != [NumPriorities]int{2, 1, 1, 0} {
		t.Errorf("stats %+v", st)
	}
}

func TestTimeouts(t *testing.T) {
	q := newQueue(t, Config{Workers: 1, Timeout: 50 * time.Millisecond})
	tk, _ := q.Submit("slow", OnDemand, func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	if _, err := tk.Wait(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("job past its deadline: %v", err)
	}
	// A waiter that gives up does not stop the job.
	done := make(chan struct{})
	tk, _ = q.Submit("fine", OnDemand, func(ctx context.Context) (string, error) {
		time.Sleep(30 * time.Millisecond)
		close(done)
		return "ok", nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := tk.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter timeout: %v", err)
	}
	<-done
	if got, err := tk.Wait(context.Background()); got != "ok" || err != nil {
		t.Errorf("result after the waiter left: %q, %v", got, err)
	}
}

func TestPanicFailsJob(t *testing.T) {
	q := newQueue(t, Config{Workers: 1})
	tk, _ := q.Submit("boom", OnDemand, func(context.Context) (string, error) { panic("renderer bug") })
	if _, err := tk.Wait(context.Background()); err == nil {
		t.Fatal("panicking job succeeded")
	}
	tk, _ = q.Submit("next", OnDemand, func(context.Context) (string, error) { return "alive", nil })
	if got, _ := tk.Wait(context.Background()); got != "alive" {
		t.Errorf("worker dead after a panic: %q", got)
	}
}

func TestClose(t *testing.T) {
	q := New[string](Config{Workers: 1})
	cancelled := make(chan struct{})
	started := make(chan struct{})
	running, _ := q.Submit("running", OnDemand, func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return "", ctx.Err()
	})
	<-started
	queued, _ := q.Submit("queued", Bulk, func(context.Context) (string, error) { return "never", nil })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil {
		t.Error("Close with a stuck job returned nil")
	}
	<-cancelled
	if _, err := queued.Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("queued job: %v, want ErrClosed", err)
	}
	if _, err := running.Wait(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("running job: %v, want Canceled", err)
	}
	if _, err := q.Submit("late", OnDemand, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
}

// Many goroutines submitting overlapping keys: every ticket gets its key's
// result and each key is rendered once per round.
func TestConcurrentSubmit(t *testing.T) {
	q := newQueue(t, Config{Workers: 3, Limits: [NumPriorities]int{1 << 20, 1 << 20, 1 << 20, 1 << 20}})
	var runs sync.Map
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprint(i % 50)
				tk, err := q.Submit(key, Priority((g+i)%NumPriorities), func(context.Context) (string, error) {
					n, _ := runs.LoadOrStore(key, new(atomic.Int32))
					n.(*atomic.Int32).Add(1)
					return key, nil
				})
				if err != nil && !errors.Is(err, ErrDeferred) {
					t.Error(err)
					return
				}
				if got, err := tk.Wait(context.Background()); got != key || err != nil {
					t.Errorf("key %s got %q, %v", key, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := q.Stats(); st.Done()+st.Joined != 8*500 {
		t.Errorf("done %d + joined %d != %d submissions", st.Done(), st.Joined, 8*500)
	}
}
