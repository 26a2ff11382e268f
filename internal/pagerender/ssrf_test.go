package pagerender

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"kiln/internal/netguard"
)

// noHits fails the test if the forbidden server was reached since before.
func (f *fixture) noHits(t *testing.T, before int64) {
	t.Helper()
	// A connection may be accepted just after the page ends.
	time.Sleep(50 * time.Millisecond)
	if n := f.evil.hits.Load() - before; n != 0 {
		t.Errorf("the forbidden server on 127.0.0.2 was reached %d times", n)
	}
}

// TestForbiddenNavigation: a page whose URL, or a redirect of it, leads
// to a forbidden address fails with ErrForbidden and reaches nothing.
func TestForbiddenNavigation(t *testing.T) {
	f := setup(t)
	p := f.evil.port
	tests := []struct{ name, url string }{
		{"address", "http://127.0.0.2:" + p + "/"},
		{"decimal", "http://2130706434:" + p + "/"},
		{"hex", "http://0x7f000002:" + p + "/"},
		{"octal", "http://0177.0.0.2:" + p + "/"},
		{"short", "http://127.2:" + p + "/"},
		{"mapped IPv6", "http://[::ffff:127.0.0.2]:" + p + "/"},
		{"mapped IPv6 hex", "http://[::ffff:7f00:2]:" + p + "/"},
		{"IPv6 loopback", "http://[::1]:" + p + "/"},
		{"localhost", "http://localhost:" + p + "/"},
		{"name", "http://evil.test:" + p + "/"},
		{"name upper case", "http://EVIL.test.:" + p + "/"},
		{"name with a forbidden address among others", "http://mixed.test:" + p + "/"},
		{"https", "https://127.0.0.2:" + p + "/"},
		{"no scheme", "127.0.0.2:" + p + "/"},
		{"redirect", f.url("/redirect-evil")},
		{"redirect to a name", f.url("/redirect-evil-name")},
		{"redirect to a decimal address", f.url("/redirect-evil-decimal")},
		{"redirect to https", f.url("/redirect-evil-https")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.evil.hits.Load()
			c, err, d := capture(t, f.r, Job{URL: tc.url})
			if !errors.Is(err, ErrForbidden) || kindOf(err) != "forbidden" {
				t.Errorf("%s: %v (kind %q), capture %v; want ErrForbidden", tc.url, err, kindOf(err), c != nil)
			}
			if errors.Is(err, ErrFailed) {
				t.Errorf("%s: a forbidden page is also ErrFailed", tc.url)
			}
			if d > testTimeout {
				t.Errorf("%s: took %v", tc.url, d)
			}
			f.noHits(t, before)
		})
	}
}

// TestRebinding: a name that answers a public address at the check and
// the forbidden one later gains nothing: the guard keeps the answer it
// checked and the proxy dials that address, so the page goes to the
// public address (unreachable here) and never to the forbidden one.
func TestRebinding(t *testing.T) {
	f := setup(t)
	f.resolver.mu.Lock()
	f.resolver.seen = nil
	f.resolver.mu.Unlock()
	before := f.evil.hits.Load()
	_, err, _ := capture(t, f.r, Job{URL: "http://rebind.test:" + f.evil.port + "/?rebind"})
	if err == nil {
		t.Errorf("rebinding name captured: it reached the forbidden server")
	}
	f.resolver.mu.Lock()
	if n := f.resolver.seen["rebind.test"]; n != 1 {
		t.Errorf("rebind.test resolved %d times, want once: the checked answer is the one used", n)
	}
	f.resolver.mu.Unlock()
	f.noHits(t, before)
}

// TestForbiddenSubresources: a page on an allowed server whose image,
// frame, style sheet, fetch, XHR, WebSocket and beacon go to the forbidden
// server is captured, and none of them gets there.
func TestForbiddenSubresources(t *testing.T) {
	f := setup(t)
	for _, by := range []string{"address", "name"} {
		t.Run(by, func(t *testing.T) {
			before := f.evil.hits.Load()
			c := mustCapture(t, f.r, Job{URL: f.url("/sub-evil?by=" + by)})
			if c.Status != 200 || c.Title != "kiln sub" {
				t.Errorf("status %d, title %q", c.Status, c.Title)
			}
			checkPixels(t, c.Image, []pixel{px(100, 100, blue)})
			host := "127.0.0.2:" + f.evil.port
			if by == "name" {
				host = "evil.test:" + f.evil.port
			}
			if !slices.Contains(c.Blocked, host) {
				t.Errorf("blocked %v, want %s among them", c.Blocked, host)
			}
			f.noHits(t, before)
		})
	}
}

// TestNothingAllowed: with the default policy (public addresses only) the
// test site on 127.0.0.1 is out of reach by address, by name, and by a
// name that rebinds to it.
func TestNothingAllowed(t *testing.T) {
	t.Parallel() // a renderer of its own
	f := setup(t)
	lo := netip.MustParseAddr("127.0.0.1")
	res := &fakeResolver{
		names:  map[string][]netip.Addr{"good.test": {lo}},
		rebind: map[string][2]netip.Addr{"rebind.test": {netip.MustParseAddr("93.184.216.34"), lo}},
	}
	r := New(netguard.New(netguard.Policy{}, res, testLog()), Options{Pages: 1, Timeout: testTimeout, Log: testLog()})
	defer r.Close()
	for _, u := range []string{
		"http://127.0.0.1:" + f.port + "/?noallow=1",
		"http://good.test:" + f.port + "/?noallow=2",
		"http://rebind.test:" + f.port + "/?noallow=3",
	} {
		_, err, _ := capture(t, r, Job{URL: u})
		// The rebinding name keeps its checked, public answer: it fails to
		// connect there rather than being refused.
		if !errors.Is(err, ErrForbidden) && !(strings.Contains(u, "rebind") && err != nil) {
			t.Errorf("%s: %v, want ErrForbidden", u, err)
		}
		if i := strings.Index(u, "/?"); f.count(u[i:]) != 0 {
			t.Errorf("%s: the site was reached", u)
		}
	}
}
