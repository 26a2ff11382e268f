package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "golang.org/x/image/webp" // to decode webp thumbnails

	"kiln/internal/browsertest"
	"kiln/internal/keys"
	"kiln/internal/metrics"
	"kiln/internal/netguard"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
	"kiln/internal/signedurl"
	"kiln/internal/thumbstore"
)

// fakeResolver answers names from a map.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &netDNSError{host}
}

type netDNSError struct{ host string }

func (e *netDNSError) Error() string { return "lookup " + e.host + ": no such host" }

// testResolver: good.test is the test servers' 127.0.0.1, evil.test the
// forbidden 127.0.0.2.
var testResolver = fakeResolver{
	"good.test": {netip.MustParseAddr("127.0.0.1")},
	"evil.test": {netip.MustParseAddr("127.0.0.2")},
}

// testGuard lets pages reach 127.0.0.1 (where test servers listen) and
// nothing else private.
func testGuard() *netguard.Guard {
	return netguard.New(netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, testResolver, nil)
}

// fakePages stands in for Chromium in the HTTP tests (pagerender has the
// browser's own): a flat capture, failures by URL, and a hold.
type fakePages struct {
	loads atomic.Int32
	hold  chan struct{}
	fails map[string]*pagerender.PageError
}

func (f *fakePages) Capture(ctx context.Context, job pagerender.Job) (*pagerender.Capture, error) {
	f.loads.Add(1)
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if pe := f.fails[job.URL]; pe != nil {
		return nil, pe
	}
	img := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{30, 120, 200, 255}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return &pagerender.Capture{Image: img, JPEG: buf.Bytes(), URL: job.URL, Status: 200}, nil
}

type thumbFixture struct {
	*fixture
	keys *keys.Store
}

// newThumbFixture is a server answering /thumbnail with renderer r.
func newThumbFixture(t *testing.T, r pipeline.PageRenderer, set func(*ThumbOptions, *pipeline.PagesConfig)) *thumbFixture {
	t.Helper()
	store, err := thumbstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	cfg := pipeline.PagesConfig{Workers: 2, Wait: 20 * time.Second}
	o := ThumbOptions{Guard: testGuard(), Keys: ks, QueuePerKey: 64, TTL: time.Hour}
	if set != nil {
		set(&o, &cfg)
	}
	pages := pipeline.NewPages(store, r, cfg, metrics.New(), slog.New(slog.DiscardHandler))
	t.Cleanup(func() { pages.Close(context.Background()) })
	o.Pages = pages
	f := newFixture(t, func(opts *Options) { opts.Thumbs = o })
	return &thumbFixture{fixture: f, keys: ks}
}

func thumbPath(page string, extra ...string) string {
	return "/thumbnail?url=" + url.QueryEscape(page) + strings.Join(extra, "")
}

// errorBody decodes a JSON error answer.
func errorBody(t *testing.T, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer of type %q: %s", ct, w.Body)
	}
	var m map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m["error"] == "" {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return m
}

