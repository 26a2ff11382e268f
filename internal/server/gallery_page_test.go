package server

import (
	"context"
	"image"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kiln/internal/browsertest"
	"kiln/internal/keys"
	"kiln/internal/pagerender"
	"kiln/internal/pipeline"
)

// slowPages is fakePages taking a while over each page.
type slowPages struct {
	fakePages
	delay time.Duration
}

func (s *slowPages) Capture(ctx context.Context, job pagerender.Job) (*pagerender.Capture, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fakePages.Capture(ctx, job)
}

// requestLog notes every request's URL and whether it had a key.
type requestLog struct {
	mu   sync.Mutex
	urls []string
	auth map[string]bool // path → had Authorization
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.urls = append(l.urls, r.Method+" "+r.URL.String())
		if l.auth == nil {
			l.auth = map[string]bool{}
		}
		l.auth[r.URL.Path] = l.auth[r.URL.Path] || r.Header.Get("Authorization") != ""
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, u := range l.urls {
		if strings.HasPrefix(u, prefix) {
			n++
		}
	}
	return n
}

func poll(ctx context.Context, t *testing.T, what, expr string, timeout time.Duration) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestThumbnailPanelInChromium drives the page's thumbnail panel in the
// real Chromium: open it beside the map, make a thumbnail (a spinner while
// the server answers 503, then the image), its <img> snippet with a signed
// URL, the gallery card and its re-render button, the narrow layout; and
// on a server that needs a key, the key field.
func TestThumbnailPanelInChromium(t *testing.T) {
	r := &slowPages{delay: 1500 * time.Millisecond}
	f := newThumbFixture(t, r, func(o *ThumbOptions, c *pipeline.PagesConfig) {
		o.Local = true
		c.Wait = 300 * time.Millisecond // the first answer is a 503 while the page loads
	})
	log := &requestLog{}
	ts := httptest.NewServer(log.wrap(f.srv))
	defer ts.Close()
	ctx := browsertest.New(t, 3*time.Minute)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".kiln-thumbs-toggle")),
	); err != nil {
		t.Fatalf("no Thumbnails button: %v", err)
	}
	if !eval[bool](ctx, t, `document.getElementById('map').getBoundingClientRect().width === innerWidth`) {
		t.Error("with the panel closed the map is not as wide as the window")
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".kiln-thumbs-toggle")),
		chromedp.WaitVisible(chromedp.CSS("#thumb-url")),
	); err != nil {
		t.Fatalf("opening the panel: %v", err)
	}
	poll(ctx, t, "the map makes room for the panel",
		`(() => { const m = document.getElementById('map').getBoundingClientRect(), p = document.getElementById('thumbs').getBoundingClientRect();
		  return m.left === 0 && Math.abs(m.right - p.left) < 1 && p.right === innerWidth && kilnMap.getCanvas().clientWidth === Math.round(m.width); })()`, 10*time.Second)
	if focused := eval[string](ctx, t, `document.activeElement.id`); focused != "thumb-url" {
		t.Errorf("focus on %q after opening, want the URL field", focused)
	}
	if n := eval[int](ctx, t, `[...document.querySelectorAll('#thumbs input:not([type=hidden]), #thumbs select, #thumbs textarea')].filter((e) => !e.labels || !e.labels.length).length`); n != 0 {
		t.Errorf("%d form controls without a label", n)
	}

	// A thumbnail: the spinner while the page loads (503, retried as
	// Retry-After says), then the image, without reloading the page.
	eval[bool](ctx, t, `window.notReloaded = true`)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#thumb-url"), "good.test/"),
		chromedp.Click(chromedp.CSS("#thumb-go")),
		chromedp.WaitVisible(chromedp.CSS("#thumb-status .kiln-spinner")),
	); err != nil {
		t.Fatalf("submitting: %v", err)
	}
	poll(ctx, t, "a 503 answer", `document.getElementById('thumb-status-text').textContent.includes('asking again')`, 20*time.Second)
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#thumbs")))
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "thumbs-loading.png", shot)
	poll(ctx, t, "the thumbnail", `(() => { const i = document.getElementById('thumb-img');
		return !document.getElementById('thumb-figure').hidden && i.complete && i.naturalWidth > 0; })()`, 30*time.Second)
	if w, h := eval[int](ctx, t, `document.getElementById('thumb-img').naturalWidth`), eval[int](ctx, t, `document.getElementById('thumb-img').naturalHeight`); w != 111 || h != 82 {
		t.Errorf("thumbnail %dx%d, want small: 111x82", w, h)
	}
	if n := log.count("GET /thumbnail?url=https%3A%2F%2Fgood.test%2F&size=small&format=jpeg"); n < 2 {
		t.Errorf("%d requests for the thumbnail, want a 503 then the image: %v", n, log.urls)
	}
	if s := eval[string](ctx, t, `document.getElementById('thumb-status').hidden + ' ' + document.getElementById('thumb-caption').textContent`); !strings.HasPrefix(s, "true 111×82 JPEG · just made") {
		t.Errorf("status hidden, caption: %q", s)
	}
	if !eval[bool](ctx, t, `window.notReloaded === true`) {
		t.Error("the page reloaded")
	}

	// The snippet: an <img> with a signed URL, which serves the image.
	poll(ctx, t, "the snippet", `document.getElementById('thumb-snippet').value.startsWith('<img ')`, 10*time.Second)
	snippet := eval[string](ctx, t, `document.getElementById('thumb-snippet').value`)
	m := regexp.MustCompile(`^<img src="(` + regexp.QuoteMeta(ts.URL) + `/thumbnail/[^"]+)" width="111" height="82" alt="[^"]+">$`).FindStringSubmatch(snippet)
	if m == nil {
		t.Fatalf("snippet %q", snippet)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || img.Bounds().Size() != image.Pt(111, 82) {
		t.Errorf("the snippet's URL: %d, %v %v", resp.StatusCode, img, err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#thumb-copy"))); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "copying", `/Copied|Ctrl\+C/.test(document.getElementById('thumb-copied').textContent)`, 5*time.Second)

	// The gallery: the card with its image, age and re-render button.
	poll(ctx, t, "the gallery card", `(() => { const c = document.querySelectorAll('#gallery .kiln-card'), i = c[0] && c[0].querySelector('img');
		return c.length === 1 && i.complete && i.naturalWidth === 111; })()`, 20*time.Second)
	if s := eval[string](ctx, t, `document.querySelector('#gallery .kiln-card').innerText`); !strings.Contains(s, "good.test") || !strings.Contains(s, "just now") || !strings.Contains(s, "Re-render") {
		t.Errorf("card %q", s)
	}
	shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "thumbs-panel.png", shot)

	loads := r.loads.Load()
	captured := eval[string](ctx, t, `document.querySelector('#gallery .kiln-card').dataset.captured`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#gallery .kiln-rerender"))); err != nil {
		t.Fatal(err)
	}
	// The page loads again: a spinner on the card; the server answers 503,
	// and the panel asks again without refresh=1 (which would load it
	// once more) until the new capture is there.
	poll(ctx, t, "the card's spinner", `document.querySelector('#gallery .kiln-card').classList.contains('kiln-busy')`, 5*time.Second)
	poll(ctx, t, "the re-rendered card", `(() => { const c = document.querySelector('#gallery .kiln-card');
		return c && c.dataset.captured !== `+"'"+captured+"'"+` && c.querySelector('img').naturalWidth === 111 && !c.classList.contains('kiln-busy'); })()`, 30*time.Second)
	if got := r.loads.Load(); got != loads+1 {
		t.Errorf("re-render: %d page loads, want %d", got, loads+1)
	}
	if n := log.count("GET /thumbnail?url=https%3A%2F%2Fgood.test%2F&size=111x82&format=jpeg&refresh=1"); n != 1 {
		t.Errorf("%d refresh=1 requests, want 1: %v", n, log.urls)
	}
	if n := log.count("GET /thumbnail?url=https%3A%2F%2Fgood.test%2F&size=111x82&format=jpeg"); n < 2 {
		t.Errorf("%d requests to re-render, want the refresh=1 (503) and the one that got the new image: %v", n, log.urls)
	}

	// A refused page: the error's message and kind.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#thumb-url"), "http://10.0.0.1/admin"),
		chromedp.Click(chromedp.CSS("#thumb-go")),
		chromedp.WaitVisible(chromedp.CSS("#thumb-error")),
	); err != nil {
		t.Fatal(err)
	}
	if s := eval[string](ctx, t, `document.getElementById('thumb-error').textContent`); !strings.HasPrefix(s, "Error 403 (forbidden): ") || len(s) < 30 {
		t.Errorf("error shown: %q", s)
	}
	if !eval[bool](ctx, t, `document.getElementById('thumb-figure').hidden && document.getElementById('thumb-status').hidden`) {
		t.Error("the old thumbnail or the spinner still shows with the error")
	}

	// Narrow screens: the panel over the whole map, closed with its button.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 760)); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the narrow layout", `document.getElementById('thumbs').getBoundingClientRect().width === innerWidth && innerWidth === 390`, 5*time.Second)
	shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "thumbs-narrow.png", shot)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#thumbs-close")),
		chromedp.WaitNotVisible(chromedp.CSS("#thumbs")),
	); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the map filling the window again", `document.getElementById('map').getBoundingClientRect().width === innerWidth`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 768)); err != nil {
		t.Fatal(err)
	}

	t.Run("key", func(t *testing.T) { testThumbPanelKey(t, ctx) })
}

