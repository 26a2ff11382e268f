package pagerender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// recorder is a slog handler that keeps the records' messages and
// attributes, for the tests that follow the browsers the pool starts.
type recorder struct {
	mu   sync.Mutex
	recs []record
}

type record struct {
	msg   string
	attrs map[string]string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	a := map[string]string{}
	rec.Attrs(func(at slog.Attr) bool {
		a[at.Key] = at.Value.String()
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, record{rec.Message, a})
	r.mu.Unlock()
	return nil
}

// pids are the "pid" attributes of the records with message msg.
func (r *recorder) pids(msg string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, rec := range r.recs {
		if rec.msg == msg {
			n, _ := strconv.Atoi(rec.attrs["pid"])
			out = append(out, n)
		}
	}
	return out
}

func (r *recorder) has(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.msg == msg {
			return true
		}
	}
	return false
}

// browserPid is the pid of the renderer's current browser, 0 if none.
func browserPid(r *Renderer) int {
	r.pool.mu.Lock()
	defer r.pool.mu.Unlock()
	if r.pool.cur == nil {
		return 0
	}
	return r.pool.cur.pid()
}

// proc is a process as /proc shows it.
type proc struct {
	pid, ppid int
	state     byte
	start     string // start time, to tell a reused pid
	cmdline   string
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid ... starttime is field 22.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return proc{}, false
	}
	p := proc{pid: pid, state: f[0][0], start: f[19]}
	p.ppid, _ = strconv.Atoi(f[1])
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.cmdline = string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
	return p, true
}

func allProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := readProc(pid); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// browserTree is the browser process root and every process of it: its
// descendants, and the processes that share its profile directory
// (Chromium gives every child --user-data-dir).
func browserTree(root int) []proc {
	procs := allProcs()
	r, ok := readProc(root)
	if !ok {
		return nil
	}
	dir := ""
	for _, arg := range strings.Fields(r.cmdline) {
		if v, ok := strings.CutPrefix(arg, "--user-data-dir="); ok {
			dir = v
		}
	}
	in := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, p := range procs {
			if !in[p.pid] && (in[p.ppid] || dir != "" && strings.Contains(p.cmdline, "--user-data-dir="+dir)) {
				in[p.pid] = true
				changed = true
			}
		}
	}
	var out []proc
	for _, p := range procs {
		if in[p.pid] {
			out = append(out, p)
		}
	}
	return out
}