func TestThumbnailStatuses(t *testing.T) {
	r := &fakePages{fails: map[string]*pagerender.PageError{
		"http://good.test/500": {Kind: "http_status", Reason: "http://good.test/500 answered HTTP 500"},
	}}
	f := newThumbFixture(t, r, nil)
	for _, tc := range []struct {
		name, path string
		status     int
		kind       string
	}{
		{"no url", "/thumbnail?size=small", 400, ""},
		{"bad size", thumbPath("http://good.test/", "&size=huge"), 400, ""},
		{"bad format", thumbPath("http://good.test/", "&format=gif"), 400, ""},
		{"ftp", thumbPath("ftp://good.test/"), 400, ""},
		{"javascript", thumbPath("javascript:alert(1)"), 400, ""},
		{"user info", thumbPath("http://user:pw@good.test/"), 400, ""},
		{"too long", thumbPath("http://good.test/" + strings.Repeat("a", 3000)), 400, ""},
		{"invalid ipv4", thumbPath("http://256.1.1.1/"), 400, ""},
		{"loopback", thumbPath("http://127.0.0.2/"), 403, "forbidden"},
		{"decimal", thumbPath("http://2130706434/"), 403, "forbidden"},
		{"hex", thumbPath("http://0x7f000002/"), 403, "forbidden"},
		{"octal", thumbPath("http://0177.0.0.2/"), 403, "forbidden"},
		{"short", thumbPath("http://127.2/"), 403, ""},
		{"mapped ipv6", thumbPath("http://[::ffff:127.0.0.2]/"), 403, "forbidden"},
		{"ipv6 loopback", thumbPath("http://[::1]/"), 403, "forbidden"},
		{"metadata", thumbPath("http://169.254.169.254/latest/meta-data/"), 403, "forbidden"},
		{"private", thumbPath("http://10.0.0.1/"), 403, "forbidden"},
		{"localhost", thumbPath("http://localhost/"), 403, "forbidden"},
		{"name to loopback", thumbPath("http://evil.test/"), 403, "forbidden"},
		{"dns failure", thumbPath("http://nowhere.test/"), 422, "dns"},
		{"page failed", thumbPath("http://good.test/500"), 422, "http_status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.get(t, tc.path)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			m := errorBody(t, w)
			if tc.kind != "" && m["kind"] != tc.kind {
				t.Errorf("kind %q, want %q (%s)", m["kind"], tc.kind, m["error"])
			}
		})
	}
	if n := r.loads.Load(); n != 1 {
		t.Errorf("%d pages loaded, want 1 (only the one that failed)", n)
	}
}

func TestThumbnailSizesFormatsAndCache(t *testing.T) {
	r := &fakePages{}
	f := newThumbFixture(t, r, nil)
	for _, tc := range []struct {
		query string
		size  image.Point
		mime  string
	}{
		{"&size=small", image.Pt(111, 82), "image/jpeg"},
		{"&size=SMALL&format=png", image.Pt(111, 82), "image/png"},
		{"&size=Large&format=webp", image.Pt(201, 147), "image/webp"},
		{"", image.Pt(201, 147), "image/jpeg"},
		{"&size=400x100&format=jpg", image.Pt(400, 100), "image/jpeg"},
	} {
		w := f.get(t, thumbPath("http://good.test/", tc.query))
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", tc.query, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != tc.mime {
			t.Errorf("%s: type %s, want %s", tc.query, ct, tc.mime)
		}
		img, _, err := image.Decode(w.Body)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if img.Bounds().Size() != tc.size {
			t.Errorf("%s: size %v, want %v", tc.query, img.Bounds().Size(), tc.size)
		}
	}
	if n := r.loads.Load(); n != 1 {
		t.Errorf("%d page loads for five sizes and formats, want 1", n)
	}
	// Cache headers, and a 304 for a revalidation.
	w := f.get(t, thumbPath("http://good.test/", "&size=small"))
	if w.Header().Get("X-Kiln-Cache") != "hit" || w.Header().Get("Etag") == "" || !strings.HasPrefix(w.Header().Get("Cache-Control"), "public, max-age=") {
		t.Errorf("headers %v", w.Header())
	}
	req := httptest.NewRequest("GET", thumbPath("http://good.test/", "&size=small"), nil)
	req.Header.Set("If-None-Match", w.Header().Get("Etag"))
	if w := f.do(t, req); w.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", w.Code)
	}
	// The same page written differently is the same page.
	if w := f.get(t, thumbPath("HTTP://GOOD.TEST:80/#top", "&size=small")); w.Header().Get("X-Kiln-Cache") != "hit" {
		t.Errorf("canonical URL not recognised: %v", w.Header())
	}
}

