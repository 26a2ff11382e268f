// Package pagerender is kiln's second renderer: web pages loaded in pooled
// headless Chromium (Debian's, driven with chromedp) and captured, from
// which thumbnails of any size are cut. Every page gets a fresh incognito
// BrowserContext whose only way out is a per-page proxy of package
// netguard, so no request of the page — first URL, redirect, sub-resource,
// iframe — reaches an address kiln must not fetch, and the bytes a page
// downloads are bounded.
//
// A load is settled as screenshot services learned to settle it, the load
// event and then the network quiet, but the quiet asked for is short
// (100 ms) and the page itself is asked when it is done: it must draw two
// frames, have an idle moment on its main thread and its fonts ready with
// no request meanwhile. What a page does after its load event mostly
// follows its last answers or its being seen, and is caught so without a
// long fixed wait, in which a page holds one of the few slots and uses no
// CPU. All is capped so a page that never goes quiet is still captured; a
// page whose load event never comes is captured at the deadline if it has
// content (DOMContentLoaded), and fails with the reason otherwise. Dialogs
// are dismissed and downloads refused.
//
// A page's time and CPU are mostly Chromium's, so the renderer spares it
// what it can: its shared memory stays in /dev/shm where that has room,
// not in files on disk; a tab is opened ahead for the next page, so that
// its start is not in the page's time; the DevTools domains nothing reads
// are off; hosts the proxy refused that the page asks for again are failed
// in its own renderer; a page loads unseen, in a minimized window, and is
// shown at its load event; its tab is closed before its capture is
// decoded; and thumbnails are cut with filters and buffers kept from page
// to page.
package pagerender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"kiln/internal/netguard"
)

// Options configure the renderer. Zero values take the defaults.
type Options struct {
	Chromium     string        // browser binary; "": DefaultChromium()
	Flags        []string      // extra Chromium flags, "--name[=value]"
	Pages        int           // pages rendered at once; DefaultPages()
	RecycleAfter int           // pages per browser before it is replaced; 200
	Viewport     image.Point   // 1024x768
	Timeout      time.Duration // a page's whole deadline: load, settle, capture; 30s (from when it has a slot and a browser)
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
	spare spare
	pages atomic.Int64 // pages captured, for tests and metrics

	prepared func(tab context.Context) // tests: called on a tab ready to navigate
}

// spare is a tab opened ahead of the page that will take it, with its
// proxy, so that a page does not wait for a new BrowserContext and its
// renderer process to start (150 ms, a tenth of a page's time), and the
// browser starts them while pages wait on the network. A spare is as
// fresh as any tab: nothing has loaded in it.
type spare struct {
	mu      sync.Mutex
	tab     *pageTab
	opening bool
	closed  bool
	wg      sync.WaitGroup // the opening
}

// pageTab is a page's tab, prepared, with its proxy.
type pageTab struct {
	*tab
	sess      *netguard.Session
	blocker   *hostBlocker // the hosts sess refused, told to the tab
	mainFrame string
	window    browser.WindowID // minimized until the page has loaded
}

// New returns a renderer whose pages reach the network through guard.
func New(guard *netguard.Guard, opts Options) *Renderer {
	if opts.Chromium == "" {
		opts.Chromium = DefaultChromium()
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
func (r *Renderer) Close() {
	r.spare.mu.Lock()
	r.spare.closed = true
	t := r.spare.tab
	r.spare.tab = nil
	r.spare.mu.Unlock()
	r.pool.close()
	r.spare.wg.Wait()
	if t != nil {
		r.dispose(t, nil)
	}
}

// dispose closes t and its proxy in the background, then calls closed.
func (r *Renderer) dispose(t *pageTab, closed func()) {
	r.pool.dispose(t.tab, func() {
		t.sess.Close()
		if closed != nil {
			closed()
		}
	})
}

// takeSpare returns the spare tab if it can still load a page (its browser
// may have died or retired since), and starts opening the next one.
func (r *Renderer) takeSpare() *pageTab {
	s := &r.spare
	s.mu.Lock()
	t := s.tab
	s.tab = nil
	if !s.opening && !s.closed {
		s.opening = true
		s.wg.Add(1)
		go r.openSpare()
	}
	s.mu.Unlock()
	if t != nil && !t.usable() {
		r.dispose(t, nil)
		return nil
	}
	return t
}

func (r *Renderer) openSpare() {
	defer r.spare.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), browserStart)
	defer cancel()
	var t *pageTab
	inst, err := r.pool.acquire(ctx)
	if err == nil {
		t, err = r.openTab(ctx, inst)
	}
	s := &r.spare
	s.mu.Lock()
	s.opening = false
	keep := err == nil && !s.closed && s.tab == nil
	if keep {
		s.tab = t
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		r.opts.Log.Debug("no spare tab", "err", err)
	case !keep:
		r.dispose(t, nil)
	}
}

