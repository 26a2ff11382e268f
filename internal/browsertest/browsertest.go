// Package browsertest starts the real headless Chromium for tests of what
// a browser sees: the web page's map, later the thumbnail UI. Each call
// gets a browser of its own with a fresh profile, stopped when the test
// ends; hosts other than loopback do not resolve, so a page that reaches
// out fails fast instead of hanging.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Binary is Debian's chromium, which scripts/test installs.
const Binary = "/usr/bin/chromium"

// Require skips the test when Chromium is missing (or fails it where
// scripts/test installed it) and returns the binary.
func Require(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		// As with the other packages the tests drive: scripts/test installs
		// it and sets KILN_REQUIRE_INTEROP, so CI never skips.
		if os.Getenv("KILN_REQUIRE_INTEROP") == "1" {
			t.Fatalf("the page tests need Chromium: %v", err)
		}
		t.Skipf("no Chromium (%v); scripts/test installs it", err)
	}
	return Binary
}

// New returns a browser tab's context, cancelled when the test ends or
// after timeout.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	Require(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Binary),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// WebGL (for MapLibre GL) on the CPU, as there is no GPU.
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}
