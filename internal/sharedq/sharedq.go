// Package sharedq is the render queue that the nodes of a kiln cluster
// share, for metatiles and for web pages: river
// (github.com/riverqueue/river) on the PostgreSQL that the PostGIS
// deployment already runs, so that no home-made network queue stands in
// for a real one.
//
// It keeps renderq's contract across nodes. Priorities map onto river's
// (renderq.OnDemand is river's 1, renderq.Low its 4); a job is unique by
// its arguments while queued or running, so a metatile asked for on three
// nodes is rendered once, and asking again at a higher priority moves a
// queued job up. A job taken by a node that dies is handed to another once
// its lease (river's RescueStuckJobsAfter) runs out: at most two renders
// for it, never none. Pages are jobs of their own queue, so that a node
// takes as many as its browser pool loads at once whatever its tile
// workers. Callers wait for a job through PostgreSQL's LISTEN/NOTIFY, with
// a poll of the job table behind it for a missed notification; the same
// connection carries cache invalidations between nodes.
package sharedq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
)

const (
	queueName     = "kiln_render"
	pageQueueName = "kiln_pages"
	// doneChannel carries "ID ok" or "ID error: reason" for every job a
	// node finishes.
	doneChannel = "kiln_render_done"
	// InvalidateChannel tells every node that the map data or the cache
	// changed behind its back (an import): they drop what they keep of it.
	InvalidateChannel = "kiln_invalidate"
	// pollEvery is how often waiters look at the job table in case a
	// notification was lost (the listening connection dropped, or the job
	// ended between its insert and the wait).
	pollEvery = 500 * time.Millisecond
	// maxAttempts bounds how often a job is taken: a node dying with it
	// costs one attempt; a render that fails is not retried.
	maxAttempts = 5
)

// renderArgs is a job's payload: pipeline.Job in river's JSON.
type renderArgs struct {
	Style string `json:"style"`
	Scale int    `json:"scale"`
	Z     int    `json:"z"`
	X     int    `json:"x"`
	Y     int    `json:"y"`
	N     int    `json:"n"`
}

func (renderArgs) Kind() string { return "kiln_render" }

func argsOf(j pipeline.Job) renderArgs {
	return renderArgs{Style: j.Style, Scale: j.Scale, Z: j.Meta.Z, X: j.Meta.X, Y: j.Meta.Y, N: j.Meta.N}
}

func (a renderArgs) job() pipeline.Job {
	return pipeline.Job{Style: a.Style, Scale: a.Scale, Meta: tile.Meta{Z: a.Z, X: a.X, Y: a.Y, N: a.N}}
}

// pageArgs is a page job's payload: pipeline.PageJob in river's JSON.
type pageArgs struct {
	URL      string `json:"url"`
	FullPage bool   `json:"full_page"`
}

func (pageArgs) Kind() string { return "kiln_page" }

// riverPriority maps renderq's priorities (0 first) onto river's (1 first),
// and renderqPriority back.
func riverPriority(p renderq.Priority) int { return int(p) + 1 }

func renderqPriority(p int) renderq.Priority { return renderq.Priority(p - 1) }

// Handler renders and stores a job on this node, at the priority it was
// queued with.
type Handler func(ctx context.Context, j pipeline.Job, prio renderq.Priority) error

// PageHandler loads and stores a page job on this node, at the priority it
// was queued with.
type PageHandler func(ctx context.Context, j pipeline.PageJob, prio renderq.Priority) error

// Config sets up a node's view of the queue. Zero values take defaults.
type Config struct {
	URL string // PostgreSQL URL
	// Workers is how many jobs this node renders at once; 0 for a node
	// that only queues work (kiln render, kiln expire).
	Workers int
	// Prefetch is how many jobs beyond Workers a node takes, to wait in
	// its own queue, so that a worker that finishes starts the next job
	// without waiting for a fetch from the database. Such a job is out of
	// the cluster's priority order while it waits.
	Prefetch int
	// PageWorkers is how many pages this node loads at once; 0 for a
	// node that loads none.
	PageWorkers int
	// RenderTimeout is a render's deadline (render.timeout); a job gets
	// it plus a margin before river gives up on it. PageTimeout is a page
	// job's, likewise.
	RenderTimeout, PageTimeout time.Duration
	// Lease is how long a job may run before it is taken to have died
	// with its node and is handed to another. It must exceed the longer
	// timeout plus the margin. Default: twice that timeout plus 30 s.
	Lease  time.Duration
	Logger *slog.Logger
	// OnInvalidate is called when another node says that the data or the
	// cache changed (Invalidate).
	OnInvalidate func()
}

// JobTimeout is a job's deadline for a render deadline of render: the
// render's plus the time to store the result. A lease must be longer.
func JobTimeout(render time.Duration) time.Duration { return render + render/2 + time.Second }

