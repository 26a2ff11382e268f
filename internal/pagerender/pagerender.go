// Package pagerender is kiln's second renderer: web pages loaded in pooled
// headless Chromium (Debian's, driven with chromedp) and captured, from
// which thumbnails of any size are cut. Every page gets a fresh incognito
// BrowserContext whose only way out is a per-page proxy of package
// netguard, so no request of the page — first URL, redirect, sub-resource,
// iframe — reaches an address kiln must not fetch, and the bytes a page
// downloads are bounded.
//
// A load is settled as screenshot services learned to settle it: the load
// event, then the network quiet for a moment and the fonts ready, all
// capped so a page that never goes quiet is still captured; a page whose
// load event never comes is captured at the deadline if it has content
// (DOMContentLoaded), and fails with the reason otherwise. Dialogs are
// dismissed and downloads refused.
package pagerender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"kiln/internal/netguard"
)

// Options configure the renderer. Zero values take the defaults.
type Options struct {
	Chromium     string        // browser binary; /usr/bin/chromium
	Flags        []string      // extra Chromium flags, "--name[=value]"
	Pages        int           // pages rendered at once; DefaultPages()
	RecycleAfter int           // pages per browser before it is replaced; 200
	Viewport     image.Point   // 1024x768
	Timeout      time.Duration // a page's whole deadline: load, settle, capture; 30s
	MaxBytes     int64         // bytes a page may download; 32 MiB
	MaxURL       int           // URL length; 2048
	MaxHeight    int           // full-page captures are cut at this height; 16384
	Log          *slog.Logger
}

// Renderer captures pages.
type Renderer struct {
	opts  Options
	guard *netguard.Guard
	pool  *pool
	pages atomic.Int64 // pages captured, for tests and metrics
}

// New returns a renderer whose pages reach the network through guard.
func New(guard *netguard.Guard, opts Options) *Renderer {
	if opts.Chromium == "" {
		opts.Chromium = "/usr/bin/chromium"
	}
	if opts.Pages <= 0 {
		opts.Pages = DefaultPages()
	}
	if opts.RecycleAfter <= 0 {
		opts.RecycleAfter = 200
	}
	if opts.Viewport == (image.Point{}) {
		opts.Viewport = image.Pt(1024, 768)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 32 << 20
	}
	if opts.MaxURL <= 0 {
		opts.MaxURL = 2048
	}
	if opts.MaxHeight <= 0 {
		opts.MaxHeight = 16384
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Renderer{opts: opts, guard: guard, pool: newPool(opts.Chromium, opts.Flags, opts.Pages, opts.RecycleAfter, opts.Log)}
}

// Pages is how many pages the renderer loads at once.
func (r *Renderer) Pages() int { return r.opts.Pages }

// Close stops the browsers.
func (r *Renderer) Close() { r.pool.close() }

// Job is a page to capture.
type Job struct {
	URL      string
	FullPage bool
}

// Capture is a captured page.
type Capture struct {
	Image    image.Image // the viewport, or the whole page up to MaxHeight
	JPEG     []byte      // Image as Chromium encoded it
	URL      string      // where the page ended up, after redirects
	Status   int         // HTTP status of the document
	Title    string
	Partial  bool // captured at the deadline, before the load event
	Blank    bool // nearly uniform: likely a page that showed nothing
	Requests int  // requests the page made
	Bytes    int64
}

// Errors, which the server turns into statuses.
var (
	// ErrBadURL: not a URL kiln fetches (400).
	ErrBadURL = netguard.ErrBadURL
	// ErrForbidden: the URL or a redirect leads where pages may not go (403).
	ErrForbidden = netguard.ErrForbidden
	// ErrFailed: the page could not be loaded or captured (422); the
	// error says why.
	ErrFailed = errors.New("page failed")
)

// PageError is a failed page with its reason.
type PageError struct {
	Kind   string // timeout, dns, tls, http_status, redirects, too_large, not_a_page, navigation, crashed, forbidden
	Reason string
	err    error // ErrFailed or ErrForbidden
}

func (e *PageError) Error() string { return e.Reason }
func (e *PageError) Unwrap() error { return e.err }

func failed(kind, format string, args ...any) *PageError {
	return &PageError{Kind: kind, Reason: fmt.Sprintf(format, args...), err: ErrFailed}
}

// Capture loads job's page and captures it. A page lost with a crashed
// browser is tried once more on a new browser, if time is left.
func (r *Renderer) Capture(ctx context.Context, job Job) (*Capture, error) {
	u, err := r.guard.CheckURL(ctx, job.URL, r.opts.MaxURL)
	if err != nil {
		switch {
		case errors.Is(err, netguard.ErrDNS):
			return nil, &PageError{Kind: "dns", Reason: err.Error(), err: ErrFailed}
		case errors.Is(err, netguard.ErrForbidden):
			return nil, &PageError{Kind: "forbidden", Reason: err.Error(), err: ErrForbidden}
		}
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		c, err := r.capture(ctx, u, job)
		if err == nil || !errors.Is(err, errCrashed) || attempt > 0 || ctx.Err() != nil {
			if errors.Is(err, errCrashed) {
				return nil, failed("crashed", "%s: the browser crashed while rendering the page", u)
			}
			return c, err
		}
		r.opts.Log.Warn("browser crashed, trying the page again", "url", u.String(), "err", err)
	}
}

// pageState follows a page's events.
type pageState struct {
	mu         sync.Mutex
	mainFrame  string
	status     int
	mime       string
	finalURL   string
	refused    string // the proxy's reason for refusing the document
	inflight   map[network.RequestID]bool
	lastChange time.Time
	loaded     chan struct{}
	dcl        chan struct{}
	loadOnce   sync.Once
	dclOnce    sync.Once
}

func (s *pageState) listen(tab context.Context) func(ev any) {
	return func(ev any) {
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			// alert, confirm, prompt, beforeunload: answer at once, off the
			// event goroutine (a listener may not send commands).
			go chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		case *page.EventLoadEventFired:
			s.loadOnce.Do(func() { close(s.loaded) })
		case *page.EventDomContentEventFired:
			s.dclOnce.Do(func() { close(s.dcl) })
		case *network.EventRequestWillBeSent:
			s.mu.Lock()
			s.inflight[e.RequestID] = true
			s.lastChange = time.Now()
			s.mu.Unlock()
		case *network.EventLoadingFinished:
			s.done(e.RequestID)
		case *network.EventLoadingFailed:
			s.done(e.RequestID)
		case *network.EventResponseReceived:
			if e.Type != network.ResourceTypeDocument || e.Response == nil {
				return
			}
			s.mu.Lock()
			if s.mainFrame == "" || string(e.FrameID) == s.mainFrame {
				s.status = int(e.Response.Status)
				s.mime = e.Response.MimeType
				s.finalURL = e.Response.URL
				s.refused = headerValue(e.Response.Headers, "X-Kiln-Refused")
			}
			s.mu.Unlock()
		}
	}
}