func TestThumbnailBusy(t *testing.T) {
	r := &fakePages{hold: make(chan struct{})}
	defer close(r.hold)
	f := newThumbFixture(t, r, func(o *ThumbOptions, c *pipeline.PagesConfig) { c.Wait = 100 * time.Millisecond })
	w := f.get(t, thumbPath("http://good.test/slow"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("slow page: %d %v", w.Code, w.Header())
	}
	errorBody(t, w)
}

func TestThumbnailQueuePerKey(t *testing.T) {
	r := &fakePages{hold: make(chan struct{})}
	f := newThumbFixture(t, r, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.QueuePerKey = 1 })
	done := make(chan int)
	go func() { done <- f.get(t, thumbPath("http://good.test/a")).Code }()
	deadline := time.Now().Add(5 * time.Second)
	for r.loads.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w := f.get(t, thumbPath("http://good.test/b")); w.Code != http.StatusTooManyRequests {
		t.Errorf("second page of the same client: %d, want 429", w.Code)
	}
	close(r.hold)
	if code := <-done; code != 200 {
		t.Errorf("first page: %d", code)
	}
	if w := f.get(t, thumbPath("http://good.test/b")); w.Code != 200 {
		t.Errorf("after the first finished: %d", w.Code)
	}
}

func TestThumbnailKeys(t *testing.T) {
	f := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.RequireKey = true })
	ctx := context.Background()
	good, secret, err := f.keys.Create(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	limited, limitedSecret, err := f.keys.CreateWith(ctx, "limited", keys.Limits{Rate: 0.01, Burst: 2, AST: true})
	if err != nil {
		t.Fatal(err)
	}
	quota, quotaSecret, err := f.keys.CreateWith(ctx, "quota", keys.Limits{Quota: 1, AST: true})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedSecret, err := f.keys.Create(ctx, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	get := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", thumbPath("http://good.test/"), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return f.do(t, req)
	}
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no key", "", 401},
		{"not bearer", "Basic " + good.ID, 401},
		{"no secret", "Bearer " + good.ID, 401},
		{"wrong secret", "Bearer " + good.ID + ":" + strings.Repeat("x", len(secret)), 401},
		{"unknown key", "Bearer AKK00000000000000000:" + secret, 401},
		{"revoked", "Bearer " + revoked.ID + ":" + revokedSecret, 401},
		{"good", "Bearer " + good.ID + ":" + secret, 200},
		{"limited 1", "Bearer " + limited.ID + ":" + limitedSecret, 200},
		{"limited 2", "Bearer " + limited.ID + ":" + limitedSecret, 200},
		{"limited 3", "Bearer " + limited.ID + ":" + limitedSecret, 429},
		{"quota 1", "Bearer " + quota.ID + ":" + quotaSecret, 200},
		{"quota 2", "Bearer " + quota.ID + ":" + quotaSecret, 429},
	} {
		w := get(tc.auth)
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
			continue
		}
		if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
		if tc.status == 429 && w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", tc.name)
		}
		if tc.status != 200 {
			errorBody(t, w)
		}
		if strings.Contains(f.logBuf.String(), secret) {
			t.Fatalf("a secret was logged")
		}
	}
}

func TestSignedThumbnail(t *testing.T) {
	f := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, c *pipeline.PagesConfig) { o.RequireKey = true })
	ctx := context.Background()
	k, _, err := f.keys.Create(ctx, "embed")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := f.keys.Secret(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	req := signedurl.Request{KeyID: k.ID, Expires: time.Now().Add(time.Hour), Size: "small", URL: "http://good.test/", Format: "png"}
	path := signedurl.Path(secret, req)
	w := f.get(t, path)
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("signed URL: %d %s", w.Code, w.Body)
	}
	other := req
	other.URL = "http://good.test/other"
	tampered := strings.Replace(path, signedurl.Path(secret, req)[strings.LastIndex(path, "/"):], signedurl.Path(secret, other)[strings.LastIndex(signedurl.Path(secret, other), "/"):], 1)
	expired := req
	expired.Expires = time.Now().Add(-time.Minute)
	forbidden := req
	forbidden.URL = "http://127.0.0.2/"
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"tampered page", tampered, 403},
		{"bigger size", strings.Replace(path, "/small/", "/large/", 1), 403},
		{"expired", signedurl.Path(secret, expired), 403},
		{"wrong secret", signedurl.Path([]byte("not the secret"), req), 403},
		{"malformed", "/thumbnail/abc/def", 400},
		{"forbidden page", signedurl.Path(secret, forbidden), 403},
	} {
		if w := f.get(t, tc.path); w.Code != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
		}
	}
	if err := f.keys.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if w := f.get(t, path); w.Code != 403 {
		t.Errorf("revoked key's URL: %d", w.Code)
	}
}