// works reports whether the node runs jobs, or only queues them.
func (c *Config) works() bool { return c.Workers > 0 || c.PageWorkers > 0 }

func (c *Config) defaults() error {
	if c.RenderTimeout <= 0 {
		c.RenderTimeout = time.Minute
	}
	if c.PageTimeout <= 0 {
		c.PageTimeout = 2 * time.Minute
	}
	longest := max(c.RenderTimeout, c.PageTimeout)
	if c.Lease <= 0 {
		c.Lease = 2*longest + 30*time.Second
	}
	if c.Lease <= JobTimeout(longest) {
		return fmt.Errorf("sharedq: a lease of %v is too short for jobs of up to %v: it must be over %v", c.Lease, longest, JobTimeout(longest))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Queue is one node's handle on the shared queue.
type Queue struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	cfg    Config
	log    *slog.Logger

	mu      sync.Mutex
	waiters map[int64][]chan error
	// ended holds the results of the last jobs that ended with nobody
	// waiting here: a fast job can end before its caller starts to wait.
	ended      map[int64]error
	endedOrder []int64 // a ring of ended's keys, oldest first out
	endedNext  int

	stop    context.CancelFunc
	stopped sync.WaitGroup
}

// Open connects to the queue, creating river's tables on first use, and
// starts rendering jobs with handle if cfg.Workers > 0 and loading pages
// with handlePage if cfg.PageWorkers > 0.
func Open(ctx context.Context, cfg Config, handle Handler, handlePage PageHandler) (*Queue, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sharedq: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	rc := &river.Config{
		Logger:               cfg.Logger.With("component", "river"),
		JobTimeout:           JobTimeout(cfg.RenderTimeout),
		RescueStuckJobsAfter: cfg.Lease,
		MaxAttempts:          maxAttempts,
		// Completed jobs are kept briefly, for waiters that missed the
		// notification; a bulk render of a region leaves many.
		CompletedJobRetentionPeriod: time.Hour,
		// River's defaults (a fetch at most every 100 ms, one insert
		// notification per 100 ms, a poll every second) suit jobs of
		// seconds; many metatiles render in milliseconds. Some insert
		// notifications that come back to back are not acted on, so the
		// poll is shorter too; at 50 ms its queries cost a bulk render
		// as much PostgreSQL time as the jobs themselves.
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 250 * time.Millisecond,
	}
	q := &Queue{pool: pool, cfg: cfg, log: cfg.Logger, waiters: map[int64][]chan error{},
		ended: map[int64]error{}, endedOrder: make([]int64, 0, keepEnded)}
	if cfg.works() {
		workers := river.NewWorkers()
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{}
		if cfg.Workers > 0 {
			river.AddWorker(workers, &worker{q: q, handle: handle})
			rc.Queues[queueName] = river.QueueConfig{MaxWorkers: cfg.Workers + cfg.Prefetch}
		}
		if cfg.PageWorkers > 0 {
			river.AddWorker(workers, &pageWorker{q: q, handle: handlePage})
			rc.Queues[pageQueueName] = river.QueueConfig{MaxWorkers: cfg.PageWorkers}
		}
	}
	q.client, err = river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("sharedq: %w", err)
	}
	if cfg.works() {
		// River stops when Start's context ends: Close stops it instead.
		if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
			pool.Close()
			return nil, fmt.Errorf("sharedq: starting workers: %w", err)
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	q.stop = cancel
	q.stopped.Go(func() { q.listen(lctx) })
	q.stopped.Go(func() { q.poll(lctx) })
	return q, nil
}

// migrate brings river's tables up to date, one node at a time: a session
// lock, as river's migrations cannot all run in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("sharedq: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("sharedq: %w", err)
	}
	defer conn.Release()
	const lock = "SELECT pg_advisory_lock(hashtext('kiln_river_migrate'))"
	if _, err := conn.Exec(ctx, lock); err != nil {
		return fmt.Errorf("sharedq: waiting for another node's migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('kiln_river_migrate'))")
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("sharedq: creating the queue's tables: %w", err)
	}
	return nil
}

// Close stops taking jobs, gives running renders until ctx ends (then
// cancels them: they are queued again for another node) and disconnects.
func (q *Queue) Close(ctx context.Context) error {
	var err error
	if q.cfg.works() {
		if err = q.client.Stop(ctx); err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = q.client.StopAndCancel(cctx)
			cancel()
		}
	}
	q.stop()
	q.stopped.Wait()
	q.pool.Close()
	return err
}

// Ticket waits for a job of the queue.
type Ticket struct {
	q  *Queue
	id int64
}

