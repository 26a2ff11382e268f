package pagerender

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// TestFaults: every way a page can fail gives a *PageError of the right
// kind within the deadline, and the renderer goes on capturing.
func TestFaults(t *testing.T) {
	f := setup(t)
	tls := "https://good.test:" + f.tlsPort
	tests := []struct {
		name string
		url  string
		kind string // "" for a capture
		// For a capture: whether it is partial, and its title.
		partial bool
		title   string
		// The deadline, when not the shared renderer's.
		timeout time.Duration
		// Whether a good page is captured right after: after the faults
		// that could leave the browser in a bad way. All are followed by
		// one at the end.
		after bool
	}{
		// Content but no load event (an image that never comes): what
		// there is, at the deadline less the time kept for the capture.
		{name: "load event never fires", url: f.url("/hold-img"), partial: true, title: "kiln held", timeout: 5 * time.Second, after: true},
		{name: "headers never come", url: f.url("/hang"), kind: "timeout", timeout: shortTimeout, after: true},
		{name: "script never ends", url: f.url("/spin"), kind: "timeout", timeout: shortTimeout, after: true},
		{name: "infinite redirects", url: f.url("/loop"), kind: "redirects"},
		{name: "huge page", url: f.url("/huge"), kind: "too_large", after: true},
		{name: "huge script", url: f.url("/huge-script"), kind: "too_large", after: true},
		{name: "huge download after the load event", url: f.url("/huge-late"), kind: "too_large", after: true},
		{name: "dialogs and beforeunload", url: f.url("/alert"), title: "kiln alerted", after: true},
		{name: "pdf", url: f.url("/pdf"), kind: "not_a_page", after: true},
		{name: "zip attachment", url: f.url("/zip"), kind: "not_a_page", after: true},
		{name: "octet-stream", url: f.url("/bin"), kind: "not_a_page", after: true},
		{name: "json", url: f.url("/json"), kind: "not_a_page"},
		// An image is a page Chromium shows (on a dark background): it is
		// captured like one.
		{name: "image", url: f.url("/png"), title: "png (64×64)"},
		{name: "404", url: f.url("/404"), kind: "http_status"},
		// The header of the proxy's refusals, sent by the site itself.
		{name: "site's refusal header", url: f.url("/fake-refusal"), title: "kiln fake refusal"},
		{name: "site's refusal header, 403", url: f.url("/fake-refusal?status=403"), kind: "http_status"},
		{name: "500", url: f.url("/500"), kind: "http_status"},
		{name: "self-signed certificate", url: tls + "/", kind: "tls"},
		{name: "redirect to a bad certificate", url: f.url("/redirect-tls"), kind: "tls"},
		{name: "unknown name", url: "http://nowhere.test:" + f.port + "/", kind: "dns"},
		{name: "redirect to an unknown name", url: f.url("/redirect-nowhere"), kind: "dns"},
		{name: "redirect to an unknown name, https", url: f.url("/redirect-nowhere-https"), kind: "dns"},
		{name: "redirect to a closed port", url: f.url("/redirect-closed"), kind: "navigation"},
		{name: "redirect to a closed port, https", url: f.url("/redirect-closed-https"), kind: "navigation"},
	}
	// Two at a time, the renderer's Pages: the deadlines overlap, and no
	// page waits for a slot, which the elapsed times would count.
	lanes := make(chan struct{}, f.r.opts.Pages)
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				lanes <- struct{}{}
				defer func() { <-lanes }()
				r := f.r
				if tc.timeout > 0 {
					r = f.with(func(o *Options) { o.Timeout = tc.timeout })
				}
				c, err, d := capture(t, r, Job{URL: tc.url})
				if d > r.opts.Timeout+2*time.Second {
					t.Errorf("took %v, deadline %v", d, r.opts.Timeout)
				}
				switch {
				case tc.kind == "" && err != nil:
					t.Errorf("%v (kind %q), want a capture", err, kindOf(err))
				case tc.kind == "":
					if c.Partial != tc.partial || c.Title != tc.title || c.Status != 200 {
						t.Errorf("partial %v, title %q, status %d; want partial %v, title %q", c.Partial, c.Title, c.Status, tc.partial, tc.title)
					}
				case err == nil:
					t.Errorf("captured (status %d, title %q), want a %s failure", c.Status, c.Title, tc.kind)
				default:
					var pe *PageError
					if !errors.As(err, &pe) || pe.Kind != tc.kind || !errors.Is(err, ErrFailed) {
						t.Errorf("%v (kind %q), want a PageError of kind %s", err, kindOf(err), tc.kind)
					} else if pe.Reason == "" {
						t.Error("no reason")
					}
				}
				t.Logf("%v (kind %q) in %v", err, kindOf(err), d)
				if tc.after {
					if c := mustCapture(t, f.r, Job{URL: f.url("/?after=" + url.QueryEscape(tc.name))}); c.Title != "kiln simple" {
						t.Errorf("after: title %q", c.Title)
					}
				}
			})
		}
	})
	// The renderer still works.
	if c := mustCapture(t, f.r, Job{URL: f.url("/?after=faults")}); c.Title != "kiln simple" {
		t.Errorf("after the faults: title %q", c.Title)
	}
}
