package pagerender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// pool runs Chromium: one long-lived browser at a time, pages in flight
// bounded by slots, each page in a fresh BrowserContext (an incognito
// profile of its own, with its own window so that it renders in front and
// its capture cannot hang, and its own proxy). A browser is replaced after
// recycleAfter pages (Chromium does not give memory back across pages) or
// when it dies; a retired browser finishes its pages first.
type pool struct {
	binary       string
	flags        []string
	recycleAfter int
	log          *slog.Logger

	slots   chan struct{} // pages loading
	closing chan struct{} // pages whose slot went back before their tabs closed

	mu     sync.Mutex
	cur    *instance
	closed bool
	all    sync.WaitGroup // browsers not yet stopped
}

// instance is one browser process.
type instance struct {
	ctx      context.Context // the browser's chromedp context
	stop     func()          // ends the browser and waits for its processes
	proc     *os.Process
	pages    int // pages started on it
	inflight int
	retired  bool
	stopped  sync.Once
}

// errCrashed marks a page lost with its browser.
var errCrashed = errors.New("the browser crashed")

// chromiumFlags are the flags every kiln browser runs with: headless on
// the CPU, nothing phoning home, nothing throttled (a capture of a
// throttled page can hang), no name resolution of its own, and no
// network but through a page's proxy: the default proxy is a closed port.
var chromiumFlags = map[string]any{
	"headless":                               true,
	"no-sandbox":                             true,
	"disable-gpu":                            true,
	"disable-quic":                           true,
	"no-first-run":                           true,
	"no-default-browser-check":               true,
	"disable-background-networking":          true,
	"disable-component-update":               true,
	"disable-sync":                           true,
	"disable-extensions":                     true,
	"disable-default-apps":                   true,
	"hide-scrollbars":                        true,
	"mute-audio":                             true,
	"disable-background-timer-throttling":    true,
	"disable-renderer-backgrounding":         true,
	"disable-backgrounding-occluded-windows": true,
	"disable-features":                       "Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,InterestFeedContentSuggestions,CalculateNativeWinOcclusion",
	"force-webrtc-ip-handling-policy":        "disable_non_proxied_udp",
	"webrtc-ip-handling-policy":              "disable_non_proxied_udp",
	"proxy-server":                           "http://127.0.0.1:9",
	"proxy-bypass-list":                      "<-loopback>",
	"host-resolver-rules":                    "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
	"disable-client-side-phishing-detection": true,
	"disable-domain-reliability":             true,
	"metrics-recording-only":                 true,
	"password-store":                         "basic",
	"use-mock-keychain":                      true,
}

// devShmRoom is the free space /dev/shm needs for Chromium to keep its
// shared memory there: the IPC buffers, bitmaps and tiles passed between
// renderers, GPU process and browser (at most 32 MiB with the 4 pages of
// bench/thumbs.sh in flight). Where /dev/shm is smaller, as Docker's
// 64 MiB is, pages crash, and Chromium is told to use files in the
// temporary directory instead (--disable-dev-shm-usage, which puppeteer
// passes everywhere). That directory is on disk on most machines, this
// one included: the shared memory then costs page faults on a journalled
// file system and write-back I/O. With /dev/shm the saved pages of
// bench/thumbs.sh, 4 at a time, took 8 % less Chromium CPU (0.402 against
// 0.436 CPU-s a page) and made 9 % more pages a second (4.16 against
// 3.83, faster in 10 rounds of 10, alternating).
const devShmRoom = 512 << 20

// browserFlags are chromiumFlags for a machine whose shared memory
// directory is shm.
func browserFlags(shm string) map[string]any {
	flags := maps.Clone(chromiumFlags)
	if !roomIn(shm, devShmRoom) {
		flags["disable-dev-shm-usage"] = true
	}
	return flags
}

// roomIn reports whether the file system of dir has need bytes free.
func roomIn(dir string, need uint64) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return uint64(st.Bavail)*uint64(st.Bsize) >= need
}

// Debian's two builds of Chromium, in order of preference.
// chromium-headless-shell is Chromium's own build for automation, without
// the browser's user interface: the same Blink and V8 (its captures are
// the same), at well under half the CPU per page of chromium --headless,
// which runs the whole browser with no window (bench/thumbs.sh measured
// 0.8 against 2.0 CPU-seconds per page).
var chromiumBinaries = []string{"/usr/bin/chromium-headless-shell", "/usr/bin/chromium"}

