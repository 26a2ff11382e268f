package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/debugrender"
	"kiln/internal/fulldisk"
	"kiln/internal/imgenc"
	"kiln/internal/metatile"
	"kiln/internal/metrics"
	"kiln/internal/pipeline"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

// heldRenderer blocks every render until released, to make tiles slow.
type heldRenderer struct {
	release chan struct{}
	once    sync.Once
}

func (h *heldRenderer) Render(ctx context.Context, m tile.Meta, ts int, scale float64, dst *image.RGBA) error {
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *heldRenderer) Release() { h.once.Do(func() { close(h.release) }) }

type fixture struct {
	srv     *Server
	store   *tilestore.Files
	pipe    *pipeline.Pipeline
	metrics *metrics.Metrics
	held    *heldRenderer
	log     *slog.Logger
	logBuf  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture serves styles "debug" (png, alias /dbg/), "jpg" (debug drawn
// as JPEG, zooms 2-10) and "slow" (renders block until f.held.Release).
func newFixture(tb testing.TB, opt ...func(*Options)) *fixture {
	tb.Helper()
	return newFixtureStore(tb, nil, opt...)
}

func newFixtureStore(tb testing.TB, wrap func(*tilestore.Files) pipeline.Store, opt ...func(*Options)) *fixture {
	return newFixtureWait(tb, wrap, time.Minute, opt...)
}

// newFixtureWait is newFixtureStore with how long a missing tile is waited for.
func newFixtureWait(tb testing.TB, wrap func(*tilestore.Files) pipeline.Store, wait time.Duration, opt ...func(*Options)) *fixture {
	tb.Helper()
	files, err := tilestore.NewFiles(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	var store pipeline.Store = files
	if wrap != nil {
		store = wrap(files)
	}
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, nil))
	m := metrics.New()
	p := pipeline.New(store, pipeline.Config{Workers: 2, Wait: wait, RenderTimeout: 2 * time.Minute,
		QueueLimits: [4]int{4, 4, 4, 4}}, m, log)
	tb.Cleanup(func() { p.Close(context.Background()) })
	dbg, err := debugrender.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	held := &heldRenderer{release: make(chan struct{})}
	tb.Cleanup(held.Release)
	styles := []*pipeline.Style{
		{ID: "debug", Renderer: dbg, RendererName: "map", Encoder: imgenc.New(imgenc.PNG, 0), MaxZoom: 20, TileSize: 256, MetaSize: 8, URI: "/dbg/",
			Attribution: "test attribution"},
		{ID: "jpg", Renderer: dbg, RendererName: "map", Encoder: imgenc.New(imgenc.JPEG, 0), MinZoom: 2, MaxZoom: 10, TileSize: 256, MetaSize: 8},
		{ID: "slow", Renderer: held, RendererName: "map", Encoder: imgenc.New(imgenc.PNG, 0), MaxZoom: 20, TileSize: 64, MetaSize: 8},
	}
	opts := Options{CacheMaxAge: time.Hour, StaleMaxAge: time.Minute, CORS: "*", AccessLog: log}
	for _, o := range opt {
		o(&opts)
	}
	srv, err := New(opts, p, styles, m, log)
	if err != nil {
		tb.Fatal(err)
	}
	srv.SetReady(true)
	return &fixture{srv: srv, store: files, pipe: p, metrics: m, held: held, log: log, logBuf: logBuf}
}

func (f *fixture) do(tb testing.TB, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	return w
}

func (f *fixture) get(tb testing.TB, path string) *httptest.ResponseRecorder {
	tb.Helper()
	return f.do(tb, httptest.NewRequest("GET", path, nil))
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestTileMissThenCached(t *testing.T) {
	f := newFixture(t)
	w := f.get(t, "/styles/debug/12/2177/1437.png")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("miss: %d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if b := decodePNG(t, w.Body.Bytes()).Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("tile is %v", b)
	}
	for _, h := range []string{"Etag", "Last-Modified", "Cache-Control", "Content-Length"} {
		if w.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("Cache-Control %q", cc)
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header")
	}
	first := w.Body.String()
	etag, lastMod := w.Header().Get("Etag"), w.Header().Get("Last-Modified")
	// A neighbour in the same metatile is already cached.
	w = f.get(t, "/styles/debug/12/2176/1436.png")
	if w.Code != 200 {
		t.Fatalf("neighbour: %d", w.Code)
	}
	w = f.get(t, "/styles/debug/12/2177/1437.png")
	if w.Body.String() != first || w.Header().Get("Etag") != etag || w.Header().Get("Last-Modified") != lastMod {
		t.Error("cached tile or its validators differ from the rendered one")
	}
	if v := counter(t, f, `kiln_renders_total{renderer="map",result="ok",style="debug"}`); v != 1 {
		t.Errorf("renders = %v, want 1", v)
	}
}

func TestConditionalAndHead(t *testing.T) {
	f := newFixture(t)
	w := f.get(t, "/styles/debug/5/10/12.png")
	etag, lm := w.Header().Get("Etag"), w.Header().Get("Last-Modified")
	tests := []struct {
		name   string
		header map[string]string
		method string
		code   int
		body   bool
	}{
		{"If-None-Match", map[string]string{"If-None-Match": etag}, "GET", 304, false},
		{"If-None-Match in a list", map[string]string{"If-None-Match": `"nope", ` + etag}, "GET", 304, false},
		{"weak If-None-Match", map[string]string{"If-None-Match": "W/" + etag}, "GET", 304, false},
		{"other ETag", map[string]string{"If-None-Match": `"nope"`}, "GET", 200, true},
		{"If-Modified-Since", map[string]string{"If-Modified-Since": lm}, "GET", 304, false},
		{"old If-Modified-Since", map[string]string{"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"}, "GET", 200, true},
		{"HEAD", nil, "HEAD", 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/styles/debug/5/10/12.png", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := f.do(t, req)
			if w.Code != tc.code || (w.Body.Len() > 0) != tc.body {
				t.Errorf("%d with %d bytes, want %d (body %v)", w.Code, w.Body.Len(), tc.code, tc.body)
			}
			if w.Header().Get("Etag") != etag {
				t.Errorf("ETag %q, want %q", w.Header().Get("Etag"), etag)
			}
		})
	}
}

func TestTile2x(t *testing.T) {
	f := newFixture(t)
	w := f.get(t, "/styles/debug/14/8696/5752@2x.png")
	if w.Code != 200 {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	if b := decodePNG(t, w.Body.Bytes()).Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("@2x tile is %v, want 512x512", b)
	}
	// @2x tiles are their own metatiles.
	p := metatile.Path(f.store.Root(), "debug@2x", tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8})
	if _, err := os.Stat(p); err != nil {
		t.Errorf("@2x metatile not at %s: %v", p, err)
	}
	if _, err := os.Stat(metatile.Path(f.store.Root(), "debug", tile.Meta{Z: 14, X: 8696, Y: 5752, N: 8})); err == nil {
		t.Error("@2x request rendered the @1x metatile too")
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path string
		code int
	}{
		{"/styles/debug/a/1/1.png", 400},
		{"/styles/debug/1/b/1.png", 400},
		{"/styles/debug/1/1/c.png", 400},
		{"/styles/debug/1/1/1", 400},
		{"/styles/debug/1/1/1.", 400},
		{"/styles/debug/-1/0/0.png", 400},
		{"/styles/debug/1/+1/0.png", 400},
		{"/styles/debug/12345678/0/0.png", 400},
		{"/styles/debug/1/1/1@3x.png", 400},
		{"/styles/debug/1/1/1@2x@2x.png", 400},
		{"/styles/debug/21/0/0.png", 404},
		{"/styles/debug/1/2/0.png", 404},
		{"/styles/debug/1/0/2.png", 404},
		{"/styles/debug/3/0/0.jpg", 404},
		{"/styles/jpg/1/0/0.jpg", 404}, // below the style's min zoom
		{"/styles/jpg/11/0/0.jpg", 404},
		{"/styles/nope/1/0/0.png", 404},
		{"/styles/debug/1/0/0.png/purge", 404},
		{"/styles/nope.json", 404},
		{"/styles/debug", 404},
		{"/nothing/here", 404},
	}
	for _, tc := range tests {
		w := f.get(t, tc.path)
		if w.Code != tc.code {
			t.Errorf("GET %s = %d, want %d (%s)", tc.path, w.Code, tc.code, strings.TrimSpace(w.Body.String()))
		}
	}
	// None of these rendered anything.
	if v := counter(t, f, `kiln_renders_total{renderer="map",result="ok",style="debug"}`); v != 0 {
		t.Errorf("bad requests caused %v renders", v)
	}
}

