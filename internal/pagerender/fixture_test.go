package pagerender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kiln/internal/browsertest"
	"kiln/internal/netguard"
)

// The tests drive the real Chromium. Everything is local: the test sites
// listen on 127.0.0.1, which the guard allows, and the forbidden server on
// 127.0.0.2, loopback too but forbidden; a fake resolver gives the pages
// names (Chromium resolves nothing itself: every name goes through the
// page's proxy, and so through the resolver).

// testTimeout is the shared renderer's page deadline, ample for the pages
// that load even on a busy machine; shortTimeout is the deadline of the
// tests of pages that never load.
const (
	testTimeout  = 10 * time.Second
	shortTimeout = 3 * time.Second
)

// fakeResolver answers names from a map; a name not in it does not exist.
// A name in rebind answers its first address once, then its second.
type fakeResolver struct {
	names map[string][]netip.Addr

	mu     sync.Mutex
	rebind map[string][2]netip.Addr
	seen   map[string]int
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.rebind[host]; ok {
		if f.seen == nil {
			f.seen = map[string]int{}
		}
		f.seen[host]++
		if f.seen[host] == 1 {
			return []netip.Addr{r[0]}, nil
		}
		return []netip.Addr{r[1]}, nil
	}
	if a, ok := f.names[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// forbiddenServer is a server on 127.0.0.2 that counts every connection
// made to it, whatever its protocol: the tests expect none.
type forbiddenServer struct {
	ln   net.Listener
	port string
	hits atomic.Int64
	srv  *http.Server
}

type countingListener struct {
	net.Listener
	hits *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.hits.Add(1)
	}
	return c, err
}

func startForbidden() (*forbiddenServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return nil, err
	}
	f := &forbiddenServer{ln: ln}
	_, f.port, _ = net.SplitHostPort(ln.Addr().String())
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>SECRET</title><body style='background:#f0f'>internal secret")
	})}
	go f.srv.Serve(countingListener{ln, &f.hits})
	return f, nil
}

// fixture is what the tests share: the sites, the guard, one renderer.
type fixture struct {
	site     *httptest.Server // on 127.0.0.1
	port     string           // site's port
	tls      *httptest.Server // self-signed, on 127.0.0.1
	tlsPort  string
	evil     *forbiddenServer
	resolver *fakeResolver
	guard    *netguard.Guard
	r        *Renderer

	quit   chan struct{} // releases the requests the sites hold
	counts sync.Map      // request URI → *atomic.Int64: requests the site saw
	marks  sync.Map      // request URI → *mark: closed at the first request
}

var shared struct {
	once sync.Once
	f    *fixture
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.f != nil {
		shared.f.close()
	}
	os.Exit(code)
}