// Enqueue queues j at prio, or joins the same job queued or running on any
// node, moving it up to prio if it is queued lower.
func (q *Queue) Enqueue(ctx context.Context, j pipeline.Job, prio renderq.Priority) (pipeline.SharedTicket, error) {
	tk, err := q.insert(ctx, argsOf(j), queueName, prio)
	if err != nil {
		return nil, fmt.Errorf("sharedq: queueing %s/%s: %w", j.Style, j.Meta, err)
	}
	return tk, nil
}

// EnqueuePage queues page j at prio as Enqueue queues a metatile.
func (q *Queue) EnqueuePage(ctx context.Context, j pipeline.PageJob, prio renderq.Priority) (pipeline.SharedTicket, error) {
	tk, err := q.insert(ctx, pageArgs(j), pageQueueName, prio)
	if err != nil {
		return nil, fmt.Errorf("sharedq: queueing page %s: %w", j.URL, err)
	}
	return tk, nil
}

func (q *Queue) insert(ctx context.Context, args river.JobArgs, queue string, prio renderq.Priority) (*Ticket, error) {
	res, err := q.client.Insert(ctx, args, &river.InsertOpts{
		Queue:    queue,
		Priority: riverPriority(prio),
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	})
	if err != nil {
		return nil, err
	}
	if res.UniqueSkippedAsDuplicate && res.Job.Priority > riverPriority(prio) {
		// A job still waiting moves up; one already taken keeps going.
		if _, err := q.pool.Exec(ctx, `UPDATE river_job SET priority = $2
			WHERE id = $1 AND priority > $2 AND state IN ('available', 'retryable', 'scheduled', 'pending')`,
			res.Job.ID, riverPriority(prio)); err != nil {
			return nil, fmt.Errorf("raising it to %s: %w", prio, err)
		}
	}
	return &Ticket{q: q, id: res.Job.ID}, nil
}

// Wait returns once the job is stored, with its error if it failed, or
// when ctx ends.
func (t *Ticket) Wait(ctx context.Context) error {
	ch := make(chan error, 1)
	t.q.mu.Lock()
	if err, ok := t.q.ended[t.id]; ok {
		t.q.mu.Unlock()
		return err
	}
	t.q.waiters[t.id] = append(t.q.waiters[t.id], ch)
	t.q.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		t.q.mu.Lock()
		ws := t.q.waiters[t.id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(t.q.waiters, t.id)
		} else {
			t.q.waiters[t.id] = ws
		}
		t.q.mu.Unlock()
		return ctx.Err()
	}
}

// keepEnded is how many results of jobs nobody waited for are kept.
const keepEnded = 4096

// finish wakes the waiters of job id with err, or keeps err for a waiter
// yet to come.
func (q *Queue) finish(id int64, err error) {
	q.mu.Lock()
	ws := q.waiters[id]
	delete(q.waiters, id)
	if len(ws) == 0 {
		if len(q.endedOrder) < keepEnded {
			q.endedOrder = append(q.endedOrder, id)
		} else {
			delete(q.ended, q.endedOrder[q.endedNext])
			q.endedOrder[q.endedNext] = id
			q.endedNext = (q.endedNext + 1) % keepEnded
		}
		q.ended[id] = err
	}
	q.mu.Unlock()
	for _, w := range ws {
		w <- err
	}
}

// ErrFailed wraps the reason a job failed on the node that took it.
var ErrFailed = errors.New("render failed")

// Invalidate tells every node, this one included, that the data or the
// cache changed.
func (q *Queue) Invalidate(ctx context.Context, why string) error {
	if _, err := q.pool.Exec(ctx, "SELECT pg_notify($1, $2)", InvalidateChannel, why); err != nil {
		return fmt.Errorf("sharedq: telling the nodes: %w", err)
	}
	return nil
}

// listen follows the notifications until ctx ends, reconnecting after a
// dropped connection (the poll covers what is missed meanwhile).
func (q *Queue) listen(ctx context.Context) {
	for backoff := 100 * time.Millisecond; ctx.Err() == nil; {
		err := q.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		q.log.Warn("shared queue: notifications lost, reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (q *Queue) listenOnce(ctx context.Context) error {
	pc, err := q.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is left listening: it is not given back.
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	for _, ch := range []string{doneChannel, InvalidateChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case doneChannel:
			id, status, _ := strings.Cut(n.Payload, " ")
			jobID, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				continue
			}
			q.finish(jobID, statusErr(status))
		case InvalidateChannel:
			q.log.Info("cache invalidated by another node", "why", n.Payload)
			if q.cfg.OnInvalidate != nil {
				q.cfg.OnInvalidate()
			}
		}
	}
}

func statusErr(status string) error {
	if status == "ok" {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrFailed, strings.TrimPrefix(status, "error: "))
}

// poll ends the waits whose job ended without a notification reaching
// this node.
func (q *Queue) poll(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.mu.Lock()
		ids := make([]int64, 0, len(q.waiters))
		for id := range q.waiters {
			ids = append(ids, id)
		}
		q.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		if err := q.pollOnce(ctx, ids); err != nil && ctx.Err() == nil {
			q.log.Warn("shared queue: polling jobs", "err", err)
		}
	}
}