func TestNoPathTraversal(t *testing.T) {
	f := newFixture(t)
	secret := filepath.Join(filepath.Dir(f.store.Root()), "secret.txt")
	os.WriteFile(secret, []byte("TOP SECRET"), 0o644)
	for _, p := range []string{
		"/styles/../../../../etc/passwd",
		"/styles/..%2f..%2f..%2fetc%2fpasswd/1/1/1.png",
		"/styles/debug/..%2f..%2f/1/1.png",
		"/styles/%2e%2e/1/1/1.png",
		"/static/../../../../etc/passwd",
		"/static/..%2f..%2f..%2fserver.go",
		"/static/%2e%2e/%2e%2e/server.go",
		"/dbg/../../secret.txt",
		"/dbg/..%2f..%2fsecret.txt/1/1.png",
		"/styles/debug/1/1/..%2f..%2f..%2fsecret.txt",
	} {
		w := f.get(t, p)
		body := w.Body.String()
		if w.Code == 200 || strings.Contains(body, "root:") || strings.Contains(body, "TOP SECRET") || strings.Contains(body, "package server") {
			t.Errorf("GET %s = %d: %.80q", p, w.Code, body)
		}
	}
}

func TestStatusAndDirty(t *testing.T) {
	f := newFixture(t)
	w := f.get(t, "/styles/debug/6/10/20.png/status")
	if !strings.HasPrefix(w.Body.String(), "No tile could not be found at storage location: file://") {
		t.Errorf("status of a missing tile: %q", w.Body)
	}
	first := f.get(t, "/styles/debug/6/10/20.png")
	w = f.get(t, "/styles/debug/6/10/20.png/status")
	if !strings.HasPrefix(w.Body.String(), "Tile is clean. Last rendered at ") || !strings.Contains(w.Body.String(), ". Stored in file://") {
		t.Errorf("status: %q", w.Body)
	}
	// /dirty with the queue held: the tile is due to be rendered and served stale meanwhile.
	w = f.get(t, "/styles/debug/6/10/20.png/dirty")
	if w.Code != 200 || w.Body.String() != "Tile submitted for rendering\n" {
		t.Errorf("dirty: %d %q", w.Code, w.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w = f.get(t, "/styles/debug/6/10/20.png/status")
		if strings.HasPrefix(w.Body.String(), "Tile is clean") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(w.Body.String(), "Tile is clean") {
		t.Errorf("dirty tile never re-rendered: %q", w.Body)
	}
	w = f.get(t, "/styles/debug/6/10/20.png")
	if w.Header().Get("Etag") == first.Header().Get("Etag") {
		t.Error("re-rendered debug tile unchanged (its render time should differ)")
	}
}

func TestStaleServedAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A "slow" metatile in the cache, then marked dirty: its re-render blocks, yet the old tile is served.
	m := tile.Meta{Z: 4, X: 0, Y: 8, N: 8}
	tiles := make([][]byte, 64)
	for c := range m.Tiles() {
		var b bytes.Buffer
		png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 64, 64)))
		tiles[m.Index(c)] = b.Bytes()
	}
	var file bytes.Buffer
	metatile.Encode(&file, m, tiles)
	f.store.Put(ctx, "slow", m, file.Bytes(), time.Now())
	f.store.MarkDirty(ctx, "slow", m)
	start := time.Now()
	w := f.get(t, "/styles/slow/4/3/9.png")
	if w.Code != 200 || time.Since(start) > time.Second {
		t.Fatalf("stale tile: %d after %v", w.Code, time.Since(start))
	}
	if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("stale Cache-Control %q", cc)
	}
	if v := counter(t, f, `kiln_cache_requests_total{kind="tile",result="stale"}`); v != 1 {
		t.Errorf("stale count %v", v)
	}
	if st := f.pipe.QueueStats(); st.Running+st.Queued[1] != 1 {
		t.Errorf("re-render not queued: %+v", st)
	}
}