// openTab opens and prepares a tab on inst, which acquire returned, with a
// proxy of its own. On error inst is released.
func (r *Renderer) openTab(ctx context.Context, inst *instance) (*pageTab, error) {
	b := newHostBlocker()
	sess, err := r.guard.NewSession(netguard.SessionOptions{MaxBytes: r.opts.MaxBytes, HostFailed: b.add})
	if err != nil {
		r.pool.release(inst)
		return nil, fmt.Errorf("page proxy: %w", err)
	}
	t, err := r.pool.open(ctx, inst, sess.Addr())
	if err != nil {
		sess.Close()
		return nil, err
	}
	pt := &pageTab{tab: t, sess: sess, blocker: b}
	err = r.pool.run(ctx, t, func(tab context.Context) (err error) {
		pt.mainFrame, pt.window, err = r.prepare(tab)
		return err
	})
	if err != nil {
		r.dispose(pt, nil)
		return nil, fmt.Errorf("preparing the tab: %w", err)
	}
	return pt, nil
}

// Job is a page to capture.
type Job struct {
	URL      string
	FullPage bool
}

// Capture is a captured page.
type Capture struct {
	Image    image.Image // the viewport, or the whole page up to MaxHeight, as JPEG decodes it
	JPEG     []byte      // Image as Chromium encoded it
	URL      string      // where the page ended up, after redirects
	Status   int         // HTTP status of the document
	Title    string
	Partial  bool // captured at the deadline, before the load event
	Blank    bool // nearly uniform: likely a page that showed nothing
	Requests int  // requests the page made
	Bytes    int64
	Blocked  []string // hosts (host:port) the page tried to reach and the policy refused
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
	// ErrNoBrowser: Chromium would not start (a missing or broken
	// install): no page is at fault (503).
	ErrNoBrowser = errors.New("the page renderer is unavailable")
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
// browser is tried once more on a new browser, if time is left. The
// page's Timeout starts when it has a slot and a browser: time spent
// waiting behind other pages, or for the first browser to start, is not
// the page's.
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
	release, err := r.pool.wait(ctx)
	if err != nil {
		return nil, err
	}
	// The page's tabs may close after the answer.
	var tabs sync.WaitGroup
	defer r.pool.done(release, &tabs)
	t := r.takeSpare()
	var inst *instance
	if t == nil {
		if inst, err = r.pool.acquire(ctx); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var c *Capture
		var err error
		if t == nil {
			t, err = r.openTab(ctx, inst)
			if err != nil && !errors.Is(err, errCrashed) {
				return nil, r.timeoutOr(ctx, u, err)
			}
		}
		if err == nil {
			c, err = r.capture(ctx, t, u, job, &tabs)
		}
		if !errors.Is(err, errCrashed) {
			return c, err
		}
		if attempt > 0 || ctx.Err() != nil {
			return nil, failed("crashed", "%s: the browser crashed while rendering the page", u)
		}
		r.opts.Log.Warn("browser crashed, trying the page again", "url", u.String(), "err", err)
		t = nil
		if inst, err = r.pool.acquire(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, failed("crashed", "%s: the browser crashed while rendering the page", u)
			}
			return nil, err
		}
	}
}

// pageState follows a page's events.
type pageState struct {
	mu        sync.Mutex
	mainFrame string
	status    int
	mime      string
	finalURL  string
	refused   string // the proxy's reason for refusing the document
	// waiting are the requests sent and not answered yet. A request is
	// followed to its answer only: the rest of its life may not be seen
	// from the page's target (a cross-site frame loads in a process and
	// target of its own, and an answer that Chromium's opaque response
	// blocking stops never finishes), so the bytes that arrive are what
	// tells that the page still loads.
	waiting    map[network.RequestID]bool
	lastChange time.Time // the last request, answer or bytes
	changes    int       // requests, answers and bytes so far
	loaded     chan struct{}
	dcl        chan struct{}
	loadOnce   sync.Once
	dclOnce    sync.Once
}