// TestThumbnailInChromium is the whole path: HTTP, guard, queue, real
// Chromium behind the page proxy, store, and back.
func TestThumbnailInChromium(t *testing.T) {
	chromium := browsertest.Require(t)
	var forbiddenHits atomic.Int32
	forbidden := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { forbiddenHits.Add(1) })}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2: %v", err)
	}
	go forbidden.Serve(ln)
	defer forbidden.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, `<!doctype html><title>kiln test</title><body style="margin:0;background:#1e78c8">
<div style="height:300px;background:#c8281e"></div><img src="http://%s/pixel.png">
<script>fetch("http://%[1]s/fetch").catch(() => {})</script>`, ln.Addr())
		case "/away":
			http.Redirect(w, r, "http://"+ln.Addr().String()+"/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()

	renderer := pagerender.New(testGuard(), pagerender.Options{Chromium: chromium, Pages: 2, Timeout: 20 * time.Second})
	defer renderer.Close()
	f := newThumbFixture(t, renderer, nil)
	w := f.get(t, thumbPath(site.URL+"/", "&size=200x150&format=png"))
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	img, _, err := image.Decode(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Size() != image.Pt(200, 150) {
		t.Errorf("size %v", img.Bounds().Size())
	}
	// Top: the red block (300 of 768 px = 58 of 150); bottom: blue.
	near := func(c color.Color, r0, g0, b0 int) bool {
		r, g, b, _ := c.RGBA()
		d := func(a uint32, b int) int { return max(int(a>>8)-b, b-int(a>>8)) }
		return d(r, r0) < 20 && d(g, g0) < 20 && d(b, b0) < 20
	}
	if c := img.At(100, 20); !near(c, 200, 40, 30) {
		t.Errorf("top pixel %v, want the page's red", c)
	}
	if c := img.At(100, 130); !near(c, 30, 120, 200) {
		t.Errorf("bottom pixel %v, want the page's blue", c)
	}
	if w := f.get(t, thumbPath(site.URL+"/", "&size=200x150&format=png")); w.Header().Get("X-Kiln-Cache") != "hit" {
		t.Errorf("second request: %v", w.Header())
	}
	w = f.get(t, thumbPath(site.URL+"/away"))
	if w.Code != http.StatusForbidden {
		t.Errorf("redirect to a forbidden address: %d %s", w.Code, w.Body)
	}
	if n := forbiddenHits.Load(); n != 0 {
		t.Errorf("the forbidden server was reached %d times", n)
	}
}

// A Chromium that does not start is the server's trouble, not the page's:
// 503, and nothing cached against the page.
func TestThumbnailWithoutBrowser(t *testing.T) {
	renderer := pagerender.New(testGuard(), pagerender.Options{Chromium: filepath.Join(t.TempDir(), "no-chromium"), Pages: 1})
	defer renderer.Close()
	f := newThumbFixture(t, renderer, nil)
	for range 2 {
		w := f.get(t, thumbPath("http://good.test/"))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
		}
		if m := errorBody(t, w); !strings.Contains(m["error"], "Chromium does not start") {
			t.Errorf("error %q", m["error"])
		}
	}
}