func TestSlowTileIs503NotFound(t *testing.T) {
	f := newFixtureWait(t, nil, 100*time.Millisecond)
	w := f.get(t, "/styles/slow/10/1/1.png")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("slow tile: %d Retry-After %q Cache-Control %q", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Cache-Control"))
	}
	// Fill the on-demand and dirty queues (4 each, 2 workers busy): then "queue full", also 503.
	codes := map[int]int{}
	for i := range 16 {
		codes[f.get(t, "/styles/slow/10/"+strconv.Itoa(16+8*i)+"/1.png").Code]++
	}
	if codes[503] != 16 {
		t.Errorf("codes %v, want all 503", codes)
	}
	if st := f.pipe.QueueStats(); st.Dropped == 0 || st.Deferred == 0 {
		t.Errorf("queue stats %+v: want drops and deferrals", st)
	}
	f.held.Release()
	deadline := time.Now().Add(10 * time.Second)
	for f.get(t, "/styles/slow/10/1/1.png").Code != 200 {
		if time.Now().After(deadline) {
			t.Fatal("tile never rendered after release")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCorruptMetatileRerendered(t *testing.T) {
	f := newFixture(t)
	p := metatile.Path(f.store.Root(), "debug", tile.Meta{Z: 9, X: 256, Y: 128, N: 8})
	os.MkdirAll(filepath.Dir(p), 0o755)
	f.get(t, "/styles/debug/9/256/128.png")
	os.WriteFile(p, []byte("META"), 0o644) // truncated
	w := f.get(t, "/styles/debug/9/257/129.png")
	if w.Code != 200 {
		t.Fatalf("corrupt metatile: %d", w.Code)
	}
	decodePNG(t, w.Body.Bytes())
	if !strings.Contains(f.logBuf.String(), "corrupt metatile") {
		t.Error("corrupt metatile not logged")
	}
}

// TestFullDisk503 serves from a cache on a real, tiny tmpfs (which needs
// root): the render cannot be stored, the client gets 503 with Retry-After,
// the log says why, and no partial file is left.
func TestFullDisk503(t *testing.T) {
	dir := fulldisk.Mount(t, 64<<10)
	f := newFixtureStore(t, func(*tilestore.Files) pipeline.Store {
		files, err := tilestore.NewFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		return files
	})
	w := f.get(t, "/styles/debug/3/1/1.png")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("full disk: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(f.logBuf.String(), "tile cache full") {
		t.Errorf("full disk not logged: %s", f.logBuf)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left behind on the full disk: %s", p)
		}
		return nil
	})
}

func TestAliasAndTileJSON(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.PublicURL = "https://tiles.example.org" })
	a, b := f.get(t, "/dbg/7/60/40.png"), f.get(t, "/styles/debug/7/60/40.png")
	if a.Code != 200 || a.Body.String() != b.Body.String() {
		t.Errorf("alias: %d, same bytes %v", a.Code, a.Body.String() == b.Body.String())
	}
	if w := f.get(t, "/dbg/7/60/40.png/status"); !strings.HasPrefix(w.Body.String(), "Tile is clean") {
		t.Errorf("alias status: %q", w.Body)
	}
	var tj map[string]any
	w := f.get(t, "/styles/debug.json")
	if err := json.Unmarshal(w.Body.Bytes(), &tj); err != nil {
		t.Fatal(err)
	}
	if tj["tilejson"] != "3.0.0" || tj["tiles"].([]any)[0] != "https://tiles.example.org/styles/debug/{z}/{x}/{y}.png" ||
		tj["maxzoom"].(float64) != 20 || tj["attribution"] != "test attribution" {
		t.Errorf("TileJSON: %s", w.Body)
	}
	w = f.get(t, "/dbg/tile-layer.json")
	json.Unmarshal(w.Body.Bytes(), &tj)
	if tj["tilejson"] != "2.0.0" || tj["tiles"].([]any)[0] != "https://tiles.example.org/dbg/{z}/{x}/{y}.png" {
		t.Errorf("tile-layer.json: %s", w.Body)
	}
	// Without public_url, URLs follow the request's Host.
	f2 := newFixture(t)
	req := httptest.NewRequest("GET", "/styles/jpg.json", nil)
	req.Host = "maps.local:8080"
	json.Unmarshal(f2.do(t, req).Body.Bytes(), &tj)
	if tj["tiles"].([]any)[0] != "http://maps.local:8080/styles/jpg/{z}/{x}/{y}.jpg" {
		t.Errorf("tiles %v", tj["tiles"])
	}
}