// testThumbPanelKey: where a key is needed, the panel asks for one, keeps
// it in the browser and sends it as a header, never in a URL.
func testThumbPanelKey(t *testing.T, ctx context.Context) {
	f := newThumbFixture(t, &fakePages{}, func(o *ThumbOptions, _ *pipeline.PagesConfig) { o.RequireKey = true })
	k, secret, err := f.keys.CreateWith(context.Background(), "browser", keys.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	ts := httptest.NewServer(log.wrap(f.srv))
	defer ts.Close()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.Click(chromedp.CSS(".kiln-thumbs-toggle")),
		chromedp.WaitVisible(chromedp.CSS("#key-input")),
	); err != nil {
		t.Fatalf("no key field: %v", err)
	}
	if focused := eval[string](ctx, t, `document.activeElement.id`); focused != "key-input" {
		t.Errorf("focus on %q, want the key field", focused)
	}
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#thumbs")))
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "thumbs-key.png", shot)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#key-input"), k.ID+":"+secret+"\r"),
		chromedp.WaitNotVisible(chromedp.CSS("#key-form")),
		chromedp.SendKeys(chromedp.CSS("#thumb-url"), "http://good.test/keyed"),
		chromedp.SetValue(chromedp.CSS("#thumb-size"), "large"),
		chromedp.Click(chromedp.CSS("#thumb-go")),
	); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the thumbnail", `document.getElementById('thumb-img').naturalWidth === 201 && !document.getElementById('thumb-figure').hidden`, 30*time.Second)
	poll(ctx, t, "the snippet", `document.getElementById('thumb-snippet').value.includes('/`+k.ID+`/')`, 10*time.Second)
	poll(ctx, t, "the card", `document.querySelectorAll('#gallery .kiln-card img').length === 1`, 10*time.Second)

	// A custom size, in PNG.
	eval[bool](ctx, t, `(() => { const s = document.getElementById('thumb-size'); s.value = 'custom'; s.dispatchEvent(new Event('change')); return true; })()`)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#thumb-w")),
		chromedp.SetValue(chromedp.CSS("#thumb-w"), "64"),
		chromedp.SetValue(chromedp.CSS("#thumb-h"), "40"),
		chromedp.SetValue(chromedp.CSS("#thumb-format"), "png"),
		chromedp.Click(chromedp.CSS("#thumb-go")),
	); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the custom thumbnail", `document.getElementById('thumb-img').naturalWidth === 64 && document.getElementById('thumb-img').naturalHeight === 40`, 30*time.Second)
	poll(ctx, t, "two cards", `document.querySelectorAll('#gallery .kiln-card').length === 2 && document.querySelector('#gallery .kiln-card').innerText.includes('64×40 PNG')`, 10*time.Second)
	if shot, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#thumbs"))); err != nil {
		t.Fatal(err)
	}
	keep(t, "thumbs-custom.png", shot)
	if got := f.recent(t, "Bearer "+k.ID+":"+secret); len(got) != 2 || got[1].URL != "http://good.test/keyed" || got[0].Size != "64x40" {
		t.Errorf("the key's gallery: %v", got)
	}
	if stored := eval[string](ctx, t, `localStorage.getItem('kiln.apiKey')`); stored != k.ID+":"+secret {
		t.Errorf("stored key %q", stored)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, u := range log.urls {
		if strings.Contains(u, secret) {
			t.Errorf("the secret in a URL: %s", u)
		}
	}
	for _, p := range []string{"/thumbnail", "/thumbnails/recent", "/thumbnails/sign"} {
		if !log.auth[p] {
			t.Errorf("%s never had the key", p)
		}
	}
}