// leftovers are the processes of procs still there (the same process:
// same pid and start time), zombies included, after waiting up to d.
func leftovers(procs []proc, d time.Duration) []proc {
	deadline := time.Now().Add(d)
	for {
		var left []proc
		for _, p := range procs {
			if now, ok := readProc(p.pid); ok && now.start == p.start {
				left = append(left, now)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zombieChildren are this process's children that exited and are still
// not reaped after d.
func zombieChildren(d time.Duration) []proc {
	deadline := time.Now().Add(d)
	for {
		var out []proc
		for _, p := range allProcs() {
			if p.ppid == os.Getpid() && p.state == 'Z' {
				out = append(out, p)
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConcurrentCaptures: more pages at once than the renderer loads; the
// ones that wait for a slot still get their whole deadline.
func TestConcurrentCaptures(t *testing.T) {
	f := setup(t)
	// Each page takes 1s on the server and more in the browser: with 2 at
	// once, the last two start more than 2s in, and end after more than
	// one Timeout from the start: their deadline must start when they do.
	r := f.with(func(o *Options) { o.Timeout = 6 * time.Second })
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := r.Capture(ctx, Job{URL: f.url(fmt.Sprintf("/delay?d=1s&i=%d&t=%d", i, start.UnixNano()))})
			if err == nil && c.Title != "kiln simple" {
				err = fmt.Errorf("title %q", c.Title)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("page %d: %v", i, err)
		}
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("%d pages of 1s took %v with 2 at once", n, d)
	} else {
		t.Logf("%d pages of 1s took %v with 2 at once", n, d)
	}
}

// TestRecycle: a browser is replaced after RecycleAfter pages, and no page
// fails for it.
func TestRecycle(t *testing.T) {
	t.Parallel() // a renderer of its own
	f := setup(t)
	rec := &recorder{}
	r := New(f.guard, Options{Pages: 2, RecycleAfter: 3, Timeout: 10 * time.Second, Log: slog.New(rec)})
	defer r.Close()
	var pids []int
	for i := range 5 {
		var wg sync.WaitGroup
		// Two at once now and then, so that a browser retires with a page
		// in flight.
		for j := range 1 + i%2 {
			wg.Go(func() {
				if c := mustCapture(t, r, Job{URL: f.url(fmt.Sprintf("/?recycle=%d.%d", i, j))}); c.Title != "kiln simple" {
					t.Errorf("title %q", c.Title)
				}
			})
		}
		wg.Wait()
		if pid := browserPid(r); pid != 0 && (len(pids) == 0 || pids[len(pids)-1] != pid) {
			pids = append(pids, pid)
		}
	}
	started := rec.pids("browser started")
	// 7 pages, 3 per browser: 3 browsers.
	if len(started) != 3 {
		t.Errorf("browsers started: %v, want 3", started)
	}
	seen := map[int]bool{}
	for _, pid := range started {
		if seen[pid] || pid == 0 {
			t.Errorf("browser pids %v", started)
		}
		seen[pid] = true
	}
	// The retired ones are stopped (in the background).
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.pids("browser stopped")) < len(started)-1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if stopped := rec.pids("browser stopped"); len(stopped) != len(started)-1 {
		t.Errorf("browsers stopped: %v of %v", stopped, started)
	}
	var retired []proc
	for _, pid := range started[:len(started)-1] {
		if p, ok := readProc(pid); ok {
			retired = append(retired, p)
		}
	}
	for _, p := range leftovers(retired, 5*time.Second) {
		t.Errorf("retired browser %d still runs: %c %.120s", p.pid, p.state, p.cmdline)
	}
}

// TestClose: Close stops every browser process, children included, and
// leaves no zombie.
func TestClose(t *testing.T) {
	t.Parallel() // a renderer of its own
	f := setup(t)
	r := New(f.guard, Options{Pages: 2, Timeout: 10 * time.Second, Log: testLog()})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { mustCapture(t, r, Job{URL: f.url(fmt.Sprintf("/?close=%d", i))}) })
	}
	wg.Wait()
	pid := browserPid(r)
	if pid == 0 {
		t.Fatal("no browser")
	}
	tree := browserTree(pid)
	if len(tree) < 3 {
		t.Errorf("browser %d has %d processes: %v", pid, len(tree), tree)
	}
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	if left := leftovers(tree, 3*time.Second); len(left) > 0 {
		for _, p := range left {
			t.Errorf("left after Close: %d (%c, parent %d) %.120s", p.pid, p.state, p.ppid, p.cmdline)
		}
	}
	if z := zombieChildren(3 * time.Second); len(z) > 0 {
		t.Errorf("zombies: %v", z)
	}
	// A closed renderer refuses pages.
	if _, err, _ := capture(t, r, Job{URL: f.url("/")}); err == nil {
		t.Error("a closed renderer captured a page")
	}
	r.Close() // twice is fine
}

// TestCrash: the browser killed while a page loads: the page fails as
// crashed, or is tried again on a new browser, within its deadline; the
// next page gets a new browser.
func TestCrash(t *testing.T) {
	t.Parallel() // a renderer of its own
	f := setup(t)
	const timeout = 10 * time.Second
	r := New(f.guard, Options{Pages: 2, Timeout: timeout, Log: testLog()})
	defer r.Close()
	mustCapture(t, r, Job{URL: f.url("/?crash=warm")})
	for i, when := range []string{"document", "settle", "twice"} {
		t.Run(when, func(t *testing.T) {
			pid := browserPid(r)
			if pid == 0 {
				t.Fatal("no browser")
			}
			tree := browserTree(pid)
			// document: killed while the server holds the document (which
			// it answers the second time); settle: while the page waits
			// for an image that never comes (the first time); twice: the
			// browser of the second try killed too.
			q := fmt.Sprintf("crash=%d&t=%d", i, time.Now().UnixNano())
			path, wait := "/slow?"+q, "/slow?"+q
			switch when {
			case "settle":
				path, wait = "/hold-img-once?"+q, "/hang-once.png?"+q
			case "twice":
				path, wait = "/hang?"+q, "/hang?"+q
			}
			type result struct {
				c   *Capture
				err error
				d   time.Duration
			}
			done := make(chan result, 1)
			go func() {
				c, err, d := capture(t, r, Job{URL: f.url(path)})
				done <- result{c, err, d}
			}()
			select {
			case <-f.seen(wait):
			case <-time.After(timeout):
				t.Fatal("the page never reached the server")
			}
			time.Sleep(200 * time.Millisecond)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if when == "twice" {
				for deadline := time.Now().Add(timeout); f.count(wait) < 2; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the page was not tried again")
					}
				}
				again := browserPid(r)
				tree = append(tree, browserTree(again)...)
				if again == 0 || again == pid {
					t.Fatalf("tried again on browser %d", again)
				}
				if err := syscall.Kill(again, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			res := <-done
			t.Logf("after the crash: %v (kind %q) in %v", res.err, kindOf(res.err), res.d)
			if res.d > timeout+2*time.Second {
				t.Errorf("took %v, deadline %v", res.d, timeout)
			}
			switch {
			case when == "twice":
				if !errors.Is(res.err, ErrFailed) || kindOf(res.err) != "crashed" {
					t.Errorf("%v (kind %q), want crashed", res.err, kindOf(res.err))
				}
			case res.err == nil:
				// Tried again on a new browser.
				if browserPid(r) == pid {
					t.Error("captured on the killed browser")
				}
			case kindOf(res.err) != "crashed":
				t.Errorf("%v (kind %q), want crashed or a capture", res.err, kindOf(res.err))
			}
			c := mustCapture(t, r, Job{URL: f.url(fmt.Sprintf("/?crash=after%d", i))})
			if c.Title != "kiln simple" {
				t.Errorf("after: %q", c.Title)
			}
			if now := browserPid(r); now == pid || now == 0 {
				t.Errorf("browser %d after the crash of %d", now, pid)
			}
			if left := leftovers(tree, 3*time.Second); len(left) > 0 {
				for _, p := range left {
					t.Errorf("left of the killed browser: %d (%c, parent %d) %.120s", p.pid, p.state, p.ppid, p.cmdline)
				}
			}
		})
	}
}

// TestEventBacklog: a page that floods the browser connection with
// events is captured, and a tab whose events pile up unread when it
// closes (a console flood with the Runtime domain on again, which the
// renderer turns off) does not block the connection: the pages after it
// load.
func TestEventBacklog(t *testing.T) {
	f := setup(t)
	if c := mustCapture(t, f.r, Job{URL: f.url("/flood?for=1s")}); c.Title != "kiln flood" {
		t.Errorf("flood: title %q", c.Title)
	}
	r := f.with(func(o *Options) { o.Timeout = shortTimeout })
	r.prepared = func(tab context.Context) {
		if _, err := chromedp.Call(tab, runtime.Enable, cdp.Empty{}); err != nil {
			t.Error(err)
		}
	}
	// Captured or not in time: either is fine, but in time.
	_, err, d := capture(t, r, Job{URL: f.url("/flood?for=1m")})
	if d > shortTimeout+2*time.Second {
		t.Errorf("flood: %v in %v", err, d)
	}
	if c := mustCapture(t, f.r, Job{URL: f.url("/?backlog")}); c.Title != "kiln simple" {
		t.Errorf("after: title %q", c.Title)
	}
}

// TestSpareTab: after a page, a tab is opened ahead for the next one; the
// next page loads in it, and another is opened in a BrowserContext of its
// own. Close closes the spare with the browser.
func TestSpareTab(t *testing.T) {
	t.Parallel() // a renderer of its own
	f := setup(t)
	r := New(f.guard, Options{Pages: 1, Timeout: 10 * time.Second, Log: testLog()})
	defer r.Close()
	spare := func() *pageTab {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r.spare.mu.Lock()
			t0 := r.spare.tab
			r.spare.mu.Unlock()
			if t0 != nil || time.Now().After(deadline) {
				return t0
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mustCapture(t, r, Job{URL: f.url("/?spare=1")})
	first := spare()
	if first == nil {
		t.Fatal("no spare tab after a page")
	}
	var used cdp.BrowserContextID
	r.prepared = func(tab context.Context) { used = chromedp.FromContext(tab).BrowserContextID }
	if c := mustCapture(t, r, Job{URL: f.url("/?spare=2")}); c.Title != "kiln simple" {
		t.Errorf("title %q", c.Title)
	}
	if want := chromedp.FromContext(first.ctx).BrowserContextID; used != want {
		t.Errorf("page loaded in BrowserContext %q, the spare's is %q", used, want)
	}
	next := spare()
	if next == nil || next == first {
		t.Fatal("no new spare tab after the spare was taken")
	}
	if id := chromedp.FromContext(next.ctx).BrowserContextID; id == used {
		t.Errorf("the new spare shares BrowserContext %q with the page before", id)
	}
	select {
	case <-first.ctx.Done(): // the used tab is closed
	case <-time.After(10 * time.Second):
		t.Error("the used spare tab is still open")
	}
}

// TestSlotBackBeforeTabsClose: a page's slot goes back as soon as the page
// is done while a closing slot is free; past that, only once its tabs
// close: tabs loading and tabs closing are each bounded.
func TestSlotBackBeforeTabsClose(t *testing.T) {
	p := newPool("", nil, 1, 0, testLog())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitSlot := func(within time.Duration) func() {
		c, stop := context.WithTimeout(ctx, within)
		defer stop()
		release, err := p.wait(c)
		if err != nil {
			return nil
		}
		return release
	}
	var first, second sync.WaitGroup
	first.Add(1)
	p.done(waitSlot(time.Second), &first) // its tab still closing
	release := waitSlot(100 * time.Millisecond)
	if release == nil {
		t.Fatal("the slot did not go back while the first page's tab closed")
	}
	second.Add(1)
	p.done(release, &second) // no closing slot left: kept until closed
	if waitSlot(100*time.Millisecond) != nil {
		t.Fatal("a third page got a slot with two tabs still open and one closing slot")
	}
	second.Done()
	release = waitSlot(time.Second)
	if release == nil {
		t.Fatal("the slot did not go back once the tab closed")
	}
	release()
	first.Done()
}

func TestRoomIn(t *testing.T) {
	t.Parallel() // no browser
	tests := []struct {
		dir  string
		need uint64
		want bool
	}{
		{t.TempDir(), 1, true},
		{t.TempDir(), 1 << 62, false}, // no disk is that big
		{filepath.Join(t.TempDir(), "missing"), 1, false},
	}
	for _, tc := range tests {
		if got := roomIn(tc.dir, tc.need); got != tc.want {
			t.Errorf("roomIn(%s, %d) = %v, want %v", tc.dir, tc.need, got, tc.want)
		}
	}
}

// TestBrowserFlags: --disable-dev-shm-usage only where the shared memory
// directory lacks room, the other flags either way.
func TestBrowserFlags(t *testing.T) {
	t.Parallel() // no browser
	for _, tc := range []struct {
		shm     string
		flagged bool
	}{
		{t.TempDir(), false}, // room to spare
		{filepath.Join(t.TempDir(), "missing"), true},
	} {
		flags := browserFlags(tc.shm)
		if _, flagged := flags["disable-dev-shm-usage"]; flagged != tc.flagged {
			t.Errorf("%s: --disable-dev-shm-usage %v, want %v", tc.shm, flagged, tc.flagged)
		}
		if flags["proxy-server"] != chromiumFlags["proxy-server"] || len(flags) < len(chromiumFlags) {
			t.Errorf("%s: flags %v lost some of %v", tc.shm, flags, chromiumFlags)
		}
	}
	if _, ok := chromiumFlags["disable-dev-shm-usage"]; ok {
		t.Error("browserFlags changed chromiumFlags")
	}
}

// TestSharedMemory: the browser kiln starts has the flags browserFlags
// gives for /dev/shm.
func TestSharedMemory(t *testing.T) {
	f := setup(t)
	mustCapture(t, f.r, Job{URL: f.url("/?shm=1")})
	flagged := false
	found := false
	for _, p := range browserTree(browserPid(f.r)) {
		if !strings.Contains(p.cmdline, "--user-data-dir=") || strings.Contains(p.cmdline, "--type=") {
			continue // not the browser process
		}
		found = true
		flagged = strings.Contains(p.cmdline, "--disable-dev-shm-usage")
	}
	if !found {
		t.Fatal("no browser process")
	}
	if want := !roomIn("/dev/shm", devShmRoom); flagged != want {
		t.Errorf("--disable-dev-shm-usage %v, want %v (/dev/shm has room: %v)", flagged, want, !want)
	}
}