func TestGzipMetatilePassThrough(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := tile.Meta{Z: 10, X: 0, Y: 0, N: 8}
	var plain bytes.Buffer
	png.Encode(&plain, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	tiles := make([][]byte, 64)
	for i := range tiles {
		tiles[i] = gz.Bytes()
	}
	var file bytes.Buffer
	metatile.Encode(&file, m, tiles)
	b := file.Bytes()
	copy(b, metatile.MagicCompressed)
	f.store.Put(ctx, "debug", m, b, time.Now())

	req := httptest.NewRequest("GET", "/styles/debug/10/1/1.png", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	w := f.do(t, req)
	if w.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(w.Body.Bytes(), gz.Bytes()) {
		t.Errorf("gzip client: encoding %q", w.Header().Get("Content-Encoding"))
	}
	w2 := f.get(t, "/styles/debug/10/1/1.png")
	if w2.Header().Get("Content-Encoding") != "" || !bytes.Equal(w2.Body.Bytes(), plain.Bytes()) {
		t.Errorf("identity client: encoding %q", w2.Header().Get("Content-Encoding"))
	}
	if w.Header().Get("Etag") == w2.Header().Get("Etag") {
		t.Error("gzip and identity answers share an ETag")
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	f := newFixture(t)
	f.srv.SetReady(false)
	if w := f.get(t, "/healthz"); w.Code != 503 {
		t.Errorf("healthz while starting: %d", w.Code)
	}
	f.srv.SetReady(true)
	if w := f.get(t, "/healthz"); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", w.Code, w.Body)
	}
	f.get(t, "/styles/debug/12/2177/1437.png")
	f.get(t, "/styles/debug/12/2177/1437.png")
	f.get(t, "/styles/debug/99/0/0.png")
	body := f.get(t, "/metrics").Body.String()
	for _, want := range []string{
		`kiln_renders_total{renderer="map",result="ok",style="debug"} 1`,
		`kiln_cache_requests_total{kind="tile",result="miss"} 1`,
		`kiln_cache_requests_total{kind="tile",result="hit"} 1`,
		`kiln_queue_depth{priority="ondemand"} 0`,
		`kiln_queue_depth{priority="dirty"} 0`,
		`kiln_queue_depth{priority="bulk"} 0`,
		`kiln_queue_depth{priority="low"} 0`,
		`kiln_render_seconds_count{renderer="map",zoom="12"} 1`,
		`kiln_http_requests_total{code="200",route="tile"} 2`,
		`kiln_http_requests_total{code="404",route="tile"} 1`,
		`kiln_http_requests_total{code="503",route="healthz"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(f.logBuf.String(), "path=/styles/debug/12/2177/1437.png status=200") {
		t.Errorf("no access log line: %s", f.logBuf)
	}
}

func TestCORSPreflight(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("OPTIONS", "/styles/debug/1/0/0.png", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "x-thing")
	w := f.do(t, req)
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Headers") != "x-thing" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	f2 := newFixture(t, func(o *Options) { o.CORS = "" })
	if w := f2.get(t, "/styles/debug/1/0/0.png"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header sent with cors off")
	}
}

func TestIndexAndStatic(t *testing.T) {
	f := newFixture(t)
	w := f.get(t, "/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "kiln.js") {
		t.Errorf("index: %d", w.Code)
	}
	for p, mime := range map[string]string{
		"/static/vendor/maplibre-gl/maplibre-gl.mjs":        "text/javascript", // modules need a JavaScript type
		"/static/vendor/maplibre-gl/maplibre-gl-worker.mjs": "text/javascript",
		"/static/kiln.js":  "text/javascript",
		"/static/kiln.css": "text/css",
	} {
		if w := f.get(t, p); w.Code != 200 || w.Body.Len() == 0 || !strings.HasPrefix(w.Header().Get("Content-Type"), mime) {
			t.Errorf("%s: %d %q", p, w.Code, w.Header().Get("Content-Type"))
		}
	}
	var list []map[string]any
	if err := json.Unmarshal(f.get(t, "/styles.json").Body.Bytes(), &list); err != nil || len(list) != 3 || list[0]["id"] != "debug" {
		t.Errorf("styles.json: %v %v", list, err)
	}
}

// counter reads one sample from /metrics.
func counter(t *testing.T, f *fixture, series string) float64 {
	t.Helper()
	body := f.get(t, "/metrics").Body.String()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var x float64
			json.Unmarshal([]byte(v), &x)
			return x
		}
	}
	return 0
}
