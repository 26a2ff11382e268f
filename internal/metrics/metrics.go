// Package metrics defines kiln's Prometheus metrics, on a registry of its
// own that /metrics serves. The names are part of kiln's outside interface.
package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"kiln/internal/renderq"
)

// Metrics holds kiln's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	// Renders counts metatiles and pages actually rendered, so that
	// de-duplication shows: labels renderer ("map", "page"), style, result
	// ("ok", "error", "timeout").
	Renders *prometheus.CounterVec
	// RenderSeconds is the time of one render, by renderer and zoom.
	RenderSeconds *prometheus.HistogramVec
	// CacheRequests counts cache lookups by kind ("tile", "thumbnail") and
	// result ("hit", "miss", "stale").
	CacheRequests *prometheus.CounterVec
	// HTTPRequests counts answered requests by route and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPSeconds is the time to answer a request, by route.
	HTTPSeconds *prometheus.HistogramVec

	zooms [21]string // "0".."20", to label without formatting on the hot path

	queueMu sync.Mutex
	queues  *queueCollector
}

// New creates the collectors on a fresh registry, with Go runtime and
// process metrics.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Renders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_renders_total",
			Help: "Metatiles and pages rendered, by renderer, style and result.",
		}, []string{"renderer", "style", "result"}),
		RenderSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_render_seconds",
			Help:    "Time to render one metatile or page, by renderer and zoom.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"renderer", "zoom"}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_cache_requests_total",
			Help: "Cache lookups, by kind and result.",
		}, []string{"kind", "result"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		HTTPSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_http_request_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
	}
	for z := range m.zooms {
		m.zooms[z] = strconv.Itoa(z)
	}
	m.Registry.MustRegister(m.Renders, m.RenderSeconds, m.CacheRequests, m.HTTPRequests, m.HTTPSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Zoom is the label value for zoom z.
func (m *Metrics) Zoom(z int) string {
	if z >= 0 && z < len(m.zooms) {
		return m.zooms[z]
	}
	return strconv.Itoa(z)
}

// WatchQueue exports a render queue's state, read when scraped:
// kiln_queue_depth{priority}, kiln_queue_running and counters of joined,
// deferred and dropped submissions. The tile and the page queues are
// watched together: their figures add up.
func (m *Metrics) WatchQueue(stats func() renderq.Stats) {
	m.queueMu.Lock()
	defer m.queueMu.Unlock()
	if m.queues == nil {
		m.queues = &queueCollector{}
		m.Registry.MustRegister(m.queues)
	}
	m.queues.add(stats)
}

var (
	queueDepth    = prometheus.NewDesc("kiln_queue_depth", "Jobs waiting in the render queue, by priority.", []string{"priority"}, nil)
	queueRunning  = prometheus.NewDesc("kiln_queue_running", "Jobs being rendered.", nil, nil)
	queueJoined   = prometheus.NewDesc("kiln_queue_joined_total", "Requests merged into a job already queued or rendering.", nil, nil)
	queueDeferred = prometheus.NewDesc("kiln_queue_deferred_total", "On-demand jobs that overflowed into the dirty queue.", nil, nil)
	queueDropped  = prometheus.NewDesc("kiln_queue_dropped_total", "Requests refused because the queue was full.", nil, nil)
)

type queueCollector struct {
	mu    sync.Mutex
	stats []func() renderq.Stats
}

func (c *queueCollector) add(stats func() renderq.Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = append(c.stats, stats)
}

// sum adds up the watched queues' figures.
func (c *queueCollector) sum() renderq.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s renderq.Stats
	for _, f := range c.stats {
		q := f()
		for p := range s.Queued {
			s.Queued[p] += q.Queued[p]
		}
		s.Running += q.Running
		s.Joined += q.Joined
		s.Deferred += q.Deferred
		s.Dropped += q.Dropped
	}
	return s
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDepth, queueRunning, queueJoined, queueDeferred, queueDropped} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sum()
	for p := range renderq.NumPriorities {
		ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(s.Queued[p]), renderq.Priority(p).String())
	}
	ch <- prometheus.MustNewConstMetric(queueRunning, prometheus.GaugeValue, float64(s.Running))
	ch <- prometheus.MustNewConstMetric(queueJoined, prometheus.CounterValue, float64(s.Joined))
	ch <- prometheus.MustNewConstMetric(queueDeferred, prometheus.CounterValue, float64(s.Deferred))
	ch <- prometheus.MustNewConstMetric(queueDropped, prometheus.CounterValue, float64(s.Dropped))
}

// SharedQueueStats reads the state of the queue several nodes share.
type SharedQueueStats func() (queued [renderq.NumPriorities]int, running int, err error)

// WatchSharedQueue exports the cluster's queue, read when scraped:
// kiln_shared_queue_depth{priority} and kiln_shared_queue_running. An
// unreadable queue exports neither and logs nothing: the scrape shows the
// gap.
func (m *Metrics) WatchSharedQueue(stats SharedQueueStats) {
	m.Registry.MustRegister(sharedQueueCollector{stats})
}

var (
	sharedDepth   = prometheus.NewDesc("kiln_shared_queue_depth", "Jobs (metatiles and pages) waiting in the queue the nodes share, by priority.", []string{"priority"}, nil)
	sharedRunning = prometheus.NewDesc("kiln_shared_queue_running", "Jobs of the shared queue being rendered or loaded on any node.", nil, nil)
)

type sharedQueueCollector struct{ stats SharedQueueStats }

func (c sharedQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sharedDepth
	ch <- sharedRunning
}

func (c sharedQueueCollector) Collect(ch chan<- prometheus.Metric) {
	queued, running, err := c.stats()
	if err != nil {
		return
	}
	for p, n := range queued {
		ch <- prometheus.MustNewConstMetric(sharedDepth, prometheus.GaugeValue, float64(n), renderq.Priority(p).String())
	}
	ch <- prometheus.MustNewConstMetric(sharedRunning, prometheus.GaugeValue, float64(running))
}