func newPageState() *pageState {
	return &pageState{waiting: map[network.RequestID]bool{}, loaded: make(chan struct{}), dcl: make(chan struct{}), lastChange: time.Now()}
}

func (s *pageState) listen() func(ev any) {
	return func(ev any) {
		switch e := ev.(type) {
		case *page.EventLoadEventFired:
			s.loadOnce.Do(func() { close(s.loaded) })
		case *page.EventDomContentEventFired:
			s.dclOnce.Do(func() { close(s.dcl) })
		case *network.EventRequestWillBeSent:
			s.update(e.RequestID, true)
		case *network.EventDataReceived:
			s.update("", false)
		case *network.EventLoadingFinished:
			s.update(e.RequestID, false)
		case *network.EventLoadingFailed:
			s.update(e.RequestID, false)
		case *network.EventResponseReceived:
			s.update(e.RequestID, false)
			if e.Type != network.ResourceTypeDocument || e.Response == nil {
				return
			}
			s.mu.Lock()
			if string(e.FrameID) == s.mainFrame {
				s.status = int(e.Response.Status)
				s.mime = e.Response.MimeType
				s.finalURL = e.Response.URL
				s.refused = headerValue(e.Response.Headers, netguard.RefusedHeader)
			}
			s.mu.Unlock()
		}
	}
}

// update notes activity: request id waits for its answer, or no longer.
func (s *pageState) update(id network.RequestID, waiting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	switch {
	case id == "":
	case waiting:
		s.waiting[id] = true
	default:
		delete(s.waiting, id)
	}
	s.lastChange = time.Now()
}

// quietFor reports whether no request has waited for an answer and no
// bytes have arrived for d; if not, how long it cannot be before (0 while
// a request waits) and how many requests wait.
func (s *pageState) quietFor(d time.Duration) (quiet bool, notBefore time.Duration, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) > 0 {
		return false, 0, len(s.waiting)
	}
	left := d - time.Since(s.lastChange)
	return left <= 0, left, 0
}

// seq is the count of network changes so far.
func (s *pageState) seq() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
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

// Settling: after the load event the network must be quiet this long,
// and then stay so while the page runs what it had queued (settledJS); the
// whole settle is capped; some time is kept for the capture itself.
const (
	quietTime    = 100 * time.Millisecond
	settleCap    = 3 * time.Second
	captureSlack = 2 * time.Second
)

// settledJS resolves, with the page's title, once the page has drawn two
// frames (what starts once the page is seen, such as a lazy image in view,
// has started), its main thread has had an idle moment (what the last
// answers set off, a script's fetch or an inserted image, has run) and its
// fonts are ready. The idle callback is not waited for more than 500 ms on
// a page that keeps its thread busy.
const settledJS = `new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() =>
	requestIdleCallback(() => document.fonts.ready.then(() => done(document.title)), {timeout: 500}))))`

// settle waits until the page is settled or by comes: settledJS run
// through with no request, answer or bytes since it began, and the network
// quiet for quietTime. The two are waited for at once; a change starts both
// again. A page whose own scripts break settledJS (they replaced
// requestAnimationFrame, say) is settled by the network's quiet alone. It
// returns the page's title if settledJS gave it.
func (r *Renderer) settle(ctx, tab context.Context, u *url.URL, sess *netguard.Session, st *pageState, by time.Time) (title string, titled bool, err error) {
	capped := func(waiting int) (string, bool, error) {
		r.opts.Log.Debug("page not settled: captured at the settle cap", "url", u.String(), "waiting", waiting)
		return "", false, nil
	}
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		seq := st.seq()
		js, cancel := context.WithDeadline(tab, by)
		title, jsErr := chromedp.Run(js, chromedp.Evaluate[string](settledJS, chromedp.EvalAwaitPromise))
		cancel()
		for {
			quiet, notBefore, waiting := st.quietFor(quietTime)
			if quiet {
				break
			}
			if !time.Now().Before(by) {
				return capped(waiting)
			}
			if notBefore <= 0 {
				notBefore = 50 * time.Millisecond // a request waits: look again soon
			}
			poll.Reset(min(notBefore, time.Until(by)))
			select {
			case <-poll.C:
			case <-sess.Exceeded():
				return "", false, r.documentError(u, sess, st)
			case <-tab.Done():
				return "", false, r.timeoutOr(ctx, u, fmt.Errorf("settling: the tab closed: %w", context.Cause(tab)))
			}
		}
		changed := st.seq() != seq
		if (changed || jsErr != nil) && !time.Now().Before(by) {
			return capped(0)
		}
		if changed {
			continue // something reached the network meanwhile: ask again
		}
		if jsErr != nil {
			r.opts.Log.Debug("page settled by the network's quiet alone", "url", u.String(), "err", jsErr)
			return "", false, nil
		}
		return title, true, nil
	}
}

