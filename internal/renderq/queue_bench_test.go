package renderq

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkSubmit10k: one op is 10,000 submissions over 500 keys (20 per
// key, spread over all priorities) from 8 goroutines, each waiting for its
// result, against 2 workers running empty jobs.
func BenchmarkSubmit10k(b *testing.B) {
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = "style/14/" + strconv.Itoa(i*8) + "/0"
	}
	q := New[int](Config{Workers: 2, Limits: [NumPriorities]int{1 << 20, 1 << 20, 1 << 20, 1 << 20}})
	defer q.Close(context.Background())
	run := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		done := make(chan struct{})
		for g := range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				tickets := make([]*Ticket[int], 0, 1250)
				for i := range 1250 {
					n := g*1250 + i
					tk, err := q.Submit(keys[n%len(keys)], Priority(n%NumPriorities), run)
					if err != nil && err != ErrDeferred {
						b.Error(err)
						return
					}
					tickets = append(tickets, tk)
				}
				for _, tk := range tickets {
					tk.Wait(context.Background())
				}
			}()
		}
		for range 8 {
			<-done
		}
	}
}

// BenchmarkSubmitDuplicate is the cost of joining a job already queued.
func BenchmarkSubmitDuplicate(b *testing.B) {
	q := New[int](Config{Workers: 1})
	defer q.Close(context.Background())
	hold := make(chan struct{})
	q.Submit("gate", OnDemand, func(context.Context) (int, error) { <-hold; return 0, nil })
	defer close(hold)
	q.Submit("k", Bulk, func(context.Context) (int, error) { return 0, nil })
	b.ReportAllocs()
	for b.Loop() {
		q.Submit("k", Bulk, nil)
	}
}