// DefaultChromium is the browser kiln runs when none is configured: the
// headless shell where it is installed, else chromium.
func DefaultChromium() string {
	for _, b := range chromiumBinaries {
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	return chromiumBinaries[len(chromiumBinaries)-1]
}

func newPool(binary string, flags []string, pages, recycleAfter int, log *slog.Logger) *pool {
	return &pool{binary: binary, flags: flags, recycleAfter: recycleAfter, log: log,
		slots: make(chan struct{}, pages), closing: make(chan struct{}, pages)}
}

// DefaultPages is how many pages are rendered at once by default: two per
// core (a page spends much of its time waiting on the network), at most
// one per 300 MiB of available memory, 1 to 16.
func DefaultPages() int {
	n := 2 * runtime.NumCPU()
	if avail := memAvailable(); avail > 0 {
		n = min(n, int(avail/(300<<20)))
	}
	return min(max(n, 1), 16)
}

func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// wait takes a page slot, waiting for one as long as ctx allows; release
// gives it back.
func (p *pool) wait(ctx context.Context) (release func(), err error) {
	select {
	case p.slots <- struct{}{}:
		return func() { <-p.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// done gives a page's slot back (release, from wait) once its tabs,
// counted in tabs, are closed; or at once if one of as many closing slots
// is free, so that the next page need not wait for a tab to close (tens of
// milliseconds on a busy browser, seconds on a hung one). Tabs loading and
// tabs closing are each bounded by the pages at once.
func (p *pool) done(release func(), tabs *sync.WaitGroup) {
	select {
	case p.closing <- struct{}{}:
		release()
		go func() {
			tabs.Wait()
			<-p.closing
		}()
	default:
		go func() {
			tabs.Wait()
			release()
		}()
	}
}

// tab is a browser tab of one page, in a BrowserContext of its own whose
// traffic goes through the page's proxy. It holds its browser (acquire)
// until it is closed.
type tab struct {
	inst   *instance
	ctx    context.Context // the tab's chromedp context
	cancel func()          // disposes of the tab and its BrowserContext
}

// open opens a tab on inst, which acquire returned, whose traffic goes
// through the proxy at proxyAddr; opening stops if ctx ends. On error
// inst is released.
func (p *pool) open(ctx context.Context, inst *instance, proxyAddr string) (*tab, error) {
	tctx, cancel := chromedp.NewContext(inst.ctx, chromedp.WithNewBrowserContext(func(params *target.CreateBrowserContextParams) {
		params.ProxyServer = "http://" + proxyAddr
		params.ProxyBypassList = "<-loopback>"
	}))
	if err := openTab(ctx, tctx, cancel); err != nil {
		err = p.failed(inst, err)
		go func() {
			cancel()
			p.release(inst)
		}()
		return nil, err
	}
	return &tab{inst: inst, ctx: tctx, cancel: cancel}, nil
}

// failed is err, a page's on inst; if the browser died of it, errCrashed,
// and the browser is retired.
func (p *pool) failed(inst *instance, err error) error {
	if inst.alive() {
		return err
	}
	p.retire(inst)
	return fmt.Errorf("%w: %w", errCrashed, err)
}

// usable reports whether t can still load a page: its browser runs and
// the tab was not closed.
func (t *tab) usable() bool { return t.ctx.Err() == nil && t.inst.alive() }

// run runs fn in t; fn's context ends with ctx. An error of a page whose
// browser died is errCrashed.
func (p *pool) run(ctx context.Context, t *tab, fn func(tab context.Context) error) error {
	// The page's work ends with ctx, the tab's context only once the tab
	// is closed (dispose).
	work, stopWork := context.WithCancel(t.ctx)
	stop := context.AfterFunc(ctx, stopWork)
	err := fn(work)
	stop()
	stopWork()
	if err != nil {
		return p.failed(t.inst, err)
	}
	return nil
}

// dispose closes t in the background, releases its browser, then calls
// closed: closing a tab can take seconds on a busy or hung browser, which
// a page's answer does not wait for.
func (p *pool) dispose(t *tab, closed func()) {
	go func() {
		closeTab(t.ctx)
		t.cancel()
		p.release(t.inst)
		closed()
	}()
}

// openTab opens tab, and answers its dialogs until it is closed: alert,
// confirm, prompt and beforeunload are accepted at once (off the event
// goroutine: a listener may not send commands). The tab is cancelled if
// ctx ends first.
func openTab(ctx, tab context.Context, cancel func()) error {
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	if err := chromedp.Do(tab); err != nil {
		return fmt.Errorf("opening a tab: %w", err)
	}
	return chromedp.Listen(tab, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
}

// tabClose bounds the close of a tab.
const tabClose = 5 * time.Second

// closeTab closes tab's page and waits until chromedp has read the tab's
// last event, before the tab's context may end. chromedp stops reading a
// tab's events when its context ends, but the browser goes on sending
// them until the tab is detached; once 1024 are queued (a page that logs
// or downloads without end), chromedp's connection to the browser blocks
// on the queue and every page of the browser hangs.
func closeTab(tab context.Context) {
	c := chromedp.FromContext(tab)
	detached, err := chromedp.Detached(tab)
	if err != nil || c == nil || c.Browser == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tabClose)
	defer cancel()
	if _, err := cdp.Call(ctx, c.Browser, target.CloseTarget, target.CloseTargetParams{TargetID: c.Target.TargetID}); err != nil {
		return
	}
	select {
	case <-detached:
	case <-ctx.Done():
	}
}

// acquire returns the browser to open a page in, starting one if needed;
// page or release releases it.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("page renderer closed")
	}
	if p.cur != nil && (p.cur.retired || !p.cur.alive()) {
		p.retireLocked(p.cur)
	}
	if p.cur == nil {
		inst, err := p.start(ctx)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.cur = inst
	}
	inst := p.cur
	inst.pages++
	inst.inflight++
	if p.recycleAfter > 0 && inst.pages >= p.recycleAfter {
		inst.retired = true
	}
	p.mu.Unlock()
	return inst, nil
}

func (p *pool) release(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst.inflight--
	if inst.retired && inst.inflight == 0 {
		if p.cur == inst {
			p.cur = nil
		}
		inst.shutdown(p)
	}
}

func (p *pool) retire(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retireLocked(inst)
}

func (p *pool) retireLocked(inst *instance) {
	inst.retired = true
	if p.cur == inst {
		p.cur = nil
	}
	if inst.inflight == 0 || !inst.alive() {
		inst.shutdown(p)
	}
}

// browserStart bounds the start of a browser.
const browserStart = 30 * time.Second

// start launches a browser. Called with p.mu held: pages wait for it.
func (p *pool) start(ctx context.Context) (*instance, error) {
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(p.binary)}
	for name, v := range browserFlags("/dev/shm") {
		opts = append(opts, chromedp.Flag(name, v))
	}
	for _, f := range p.flags {
		name, v, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, v))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	timer := time.NewTimer(browserStart)
	defer timer.Stop()
	var err error
	select {
	case err = <-started:
	case <-timer.C:
		err = fmt.Errorf("no answer in %v", browserStart)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cancelBrowser()
		cancelAlloc()
		return nil, fmt.Errorf("%w: starting Chromium (%s): %w", ErrNoBrowser, p.binary, err)
	}
	inst := &instance{ctx: bctx, stop: func() { cancelBrowser(); cancelAlloc() }}
	if b := chromedp.FromContext(bctx).Browser; b != nil {
		inst.proc = b.Process()
	}
	p.all.Add(1)
	p.log.Info("browser started", "pid", inst.pid(), "binary", p.binary)
	return inst, nil
}

// alive reports whether the browser process still runs.
func (inst *instance) alive() bool {
	if inst.ctx.Err() != nil {
		return false
	}
	return inst.proc == nil || inst.proc.Signal(syscall.Signal(0)) == nil
}

func (inst *instance) pid() int {
	if inst.proc == nil {
		return 0
	}
	return inst.proc.Pid
}

// shutdown stops the browser in the background: chromedp waits for its
// processes and removes its profile.
func (inst *instance) shutdown(p *pool) {
	inst.stopped.Do(func() {
		p.log.Info("browser stopped", "pid", inst.pid(), "pages", inst.pages)
		go func() {
			defer p.all.Done()
			inst.stop()
		}()
	})
}

// close stops every browser and waits for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	if p.cur != nil {
		p.cur.retired = true
		p.cur.shutdown(p)
		p.cur = nil
	}
	p.mu.Unlock()
	p.all.Wait()
}