// testLog is where the renderers log: nowhere, unless KILN_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("KILN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// setup returns the shared fixture, skipping the test without Chromium.
func setup(t testing.TB) *fixture {
	t.Helper()
	browsertest.Require(t)
	shared.once.Do(func() { shared.f, shared.err = newFixture() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.f
}

func newFixture() (*fixture, error) {
	f := &fixture{quit: make(chan struct{})}
	var err error
	if f.evil, err = startForbidden(); err != nil {
		return nil, fmt.Errorf("a server on 127.0.0.2: %w", err)
	}
	f.site = httptest.NewServer(f.handler())
	_, f.port, _ = net.SplitHostPort(f.site.Listener.Addr().String())
	f.tls = httptest.NewTLSServer(f.handler())
	_, f.tlsPort, _ = net.SplitHostPort(f.tls.Listener.Addr().String())
	lo, evil := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	f.resolver = &fakeResolver{
		names: map[string][]netip.Addr{
			"good.test":  {lo},
			"other.test": {lo},
			"evil.test":  {evil},
			"mixed.test": {lo, evil},
		},
		// Public at the check, then the forbidden address: DNS rebinding.
		rebind: map[string][2]netip.Addr{
			"rebind.test": {netip.MustParseAddr("93.184.216.34"), evil},
		},
	}
	f.guard = netguard.New(netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, f.resolver, testLog())
	f.r = New(f.guard, Options{Pages: 2, Timeout: testTimeout, MaxBytes: 8 << 20, Log: testLog()})
	return f, nil
}

func (f *fixture) close() {
	close(f.quit)
	f.r.Close()
	f.site.Close()
	f.tls.Close()
	f.evil.srv.Close()
}

// url is a URL of the plain site by name (good.test) or by address.
func (f *fixture) url(path string) string { return "http://good.test:" + f.port + path }

// evilURL is a URL of the forbidden server with host (an address in any
// form, or a name).
func (f *fixture) evilURL(host, path string) string {
	return "http://" + net.JoinHostPort(host, f.evil.port) + path
}

// count is how many requests the site saw for uri (path and query).
func (f *fixture) count(uri string) int64 {
	v, _ := f.counts.LoadOrStore(uri, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

type mark struct {
	once sync.Once
	ch   chan struct{}
}

func (f *fixture) markOf(uri string) *mark {
	v, _ := f.marks.LoadOrStore(uri, &mark{ch: make(chan struct{})})
	return v.(*mark)
}

// seen is closed when the site first sees a request for uri.
func (f *fixture) seen(uri string) <-chan struct{} { return f.markOf(uri).ch }

// hold blocks a handler until the client goes or the tests end.
func (f *fixture) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.quit:
	}
}

// html writes an HTML page.
func html(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, format, args...)
}

// The test pages: blocks of known colours at known places, no text where
// pixels are compared (fonts differ between machines).
const (
	simplePage = `<!doctype html><html><head><title>kiln simple</title>
<style>html,body{margin:0;background:#fff}div{position:absolute}</style></head>
<body><div style="left:100px;top:200px;width:300px;height:150px;background:rgb(200,40,30)"></div>
<div style="left:600px;top:400px;width:200px;height:100px;background:rgb(30,120,200)"></div>
<div style="left:0;top:700px;width:1024px;height:68px;background:rgb(40,160,60)"></div></body></html>`
	tallPage = `<!doctype html><html><head><title>kiln tall</title>
<style>html,body{margin:0;background:#fff}div{position:absolute;left:0;width:1024px}</style></head>
<body style="height:3000px"><div style="top:0;height:100px;background:rgb(200,40,30)"></div>
<div style="top:1500px;height:100px;background:rgb(30,120,200)"></div>
<div style="top:2900px;height:100px;background:rgb(40,160,60)"></div></body></html>`
	// goldenPage is the page of the golden thumbnail: blocks and stripes.
	goldenPage = `<!doctype html><html><head><title>kiln golden</title>
<style>html,body{margin:0;background:#fafafa}div{position:absolute}</style></head>
<body><div style="left:0;top:0;width:1024px;height:96px;background:#1e3c78"></div>
<div style="left:48px;top:140px;width:420px;height:300px;background:#c8281e"></div>
<div style="left:520px;top:140px;width:456px;height:140px;background:#28a03c"></div>
<div style="left:520px;top:300px;width:456px;height:140px;background:#f0c814"></div>
<div style="left:48px;top:480px;width:928px;height:8px;background:#000"></div>
<div style="left:48px;top:520px;width:928px;height:4px;background:#000"></div>
<div style="left:48px;top:560px;width:928px;height:2px;background:#000"></div>
<div style="left:48px;top:600px;width:928px;height:120px;background:linear-gradient(to right,#000,#fff)"></div>
</body></html>`
)

func (f *fixture) handler() http.Handler {
	mux := http.NewServeMux()
	evil := func(path string) string { return f.evilURL("127.0.0.2", path) }
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		html(w, "%s", simplePage)
	})
	mux.HandleFunc("/tall", func(w http.ResponseWriter, r *http.Request) { html(w, "%s", tallPage) })
	mux.HandleFunc("/golden", func(w http.ResponseWriter, r *http.Request) { html(w, "%s", goldenPage) })
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		html(w, "<!doctype html><title>kiln text</title><h1>Hello</h1><p>%s</p>", strings.Repeat("Some words of text. ", 200))
	})
	// A dead host asked for two images at once and, 60 ms after the second
	// failed, 30 more (half on the default port) and a live image whose
	// query names the dead host: the page's renderer fails the 30 itself.
	mux.HandleFunc("/dead-later", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln dead later</title><body style="background:#0a0">
<img src="http://nx.test/first.png" width=10 height=10><img src="http://nx.test:%[1]s/second.png" width=10 height=10 onerror="setTimeout(late, 60)">
<script>function late() { for (let i = 0; i < 30; i++) { const im = new Image(); im.src = (i %% 2 ? "http://nx.test:%[1]s/late" : "http://nx.test/late") + i + ".png"; document.body.appendChild(im) }
const live = new Image(); live.src = "/png?u=http://nx.test/x.png"; live.style = "position:absolute;left:200px;top:200px;width:100px;height:100px"; document.body.appendChild(live) }</script>`, f.port)
	})
	mux.HandleFunc("/blank", func(w http.ResponseWriter, r *http.Request) {
		html(w, "<!doctype html><title>nothing</title><body style='background:#fff'>")
	})

	// SSRF: a redirect and every kind of sub-resource to the forbidden
	// server, by address and by name.
	mux.HandleFunc("/redirect-evil", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil("/"), http.StatusFound)
	})
	mux.HandleFunc("/redirect-evil-name", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, f.evilURL("evil.test", "/"), http.StatusFound)
	})
	mux.HandleFunc("/redirect-evil-decimal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, f.evilURL("2130706434", "/"), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/redirect-evil-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+net.JoinHostPort("127.0.0.2", f.evil.port)+"/", http.StatusFound)
	})
	mux.HandleFunc("/sub-evil", func(w http.ResponseWriter, r *http.Request) {
		// by=name uses evil.test, else the address.
		host := "127.0.0.2"
		if r.URL.Query().Get("by") == "name" {
			host = "evil.test"
		}
		u := func(path string) string { return f.evilURL(host, path) }
		html(w, `<!doctype html><html><head><title>kiln sub</title>
<link rel="stylesheet" href="%[1]s">
<style>html,body{margin:0;background:#fff}</style></head>
<body><div style="width:200px;height:200px;background:rgb(30,120,200)"></div>
<img src="%[2]s" width=10 height=10>
<iframe src="%[3]s" width=100 height=100></iframe>
<script>
fetch(%[4]q, {mode: "no-cors"}).catch(() => {});
try { new WebSocket(%[5]q).onerror = () => {}; } catch (e) {}
try { navigator.sendBeacon(%[6]q, "x"); } catch (e) {}
var x = new XMLHttpRequest(); x.open("GET", %[7]q); x.onerror = () => {}; x.send();
</script></body></html>`,
			u("/style.css"), u("/x.png"), u("/frame"), u("/fetch"),
			"ws://"+net.JoinHostPort(host, f.evil.port)+"/ws", u("/beacon"), u("/xhr"))
	})

	// Faults.
	mux.HandleFunc("/hold-img", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln held</title><body style="margin:0;background:#fff">
<div style="width:400px;height:300px;background:rgb(200,40,30)"></div><img src="/hang.png?%s">`, r.URL.RawQuery)
	})
	mux.HandleFunc("/hang.png", func(w http.ResponseWriter, r *http.Request) { f.hold(r) })
	// hold-img-once: the image hangs the first time only.
	mux.HandleFunc("/hold-img-once", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln held once</title><body style="margin:0;background:#fff">
<div style="width:400px;height:300px;background:rgb(200,40,30)"></div><img src="/hang-once.png?%s">`, r.URL.RawQuery)
	})
	mux.HandleFunc("/hang-once.png", func(w http.ResponseWriter, r *http.Request) {
		if f.count(r.URL.RequestURI()) == 1 {
			f.hold(r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(redPNG())
	})
	// Pages whose sub-resources exceed the budget, before the load event
	// and after it.
	mux.HandleFunc("/huge-script", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln huge script</title><script src="/huge.js"></script>`)
	})
	mux.HandleFunc("/huge-late", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln huge late</title><body>
<script>addEventListener("load", () => fetch("/huge.js").then(r => r.arrayBuffer()).catch(() => {}));</script>`)
	})
	mux.HandleFunc("/huge.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for sent := 0; sent < 100<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { f.hold(r) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop?n="+fmt.Sprint(time.Now().UnixNano()), http.StatusFound)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>kiln huge</title><body>")
		line := []byte("<p>" + strings.Repeat("huge page ", 100) + "</p>\n")
		for sent := 0; sent < 100<<20; sent += len(line) {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/alert", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln alert</title><body style="margin:0;background:#fff">
<div style="width:400px;height:300px;background:rgb(200,40,30)"></div>
<script>
addEventListener("beforeunload", e => { e.preventDefault(); e.returnValue = "stay"; return "stay"; });
addEventListener("load", () => { alert("hello"); confirm("sure?"); prompt("name?"); document.title = "kiln alerted"; });
</script>`)
	})
	mux.HandleFunc("/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		io.WriteString(w, minimalPDF)
	})
	mux.HandleFunc("/zip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="x.zip"`)
		w.Write([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	})
	mux.HandleFunc("/bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte(strings.Repeat("\x00\x01\x02binary", 100)))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"a": 1}`)
	})
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(redPNG())
	})
	// Answers that carry the header of the proxy's refusals: the site's
	// own, not a refusal.
	mux.HandleFunc("/fake-refusal", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(netguard.RefusedHeader, "forbidden address: made up")
		if r.URL.Query().Get("status") == "403" {
			w.WriteHeader(http.StatusForbidden)
		}
		io.WriteString(w, "<!doctype html><title>kiln fake refusal</title><h1>Hello</h1>")
	})
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!doctype html><title>not found</title><h1>Not found</h1>")
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "<!doctype html><title>oops</title><h1>Server error</h1>")
	})
	// slow: the first request for a URI waits until the client goes, the
	// later ones answer at once (the crash test kills the browser during
	// the first).
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		if f.count(r.URL.RequestURI()) == 1 {
			f.hold(r)
			return
		}
		html(w, "%s", simplePage)
	})

	mux.HandleFunc("/delay", func(w http.ResponseWriter, r *http.Request) {
		if !delay(r) {
			return
		}
		html(w, "%s", simplePage)
	})
	mux.HandleFunc("/redirect-nowhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://nowhere.test:"+f.port+"/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-nowhere-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://nowhere.test:"+f.tlsPort+"/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-closed", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://good.test:"+closedPort()+"/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-closed-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://good.test:"+closedPort()+"/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-tls", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://good.test:"+f.tlsPort+"/", http.StatusFound)
	})
	// flood: a page that sends events (console messages, requests) from
	// its load event for a while (?for=1s).
	mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("for"))
		html(w, `<!doctype html><title>kiln flood</title><body style="margin:0;background:#fff">
<div style="width:400px;height:300px;background:rgb(200,40,30)"></div>
<script>
var end = Date.now() + %d;
addEventListener("load", () => { var t = setInterval(() => {
	for (let i = 0; i < 100; i++) console.log("flood", i);
	fetch("/blank?flood=" + Math.random()).catch(() => {});
	if (Date.now() > end) clearInterval(t);
}, 5); });
</script>`, d.Milliseconds())
	})
	mux.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		html(w, "<!doctype html><title>kiln spin</title><script>for (;;) {}</script>")
	})

	// settle: after the load event, an image that takes a while, a frame
	// from another site (loaded in a process of its own), and requests
	// whose answers Chromium's opaque response blocking stops.
	mux.HandleFunc("/settle", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln settle</title><body style="margin:0;background:#fff">
<iframe src="http://other.test:%[1]s/" style="position:absolute;left:600px;top:0;border:0" width=300 height=200></iframe>
<img id=late style="position:absolute;left:100px;top:300px;width:200px;height:200px">
<script>
addEventListener("load", () => {
	document.getElementById("late").src = "/late.png?d=800ms";
	fetch("http://127.0.0.2:%[2]s/f", {mode: "no-cors"}).catch(() => {});
	fetch("http://other.test:%[1]s/plain403", {mode: "no-cors"}).catch(() => {});
});
</script>`, f.port, f.evil.port)
	})
	// What a page does only once it is seen: a lazy image in view (slow
	// to come), and boxes painted from animation frames, one asked for
	// while the page parses and one after its load event. A slow
	// cross-site frame, which the page's own network events do not show,
	// holds the load event for longer than the settle's quiet.
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln seen</title><body style="margin:0;background:#fff">
<img loading=lazy src="/late.png?d=200ms" style="position:absolute;left:0;top:0;width:200px;height:200px">
<div id=parsing style="position:absolute;left:300px;top:0;width:200px;height:200px"></div>
<div id=loaded style="position:absolute;left:600px;top:0;width:200px;height:200px"></div>
<script>
requestAnimationFrame(() => { document.getElementById("parsing").style.background = "rgb(0,0,255)" });
addEventListener("load", () => requestAnimationFrame(() => { document.getElementById("loaded").style.background = "rgb(0,160,0)" }));
</script>
<iframe src="http://other.test:%s/late.png?d=700ms" width=10 height=10 style="position:absolute;left:900px;top:300px;border:0"></iframe>`, f.port)
	})
	// chain: after the load event the page asks for data, then works on
	// it, in tasks of 50 ms, for longer than the settle's quiet before it
	// asks for the image the data names. Settled, the page shows the image.
	mux.HandleFunc("/chain", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln chain</title><body style="margin:0;background:#fff">
<img id=chained style="position:absolute;left:100px;top:100px;width:200px;height:200px">
<script>
function work(tasks, then) {
	const until = Date.now() + 50;
	while (Date.now() < until) {}
	setTimeout(tasks > 1 ? () => work(tasks - 1, then) : then);
}
addEventListener("load", () => fetch("/late.json?d=100ms").then(r => r.json()).then(data =>
	work(6, () => { document.getElementById("chained").src = data.src })));
</script>`)
	})
	// no-frames: a page whose script breaks requestAnimationFrame, which
	// the settle asks the page through; a late image.
	mux.HandleFunc("/no-frames", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>kiln no frames</title><body style="margin:0;background:#fff">
<img src="/late.png?d=100ms" style="position:absolute;left:100px;top:100px;width:200px;height:200px">
<script>window.requestAnimationFrame = () => { throw new Error("no frames here") }</script>`)
	})
	mux.HandleFunc("/late.json", func(w http.ResponseWriter, r *http.Request) {
		if !delay(r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"src": "/late.png?d=150ms"}`)
	})
	mux.HandleFunc("/late.png", func(w http.ResponseWriter, r *http.Request) {
		if !delay(r) {
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(redPNG())
	})
	mux.HandleFunc("/plain403", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "not for you\n")
	})
	// Isolation: what the page saw of earlier pages, in its title.
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "srv", Value: "1", Path: "/", MaxAge: 3600})
		html(w, `<!doctype html><title>pending</title><body>
<script>
var seen = "cookie=" + document.cookie + ";ls=" + (localStorage.getItem("k") || "") +
  ";ss=" + (sessionStorage.getItem("k") || "") + ";header=%s";
document.cookie = "js=1; max-age=3600; path=/";
localStorage.setItem("k", "v");
sessionStorage.setItem("k", "v");
document.title = seen;
</script>`, r.Header.Get("Cookie"))
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := f.counts.LoadOrStore(r.URL.RequestURI(), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		m := f.markOf(r.URL.RequestURI())
		m.once.Do(func() { close(m.ch) })
		mux.ServeHTTP(w, r)
	})
}

// closedPort is a port on 127.0.0.1 that nothing listens on.
func closedPort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "1"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// redPNG is a 64x64 image of pure red.
func redPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		if i%4 == 0 || i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// minimalPDF is a valid one-page PDF.
const minimalPDF = "%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n" +
	"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
	"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n" +
	"trailer<</Root 1 0 R>>\n%%EOF\n"

// capture runs one capture with a test deadline above the renderer's own.
func capture(t testing.TB, r *Renderer, job Job) (*Capture, error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout+20*time.Second)
	defer cancel()
	start := time.Now()
	c, err := r.Capture(ctx, job)
	return c, err, time.Since(start)
}

// mustCapture captures job's page, failing the test on an error.
func mustCapture(t testing.TB, r *Renderer, job Job) *Capture {
	t.Helper()
	c, err, _ := capture(t, r, job)
	if err != nil {
		t.Fatalf("capture of %s: %v", job.URL, err)
	}
	return c
}

// kindOf is err's PageError kind, or "" when it is none.
func kindOf(err error) string {
	var pe *PageError
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return ""
}

// delay waits the duration in r's parameter d, and reports whether r is
// still wanted then.
func delay(r *http.Request) bool {
	d, _ := time.ParseDuration(r.URL.Query().Get("d"))
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}