func (s *pageState) done(id network.RequestID) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.lastChange = time.Now()
	s.mu.Unlock()
}

// quietFor reports whether no request has been in flight for d.
func (s *pageState) quietFor(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) == 0 && time.Since(s.lastChange) >= d
}

func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}

// Settling: after the load event the network must be quiet this long; the
// whole settle is capped; some time is kept for the capture itself.
const (
	quietTime    = 300 * time.Millisecond
	settleCap    = 3 * time.Second
	captureSlack = 2 * time.Second
)

func (r *Renderer) capture(ctx context.Context, u *url.URL, job Job) (*Capture, error) {
	sess, err := r.guard.NewSession(netguard.SessionOptions{MaxBytes: r.opts.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("page proxy: %w", err)
	}
	defer sess.Close()
	var out *Capture
	err = r.pool.page(ctx, sess.Addr(), func(tab context.Context) error {
		var err error
		out, err = r.load(ctx, tab, sess, u, job)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.pages.Add(1)
	return out, nil
}

// load navigates tab to u, settles the page and captures it.
func (r *Renderer) load(ctx, tab context.Context, sess *netguard.Session, u *url.URL, job Job) (*Capture, error) {
	st := &pageState{inflight: map[network.RequestID]bool{}, loaded: make(chan struct{}), dcl: make(chan struct{}), lastChange: time.Now()}
	if err := chromedp.Do(tab); err != nil { // opens the tab
		return nil, fmt.Errorf("opening a tab: %w", err)
	}
	if err := chromedp.Listen(tab, st.listen(tab)); err != nil {
		return nil, err
	}
	c := chromedp.FromContext(tab)
	vp := r.opts.Viewport
	steps := []error{}
	_, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorDeny, BrowserContextID: c.BrowserContextID})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, network.Enable, network.EnableParams{})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, page.Enable, page.EnableParams{})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: int64(vp.X), Height: int64(vp.Y), DeviceScaleFactor: 1})
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		return nil, fmt.Errorf("preparing the tab: %w", err)
	}

	nav, err := chromedp.Call(tab, page.Navigate, page.NavigateParams{URL: u.String()})
	if err != nil {
		return nil, r.timeoutOr(ctx, u, fmt.Errorf("navigating: %w", err))
	}
	st.mu.Lock()
	st.mainFrame = string(nav.FrameID)
	st.mu.Unlock()
	if nav.ErrorText != "" {
		return nil, r.navigationError(u, sess, nav.ErrorText)
	}

	// Wait for the load event, keeping time to capture.
	deadline, _ := ctx.Deadline()
	loadBy := time.Until(deadline) - captureSlack
	partial := false
	select {
	case <-st.loaded:
	case <-time.After(max(loadBy, 0)):
		select {
		case <-st.dcl:
			partial = true // content but no load event: capture what there is
		default:
			if err := r.documentError(u, sess, st); err != nil {
				return nil, err
			}
			return nil, failed("timeout", "%s did not load within %v", u, r.opts.Timeout)
		}
	case <-ctx.Done():
		return nil, r.timeoutOr(ctx, u, ctx.Err())
	}
	if err := r.documentError(u, sess, st); err != nil {
		return nil, err
	}
	if !partial {
		settleBy := time.Now().Add(min(settleCap, max(time.Until(deadline)-captureSlack, 0)))
		for time.Now().Before(settleBy) && !st.quietFor(quietTime) {
			time.Sleep(50 * time.Millisecond)
		}
		fonts, cancel := context.WithTimeout(tab, 500*time.Millisecond)
		chromedp.Run(fonts, chromedp.Evaluate[chromedp.Void](`document.fonts.ready.then(() => undefined)`, chromedp.EvalAwaitPromise))
		cancel()
	}

	title, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.title`))
	params := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatJpeg, Quality: ptr[int64](90), OptimizeForSpeed: ptr(true)}
	if job.FullPage {
		m, err := chromedp.Call(tab, page.GetLayoutMetrics, cdp.Empty{})
		if err == nil && m.CSSContentSize != nil {
			h := min(max(m.CSSContentSize.Height, float64(vp.Y)), float64(r.opts.MaxHeight))
			params.Clip = &page.Viewport{X: 0, Y: 0, Width: float64(vp.X), Height: h, Scale: 1}
			params.CaptureBeyondViewport = ptr(true)
		}
	}
	shot, err := chromedp.Call(tab, page.CaptureScreenshot, params)
	if err != nil {
		return nil, r.timeoutOr(ctx, u, fmt.Errorf("capturing: %w", err))
	}
	img, err := jpeg.Decode(bytes.NewReader(shot.Data))
	if err != nil {
		return nil, fmt.Errorf("capture of %s: %w", u, err)
	}
	stats := sess.Stats()
	st.mu.Lock()
	defer st.mu.Unlock()
	return &Capture{
		Image: img, JPEG: shot.Data, URL: st.finalURL, Status: st.status, Title: title,
		Partial: partial, Blank: blank(img), Requests: stats.Requests, Bytes: stats.Bytes,
	}, nil
}

// documentError is why the document itself failed, if it did: refused by
// the proxy, an HTTP error status, not a web page, too large.
func (r *Renderer) documentError(u *url.URL, sess *netguard.Session, st *pageState) error {
	st.mu.Lock()
	status, mime, refused := st.status, st.mime, st.refused
	st.mu.Unlock()
	if sess.Stats().BudgetExceeded {
		return failed("too_large", "%s downloads more than %d MiB", u, r.opts.MaxBytes>>20)
	}
	switch {
	case refused != "" && status == 403:
		return &PageError{Kind: "forbidden", Reason: refused, err: ErrForbidden}
	case refused != "":
		return failed("navigation", "%s: %s", u, refused)
	case status >= 400:
		return failed("http_status", "%s answered HTTP %d", u, status)
	case mime != "" && !webPage(mime):
		return failed("not_a_page", "%s is not a web page but %s", u, mime)
	}
	return nil
}

// webPage reports whether a document of this type is worth a thumbnail.
func webPage(mime string) bool {
	mime = strings.ToLower(mime)
	return strings.HasPrefix(mime, "text/") || strings.HasPrefix(mime, "image/") ||
		mime == "application/xhtml+xml" || mime == "application/xml"
}

// navigationError explains a navigation that Chromium refused.
func (r *Renderer) navigationError(u *url.URL, sess *netguard.Session, text string) error {
	if sess.Stats().BudgetExceeded {
		return failed("too_large", "%s downloads more than %d MiB", u, r.opts.MaxBytes>>20)
	}
	// The proxy knows why a host was refused or unreachable.
	for _, ref := range append(sess.Stats().Blocked, sess.Stats().Failed...) {
		if errors.Is(ref.Err, netguard.ErrForbidden) {
			return &PageError{Kind: "forbidden", Reason: ref.Err.Error(), err: ErrForbidden}
		}
	}
	switch {
	case strings.Contains(text, "ERR_CERT") || strings.Contains(text, "SSL") || strings.Contains(text, "ERR_BAD_SSL"):
		return failed("tls", "%s: TLS error (%s)", u, text)
	case strings.Contains(text, "TOO_MANY_REDIRECTS"):
		return failed("redirects", "%s: too many redirects", u)
	case strings.Contains(text, "ERR_ABORTED"):
		return failed("not_a_page", "%s: not a web page (a download?)", u)
	case strings.Contains(text, "NAME_NOT_RESOLVED") || strings.Contains(text, "TUNNEL_CONNECTION_FAILED"):
		for _, ref := range sess.Stats().Failed {
			return failed("dns", "%s: %v", u, ref.Err)
		}
	}
	return failed("navigation", "%s: %s", u, text)
}

// timeoutOr turns an error at the deadline into a timeout failure.
func (r *Renderer) timeoutOr(ctx context.Context, u *url.URL, err error) error {
	if ctx.Err() != nil {
		return failed("timeout", "%s did not load within %v", u, r.opts.Timeout)
	}
	return err
}

func ptr[T any](v T) *T { return &v }