// capture loads the page in t. The tab and its proxy are closed in the
// background, counted in tabs.
func (r *Renderer) capture(ctx context.Context, t *pageTab, u *url.URL, job Job, tabs *sync.WaitGroup) (*Capture, error) {
	tabs.Add(1)
	var out *Capture
	err := r.pool.run(ctx, t.tab, func(tab context.Context) error {
		var err error
		out, err = r.load(ctx, tab, t, u, job)
		return err
	})
	// The tab goes as soon as its page is captured, not after the decode:
	// a page left open goes on running its scripts and animations.
	r.dispose(t, tabs.Done)
	if err != nil {
		var pe *PageError
		if errors.As(err, &pe) || errors.Is(err, errCrashed) {
			return nil, err
		}
		return nil, r.timeoutOr(ctx, u, err)
	}
	if out.Image, err = jpeg.Decode(bytes.NewReader(out.JPEG)); err != nil {
		return nil, fmt.Errorf("capture of %s: %w", u, err)
	}
	out.Blank = blank(out.Image)
	r.pages.Add(1)
	return out, nil
}

// load navigates tab to u, settles the page and captures it, as Chromium
// encoded it (capture decodes it once the tab is gone). tab ends with ctx.
func (r *Renderer) load(ctx, tab context.Context, pt *pageTab, u *url.URL, job Job) (*Capture, error) {
	sess := pt.sess
	st := newPageState()
	st.mainFrame = pt.mainFrame
	if err := chromedp.Listen(tab, st.listen()); err != nil {
		return nil, r.timeoutOr(ctx, u, fmt.Errorf("listening to the tab: %w", err))
	}
	vp := r.opts.Viewport
	go pt.blocker.run(tab)
	if r.prepared != nil {
		r.prepared(tab)
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

	// Wait for the load event, keeping time to capture. The tab ends
	// before ctx when the browser goes. A page past its download budget
	// fails at once: the proxy has cut it off.
	deadline, _ := ctx.Deadline()
	loadBy := time.NewTimer(max(time.Until(deadline)-captureSlack, 0))
	defer loadBy.Stop()
	partial := false
wait:
	for {
		select {
		case <-st.loaded:
			break wait
		case <-loadBy.C:
			select {
			case <-st.dcl:
				partial = true // content but no load event: capture what there is
				break wait
			default:
				if err := r.documentError(u, sess, st); err != nil {
					return nil, err
				}
				return nil, failed("timeout", "%s did not load within %v", u, r.opts.Timeout)
			}
		case <-sess.Exceeded():
			return nil, r.documentError(u, sess, st)
		case <-tab.Done():
			return nil, r.timeoutOr(ctx, u, fmt.Errorf("loading: the tab closed: %w", context.Cause(tab)))
		}
	}
	if err := r.documentError(u, sess, st); err != nil {
		return nil, err
	}
	if err := setWindowState(tab, pt.window, browser.WindowStateNormal); err != nil {
		return nil, r.timeoutOr(ctx, u, fmt.Errorf("showing the page: %w", err))
	}
	// The quiet is counted from here: what the page starts once seen has
	// had no time to start.
	st.update("", false)
	var title string
	titled := false
	if !partial {
		settleBy := time.Now().Add(min(settleCap, max(time.Until(deadline)-captureSlack, 0)))
		if title, titled, err = r.settle(ctx, tab, u, sess, st, settleBy); err != nil {
			return nil, err
		}
		// Cut off while it settled.
		if sess.Stats().BudgetExceeded {
			return nil, r.documentError(u, sess, st)
		}
	}
	if !titled {
		titleCtx, cancelTitle := context.WithTimeout(tab, time.Second)
		title, _ = chromedp.Run(titleCtx, chromedp.Evaluate[string](`document.title`))
		cancelTitle()
	}
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
	stats := sess.Stats()
	var blocked []string
	for _, ref := range stats.Blocked {
		if !slices.Contains(blocked, ref.Target) {
			blocked = append(blocked, ref.Target)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return &Capture{
		JPEG: shot.Data, URL: st.finalURL, Status: st.status, Title: title,
		Partial: partial, Requests: stats.Requests, Bytes: stats.Bytes, Blocked: blocked,
	}, nil
}

// prepare readies a new tab for a page, before it is a page's: downloads
// refused, the viewport, the DevTools domains on or off, and its window
// minimized. It returns the main frame's id, known before the navigation
// (the answers of frames are told from the document's by it), and the
// window's.
//
// A page in a minimized window loads as in a tab in the background: it
// parses, runs its scripts and fetches, but makes no frames, so the
// renderer does not lay out, paint and composite the page again at every
// pause of the parser, nor the GPU process draw it. load shows the window
// once the page has loaded, before it settles: what waits on the page
// being seen (lazy images, animation frames) starts then, and the settle
// waits for it. The captures of the saved pages of bench/thumbs.sh are the
// same; Chromium's CPU per page is about 3 % lower (three alternating
// pairs of 78 pages, 4 at a time: 0.48 against 0.49 CPU-s).
func (r *Renderer) prepare(tab context.Context) (string, browser.WindowID, error) {
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
	// chromedp enables, on every tab, domains whose events nothing here
	// reads. Runtime's (every console message, with its stack) can keep
	// the renderer and the connection busy without end, and a capture
	// times out. DOM, CSS and Log make the renderer follow every node,
	// style sheet and warning of the page, lifecycle events report every
	// paint of every frame, auto-attach opens a session on each cross-site
	// frame and worker whose events chromedp drops, and target discovery
	// tells every tab of every other tab's changes: work that costs CPU on
	// every page and shows nowhere.
	for _, off := range []cdp.Command[cdp.Empty, cdp.Empty]{runtime.Disable, dom.Disable, css.Disable, log.Disable} {
		_, err = chromedp.Call(tab, off, cdp.Empty{})
		steps = append(steps, err)
	}
	_, err = chromedp.Call(tab, target.SetAutoAttach, target.SetAutoAttachParams{AutoAttach: false})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, target.SetDiscoverTargets, target.SetDiscoverTargetsParams{Discover: false})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, page.SetLifecycleEventsEnabled, page.SetLifecycleEventsEnabledParams{Enabled: false})
	steps = append(steps, err)
	_, err = chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: int64(vp.X), Height: int64(vp.Y), DeviceScaleFactor: 1})
	steps = append(steps, err)
	tree, err := chromedp.Call(tab, page.GetFrameTree, cdp.Empty{})
	steps = append(steps, err)
	win, err := chromedp.Call(tab, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
	steps = append(steps, err)
	if err == nil {
		steps = append(steps, setWindowState(tab, win.WindowID, browser.WindowStateMinimized))
	}
	if err := errors.Join(steps...); err != nil {
		return "", 0, err
	}
	if tree.FrameTree == nil || tree.FrameTree.Frame == nil {
		return "", 0, errors.New("the tab has no frame")
	}
	return string(tree.FrameTree.Frame.ID), win.WindowID, nil
}

