// Package server is kiln's HTTP face: raster tiles and their mod_tile
// status and dirty URLs, TileJSON, the web page, health and metrics. It
// parses and checks requests and turns the pipeline's answers and errors
// into HTTP; the work happens in the pipeline.
package server

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kiln/internal/metrics"
	"kiln/internal/pipeline"
	"kiln/internal/sprite"
	"kiln/internal/staticmap"
)

// MapInfo tells about the imported map data (see mapdata stores).
type MapInfo interface {
	Meta(ctx context.Context, key string) (string, error)
}

// Options tune the answers.
type Options struct {
	PublicURL   string                 // base of URLs handed out; "" takes the request's scheme and Host
	CacheMaxAge time.Duration          // Cache-Control max-age of fresh tiles
	StaleMaxAge time.Duration          // max-age of tiles served while re-rendering
	CORS        string                 // Access-Control-Allow-Origin value; "" for none
	AccessLog   *slog.Logger           // a record per request; nil for none
	Map         MapInfo                // the map database, for the data's bounds; nil for none
	Vector      VectorTiles            // the map data's vector tiles; nil for none
	Glyphs      Glyphs                 // fonts for MapLibre GL clients; nil for none
	StyleDocs   map[string][]byte      // MapLibre GL style documents by style id, URLs as local://
	Sprites     map[string]*sprite.Set // the styles' icons, served as their sprite
	Thumbs      ThumbOptions           // web page thumbnails; Pages nil for none
	AST         ASTOptions             // the Alexa Site Thumbnail API, over Thumbs (needs its Keys)
	// Static draws static maps of the styles that have them, by id.
	Static        map[string]staticmap.Drawer
	StaticMaxSize int           // largest side of a static map, in pixels
	StaticSlots   int           // static maps drawn at once; more wait
	StaticWait    time.Duration // how long a static map waits for a slot before 503
	StaticTimeout time.Duration // deadline of drawing one
}

// Server answers kiln's HTTP requests.
type Server struct {
	opts     Options
	pipeline *pipeline.Pipeline
	styles   map[string]*pipeline.Style
	order    []*pipeline.Style // by id, for listings
	metrics  *metrics.Metrics
	log      *slog.Logger
	ready    atomic.Bool
	mux      *http.ServeMux

	bufs        sync.Pool // *[]byte for tile bytes
	staticSlots chan struct{}
	thumbs      thumbState
	recent      recentThumbs // the web page's galleries, by key
	webUI       webUIKey     // the key of the web page's signed URLs without one
	indexHTML   []byte

	// precomputed header values
	freshCC, staleCC []string
	mime             map[*pipeline.Style][]string
}

//go:embed web
var webFS embed.FS