func (q *Queue) pollOnce(ctx context.Context, ids []int64) error {
	// A job gone from the table was completed and cleaned away.
	rows, err := q.pool.Query(ctx, `SELECT w.id, coalesce(j.state::text, 'completed'),
			coalesce(j.errors[array_upper(j.errors, 1)]->>'error', '')
		FROM unnest($1::bigint[]) AS w(id) LEFT JOIN river_job j ON j.id = w.id
		WHERE j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded')`, ids)
	if err != nil {
		return err
	}
	type ended struct {
		id  int64
		err error
	}
	var done []ended
	for rows.Next() {
		var id int64
		var state, reason string
		if err := rows.Scan(&id, &state, &reason); err != nil {
			rows.Close()
			return err
		}
		var err error
		if state != "completed" {
			err = fmt.Errorf("%w: job %s: %s", ErrFailed, state, reason)
		}
		done = append(done, ended{id, err})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range done {
		q.finish(e.id, e.err)
	}
	return nil
}

// worker renders the jobs river hands this node.
type worker struct {
	river.WorkerDefaults[renderArgs]
	q      *Queue
	handle Handler
}

func (w *worker) Work(ctx context.Context, job *river.Job[renderArgs]) error {
	err := w.handle(ctx, job.Args.job(), renderqPriority(job.Priority))
	return finish(ctx, w.q, job, err)
}

// pageWorker loads the pages river hands this node.
type pageWorker struct {
	river.WorkerDefaults[pageArgs]
	q      *Queue
	handle PageHandler
}

func (w *pageWorker) Work(ctx context.Context, job *river.Job[pageArgs]) error {
	err := w.handle(ctx, pipeline.PageJob(job.Args), renderqPriority(job.Priority))
	return finish(ctx, w.q, job, err)
}

// Timeout is a page job's deadline, longer than a metatile's.
func (w *pageWorker) Timeout(*river.Job[pageArgs]) time.Duration {
	return JobTimeout(w.q.cfg.PageTimeout)
}

// finish records how a job this node ran ended, with err from its handler,
// and tells its waiters.
func finish[T river.JobArgs](ctx context.Context, q *Queue, job *river.Job[T], err error) error {
	if err != nil && (ctx.Err() != nil || errors.Is(err, renderq.ErrClosed)) {
		// This node is stopping: the job goes back for another node.
		return err
	}
	// The job is marked completed and its waiters told in one transaction,
	// at once rather than in river's next batch: a job whose waiters heard
	// that it is stored is never run again by another node, even if this
	// one dies the next moment.
	status := "ok"
	if err != nil {
		// NOTIFY payloads are bounded (8000 bytes).
		status = "error: " + truncate(err.Error(), 1000)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	terr := pgx.BeginFunc(cctx, q.pool, func(tx pgx.Tx) error {
		if err == nil {
			if _, err := river.JobCompleteTx[*riverpgxv5.Driver](cctx, tx, job); err != nil {
				return err
			}
		}
		_, err := tx.Exec(cctx, "SELECT pg_notify($1, $2)", doneChannel, strconv.FormatInt(job.ID, 10)+" "+status)
		return err
	})
	if terr != nil {
		q.log.Warn("shared queue: recording a finished job", "job", job.ID, "err", terr)
	}
	if err != nil {
		// A job that failed fails again on another node: not retried.
		return river.JobCancel(err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Invalidate tells every node of the queue in the database at url that
// the data or the cache changed, for commands that are not nodes (kiln
// import).
func Invalidate(ctx context.Context, url, why string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("sharedq: telling the nodes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", InvalidateChannel, why); err != nil {
		return fmt.Errorf("sharedq: telling the nodes: %w", err)
	}
	return nil
}

// Stats counts the jobs, metatiles and pages, waiting by priority and
// running on any node.
func (q *Queue) Stats(ctx context.Context) (queued [renderq.NumPriorities]int, running int, err error) {
	rows, err := q.pool.Query(ctx, `SELECT priority, count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'running')
		FROM river_job WHERE queue IN ($1, $2) AND state IN ('available', 'pending', 'retryable', 'scheduled', 'running')
		GROUP BY priority`, queueName, pageQueueName)
	if err != nil {
		return queued, 0, fmt.Errorf("sharedq: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var prio, waiting, run int
		if err := rows.Scan(&prio, &waiting, &run); err != nil {
			return queued, 0, fmt.Errorf("sharedq: %w", err)
		}
		if p := renderqPriority(prio); p >= 0 && p < renderq.NumPriorities {
			queued[p] += waiting
		}
		running += run
	}
	return queued, running, rows.Err()
}