func setWindowState(tab context.Context, id browser.WindowID, state browser.WindowState) error {
	_, err := chromedp.CallBrowser(tab, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: id, Bounds: &browser.Bounds{WindowState: state}})
	return err
}

// documentError is why the document itself failed, if it did: refused by
// the proxy, an HTTP error status, not a web page, too large.
func (r *Renderer) documentError(u *url.URL, sess *netguard.Session, st *pageState) error {
	st.mu.Lock()
	status, mime, refused, final := st.status, st.mime, st.refused, st.finalURL
	st.mu.Unlock()
	if sess.Stats().BudgetExceeded {
		return failed("too_large", "%s downloads more than %d MiB", u, r.opts.MaxBytes>>20)
	}
	// The proxy's answer in place of the document: why, as the proxy
	// recorded it (a site could send the header itself).
	if refused != "" {
		if err := proxyRefusal(sess, final); err != nil {
			return refusalError(u, err)
		}
	}
	switch {
	case status >= 400:
		return failed("http_status", "%s answered HTTP %d", u, status)
	case mime != "" && !webPage(mime):
		return failed("not_a_page", "%s is not a web page but %s", u, mime)
	}
	return nil
}

// proxyRefusal is why the page's proxy did not fetch rawURL: its host
// refused or not resolved, or no connection to it; nil if it did.
func proxyRefusal(sess *netguard.Session, rawURL string) error {
	pu, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	host, err := netguard.CanonicalHost(pu.Hostname())
	if err != nil {
		return nil
	}
	if err := sess.HostError(host); err != nil {
		return err
	}
	for _, ref := range sess.Stats().Failed {
		if h, _, err := net.SplitHostPort(ref.Target); err == nil {
			if h, err := netguard.CanonicalHost(h); err == nil && h == host {
				return ref.Err
			}
		}
	}
	return nil
}