// New builds the server's routes. It is not ready (see SetReady) until the
// caller says so.
func New(opts Options, p *pipeline.Pipeline, styles []*pipeline.Style, m *metrics.Metrics, log *slog.Logger) (*Server, error) {
	s := &Server{
		opts: opts, pipeline: p, metrics: m, log: log,
		styles:  make(map[string]*pipeline.Style, len(styles)),
		mux:     http.NewServeMux(),
		freshCC: []string{"public, max-age=" + strconv.Itoa(int(opts.CacheMaxAge.Seconds()))},
		staleCC: []string{"public, max-age=" + strconv.Itoa(int(opts.StaleMaxAge.Seconds()))},
		mime:    make(map[*pipeline.Style][]string, len(styles)),
	}
	if s.opts.StaticMaxSize <= 0 {
		s.opts.StaticMaxSize = 2048
	}
	if s.opts.StaticWait <= 0 {
		s.opts.StaticWait = 30 * time.Second
	}
	if s.opts.StaticTimeout <= 0 {
		s.opts.StaticTimeout = time.Minute
	}
	s.staticSlots = make(chan struct{}, max(opts.StaticSlots, 1))
	s.thumbs.waiting = map[string]int{}
	for _, st := range styles {
		s.styles[st.ID] = st
		s.mime[st] = []string{st.Encoder.Format().MIME()}
		s.order = append(s.order, st)
	}
	sort.Slice(s.order, func(i, j int) bool { return s.order[i].ID < s.order[j].ID })

	web, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	if s.indexHTML, err = fs.ReadFile(web, "index.html"); err != nil {
		return nil, err
	}
	// "/" is the web page, or an AST call (see astRoutes).
	index, other := s.instrument("index", s.index), s.instrument("other", http.NotFound)
	if s.astOn() {
		index, other = s.astRoutes(index, other)
		s.mux.HandleFunc("/{$}", index)
	} else {
		s.mux.HandleFunc("GET /{$}", index)
	}
	s.handle("GET /static/", "static", http.StripPrefix("/static/", http.FileServerFS(web)).ServeHTTP)
	s.handle("GET /healthz", "healthz", s.healthz)
	s.handle("GET /metrics", "metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP)
	s.handle("GET /styles.json", "styles", s.styleList)
	s.handle("GET /styles/{name}", "tilejson", s.tileJSON)
	s.handle("GET /styles/{style}/style.json", "style", s.styleJSON)
	s.handle("GET /styles/{style}/{file}", "sprite", s.spriteFile)
	s.handle("GET /styles/{style}/static/{area}/{file}", "static", s.staticMap)
	s.handle("GET /styles/{style}/{z}/{x}/{file}", "tile", s.tile)
	s.handle("GET /styles/{style}/{z}/{x}/{file}/{op}", "tile_op", s.tileOp)
	s.handle("OPTIONS /styles/", "preflight", s.preflight)
	s.handle("GET /data/osm.json", "data_tilejson", s.dataTileJSON)
	s.handle("GET /data/osm/{z}/{x}/{file}", "data_tile", s.vectorTile)
	s.handle("OPTIONS /data/", "preflight", s.preflight)
	s.handle("GET /fonts/{fontstack}/{range}", "fonts", s.glyphRange)
	if opts.Thumbs.Pages != nil {
		s.handle("GET /thumbnail", "thumbnail", s.thumbnail)
		s.handle("GET /thumbnail/", "thumbnail_signed", s.signedThumbnail)
		s.handle("GET /thumbnails/recent", "thumbnails_recent", s.recentList)
		s.handle("GET /thumbnails/recent/{id}", "thumbnails_recent_image", s.recentImage)
		s.handle("POST /thumbnails/sign", "thumbnails_sign", s.signThumb)
	}
	for _, st := range s.order {
		if st.URI == "" {
			continue
		}
		if err := s.alias(st); err != nil {
			return nil, err
		}
	}
	s.mux.HandleFunc("/", other)
	return s, nil
}

// alias serves a style under its mod_tile URI too, e.g. /osm/{z}/{x}/{y}.png.
func (s *Server) alias(st *pipeline.Style) (err error) {
	defer func() {
		if r := recover(); r != nil { // ServeMux panics on conflicting patterns
			err = fmt.Errorf("style %s: uri %q: %v", st.ID, st.URI, r)
		}
	}()
	withStyle := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.SetPathValue("style", st.ID)
			h(w, r)
		}
	}
	s.handle("GET "+st.URI+"{z}/{x}/{file}", "tile", withStyle(s.tile))
	s.handle("GET "+st.URI+"{z}/{x}/{file}/{op}", "tile_op", withStyle(s.tileOp))
	s.handle("GET "+st.URI+"tile-layer.json", "tilejson", withStyle(s.tileLayerJSON))
	s.handle("OPTIONS "+st.URI, "preflight", s.preflight)
	return nil
}

// SetReady switches /healthz between 200 and 503 (starting, draining).
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers h under pattern, counting and logging its requests
// under the route name.
func (s *Server) handle(pattern, route string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, s.instrument(route, h))
}

// instrument wraps h to count and log its requests under the route name.
func (s *Server) instrument(route string, h http.HandlerFunc) http.HandlerFunc {
	seconds := s.metrics.HTTPSeconds.WithLabelValues(route)
	counters := &codeCounters{route: route, m: s.metrics}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		took := time.Since(start)
		seconds.Observe(took.Seconds())
		counters.inc(rec.status)
		if s.opts.AccessLog != nil {
			s.opts.AccessLog.LogAttrs(r.Context(), slog.LevelInfo, "http",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes), slog.Float64("ms", float64(took.Microseconds())/1000),
				slog.String("remote", r.RemoteAddr), slog.String("route", route))
		}
	}
}

// codeCounters caches the kiln_http_requests_total child of each status
// code seen on a route, so that counting costs no label lookup.
type codeCounters struct {
	route  string
	m      *metrics.Metrics
	byCode sync.Map // int → prometheus.Counter
}

func (c *codeCounters) inc(code int) {
	if v, ok := c.byCode.Load(code); ok {
		v.(interface{ Inc() }).Inc()
		return
	}
	ctr := c.m.HTTPRequests.WithLabelValues(c.route, strconv.Itoa(code))
	c.byCode.Store(code, ctr)
	ctr.Inc()
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// baseURL is where this server is reached, for URLs handed out.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

var _ http.Handler = (*Server)(nil)

// errorText writes a short plain-text error.
func errorText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}