// refusalError is the page's failure for the proxy's refusal err.
func refusalError(u *url.URL, err error) error {
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		return &PageError{Kind: "forbidden", Reason: err.Error(), err: ErrForbidden}
	case errors.Is(err, netguard.ErrDNS):
		return failed("dns", "%s: %v", u, err)
	}
	return failed("navigation", "%s: %v", u, err)
}

// webPage reports whether a document of this type is worth a thumbnail.
// An image is: Chromium shows it as a page of its own, and it is captured
// as one.
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
		// A tunnel the proxy could not open: a name that does not resolve,
		// or a server that does not answer.
		failures := sess.Stats().Failed
		for _, ref := range failures {
			if errors.Is(ref.Err, netguard.ErrDNS) {
				return failed("dns", "%s: %v", u, ref.Err)
			}
		}
		if len(failures) > 0 {
			return failed("navigation", "%s: %v", u, failures[len(failures)-1].Err)
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

// hostBlocker tells a tab to fail at once, in its renderer, the requests
// to hosts its proxy has refused (a name that does not resolve, a
// forbidden address): the proxy pins its answer for the page, so each
// later request to such a host would fail the same way, after a trip
// through the browser's network service and the proxy that costs 1 to
// 2 ms of CPU. Pages ask dead ad and tracker hosts for dozens of
// resources each.
//
// It hears of a host when the page asks for it a second time: most
// refused hosts are asked for once, and every host in the list costs the
// tab (Chromium compiles the whole list each time it is sent, each entry
// a URLPattern, and tries each request against every entry). Told of
// every refused host, the saved pages of bench/thumbs.sh sent 95 entries
// a page, and a page of 100 dead hosts asked for once each cost 0.13
// CPU-s more than with no list; DevTools takes no pattern that names
// several hosts (no regular expression groups).
type hostBlocker struct {
	mu    sync.Mutex
	hosts []string
	grew  chan struct{}
}

func newHostBlocker() *hostBlocker { return &hostBlocker{grew: make(chan struct{}, 1)} }

// add notes a refused host (netguard.SessionOptions.HostFailed).
func (b *hostBlocker) add(host string) {
	if !blockableHost(host) {
		return
	}
	b.mu.Lock()
	b.hosts = append(b.hosts, host)
	b.mu.Unlock()
	select {
	case b.grew <- struct{}{}:
	default:
	}
}

// run gives tab the list whenever it grows, until tab ends; hosts that
// come while a list is on its way go in the next.
func (b *hostBlocker) run(tab context.Context) {
	sent := 0
	for {
		select {
		case <-tab.Done():
			return
		case <-b.grew:
		}
		b.mu.Lock()
		hosts := b.hosts // only ever appended to
		b.mu.Unlock()
		if len(hosts) == sent {
			continue
		}
		patterns := make([]*network.BlockPattern, len(hosts))
		for i, h := range hosts {
			patterns[i] = &network.BlockPattern{URLPattern: "*://" + h + ":*/*", Block: true}
		}
		if _, err := chromedp.Call(tab, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
			return
		}
		sent = len(hosts)
	}
}

// blockableHost reports whether host can stand in a URL pattern as it
// is: a canonical name or IPv4 address, no IPv6 brackets or pattern
// syntax.
func blockableHost(host string) bool {
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return host != ""
}
