package netguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every test here stays on loopback. 127.0.0.1 is allowed by an exact /32;
// 127.0.0.2 is the same machine but refused, so a refusal is the policy's,
// never the network's.

const testTimeout = 5 * time.Second

func loopbackGuard(r Resolver) *Guard {
	return New(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, r, nil)
}

func startSession(t testing.TB, g *Guard, opts SessionOptions) *Session {
	t.Helper()
	s, err := g.NewSession(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// proxyClient is an http.Client whose only way out is s. It follows no
// redirects. base, if not nil, gives the TLS configuration.
func proxyClient(s *Session, base *http.Transport) *http.Client {
	var tr *http.Transport
	if base != nil {
		tr = base.Clone()
	} else {
		tr = &http.Transport{}
	}
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: s.Addr()})
	tr.DisableKeepAlives = true
	return &http.Client{
		Transport:     tr,
		Timeout:       testTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches u and reads its body.
func get(t *testing.T, c *http.Client, u string) (*http.Response, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func portOf(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// startServer serves h on 127.0.0.1, over TLS if tls, until the test ends.
func startServer(t testing.TB, tls bool, h http.Handler) *httptest.Server {
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func helloServer(t testing.TB, tls bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Proxy-Authorization"); v != "" {
			http.Error(w, "leaked Proxy-Authorization "+v, http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set(RefusedHeader, "a site posing as the proxy") // must not pass
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	})
	return startServer(t, tls, h)
}

func refusalsTo(rs []Refusal, target string, kind error) int {
	n := 0
	for _, r := range rs {
		if r.Target == target && errors.Is(r.Err, kind) {
			n++
		}
	}
	return n
}

func TestProxyPlainGET(t *testing.T) {
	srv := helloServer(t, false)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, nil)
	// With user info in the proxy URL the client sends Proxy-Authorization,
	// which must not reach the server.
	c.Transport.(*http.Transport).Proxy = http.ProxyURL(&url.URL{Scheme: "http", User: url.UserPassword("u", "p"), Host: s.Addr()})

	resp, body, err := get(t, c, srv.URL+"/x")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello from /x" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get(RefusedHeader) != "" {
		t.Errorf("%s set on a forwarded answer", RefusedHeader)
	}
	if _, _, err := get(t, c, srv.URL+"/y"); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Requests != 2 {
		t.Errorf("Requests = %d, want 2", st.Requests)
	}
	if want := int64(len("hello from /x") + len("hello from /y")); st.Bytes != want {
		t.Errorf("Bytes = %d, want %d", st.Bytes, want)
	}
	if st.BudgetExceeded || len(st.Blocked) != 0 || len(st.Failed) != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if err := s.HostError("127.0.0.1"); err != nil {
		t.Errorf("HostError(127.0.0.1) = %v", err)
	}
}

func TestProxyConnectTLS(t *testing.T) {
	srv := helloServer(t, true)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, srv.Client().Transport.(*http.Transport))
	resp, body, err := get(t, c, srv.URL+"/secure")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello from /secure" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	st := s.Stats()
	if st.Requests != 1 {
		t.Errorf("Requests = %d, want 1 (one tunnel)", st.Requests)
	}
	if st.Bytes <= int64(len(body)) {
		t.Errorf("Bytes = %d, want the whole TLS stream (> %d)", st.Bytes, len(body))
	}
}

func TestProxyRefusesForbiddenAddress(t *testing.T) {
	srv := helloServer(t, false)
	port := portOf(t, srv.URL)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, nil)

	tests := []struct {
		url    string
		target string
	}{
		{"http://127.0.0.2:" + port + "/", "127.0.0.2:" + port},
		{"http://0x7f.2:" + port + "/", "0x7f.2:" + port},
		{"http://2130706434:" + port + "/", "2130706434:" + port},
		{"http://[::1]:" + port + "/", "[::1]:" + port},
		{"http://[::ffff:127.0.0.2]:" + port + "/", "[::ffff:127.0.0.2]:" + port},
		{"http://localhost:" + port + "/", "localhost:" + port},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254:80"},
	}
	for _, tt := range tests {
		resp, body, err := get(t, c, tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 (%q)", tt.url, resp.StatusCode, body)
		}
		if h := resp.Header.Get(RefusedHeader); !strings.Contains(h, "forbidden address") {
			t.Errorf("%s: %s = %q", tt.url, RefusedHeader, h)
		}
		if n := refusalsTo(s.Stats().Blocked, tt.target, ErrForbidden); n != 1 {
			t.Errorf("%s: %d refusals of %s recorded, want 1; Blocked = %v", tt.url, n, tt.target, s.Stats().Blocked)
		}
	}
	for _, h := range []string{"127.0.0.2", "0x7f.2", "[::1]", "localhost"} {
		if err := s.HostError(h); !errors.Is(err, ErrForbidden) {
			t.Errorf("HostError(%q) = %v, want ErrForbidden", h, err)
		}
	}
	if err := s.HostError("127.0.0.1"); err != nil {
		t.Errorf("HostError(127.0.0.1) = %v, want nil", err)
	}
	if st := s.Stats(); st.Bytes != 0 || len(st.Failed) != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestProxyConnectRefused(t *testing.T) {
	srv := helloServer(t, true)
	port := portOf(t, srv.URL)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, srv.Client().Transport.(*http.Transport))

	if _, _, err := get(t, c, "https://127.0.0.2:"+port+"/"); err == nil {
		t.Fatal("CONNECT to 127.0.0.2 succeeded")
	}
	if n := refusalsTo(s.Stats().Blocked, "127.0.0.2:"+port, ErrForbidden); n != 1 {
		t.Errorf("Blocked = %v", s.Stats().Blocked)
	}

	// The same by hand, to see the answer.
	resp := rawRequest(t, s, "CONNECT 127.0.0.2:"+port+" HTTP/1.1\r\nHost: 127.0.0.2:"+port+"\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(RefusedHeader) == "" {
		t.Errorf("CONNECT 127.0.0.2: %d, %s = %q", resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader))
	}
	resp = rawRequest(t, s, "CONNECT [::1]:"+port+" HTTP/1.1\r\nHost: [::1]:"+port+"\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT [::1]: %d", resp.StatusCode)
	}
	resp = rawRequest(t, s, "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CONNECT without a port: %d, want 400", resp.StatusCode)
	}
	resp = rawRequest(t, s, "CONNECT 127.0.0.1:0 HTTP/1.1\r\nHost: 127.0.0.1:0\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CONNECT to port 0: %d, want 400", resp.StatusCode)
	}
	if n := len(s.Stats().Blocked); n != 3 {
		t.Errorf("%d refusals recorded, want 3: %v", n, s.Stats().Blocked)
	}
}

// rawRequest sends req to the proxy on a connection of its own and reads
// the answer's header.
func rawRequest(t *testing.T, s *Session, req string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestProxyPinsFirstAnswer(t *testing.T) {
	// Connection: close makes the proxy dial again for the second request,
	// so it must reuse the first answer rather than ask again.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "pinned")
	}))
	t.Cleanup(srv.Close)
	port := portOf(t, srv.URL)
	r := newFakeResolver()
	r.set("rebind.test", []string{"127.0.0.1"}, []string{"127.0.0.2"})
	s := startSession(t, loopbackGuard(r), SessionOptions{})
	c := proxyClient(s, nil)

	for i := range 3 {
		resp, body, err := get(t, c, "http://rebind.test:"+port+"/")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != "pinned" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// A raw CONNECT to the same name uses the same pin.
	resp := rawRequest(t, s, "CONNECT rebind.test:"+port+" HTTP/1.1\r\nHost: rebind.test:"+port+"\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("CONNECT rebind.test: %d", resp.StatusCode)
	}
	if n := r.count("rebind.test"); n != 1 {
		t.Errorf("rebind.test looked up %d times, want 1", n)
	}
	if st := s.Stats(); len(st.Blocked) != 0 || len(st.Failed) != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestProxyConcurrentLookupsShareOnePin(t *testing.T) {
	// Two lookups of a new name in flight together: the resolver would
	// answer each differently; they share one lookup and one pin.
	r := &barrierResolver{}
	g := New(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, r, nil)
	s := startSession(t, g, SessionOptions{})
	ctx := testContext(t)
	type result struct {
		addrs []netip.Addr
		err   error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			a, _, err := s.lookup(ctx, "race.test:80")
			results <- result{a, err}
		}()
	}
	a, b := <-results, <-results
	if a.err != nil || b.err != nil {
		t.Fatalf("lookups: %v, %v", a.err, b.err)
	}
	if len(a.addrs) != 1 || len(b.addrs) != 1 || a.addrs[0] != b.addrs[0] {
		t.Fatalf("concurrent lookups pinned different addresses: %v and %v", a.addrs, b.addrs)
	}
	c, _, err := s.lookup(ctx, "race.test:443")
	if err != nil || len(c) != 1 || c[0] != a.addrs[0] {
		t.Fatalf("later lookup = %v, %v; want %v", c, err, a.addrs)
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

// barrierResolver holds every lookup until two are in flight, then answers
// 127.0.0.n to the nth.
type barrierResolver struct {
	calls atomic.Int32
}

func (r *barrierResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	n := r.calls.Add(1)
	// Slow enough that both lookups are in flight together.
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, byte(n)})}, nil
}

func TestProxyForbiddenName(t *testing.T) {
	srv := helloServer(t, false)
	port := portOf(t, srv.URL)
	r := newFakeResolver()
	r.set("evil.test", []string{"127.0.0.2"})
	r.set("mixed.test", []string{"127.0.0.1", "127.0.0.2"})
	r.set("good.test", []string{"127.0.0.1"})
	s := startSession(t, loopbackGuard(r), SessionOptions{})
	c := proxyClient(s, nil)

	for _, host := range []string{"evil.test", "mixed.test", "EVIL.test"} {
		resp, _, err := get(t, c, "http://"+host+":"+port+"/")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get(RefusedHeader) == "" {
			t.Errorf("%s: %d, %s = %q", host, resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader))
		}
	}
	if resp, body, err := get(t, c, "http://good.test:"+port+"/ok"); err != nil || resp.StatusCode != http.StatusOK || string(body) != "hello from /ok" {
		t.Errorf("good.test: %v %v %q", resp, err, body)
	}
	if n := r.count("evil.test"); n != 1 {
		t.Errorf("evil.test looked up %d times, want 1 (refusals are remembered)", n)
	}
	if err := s.HostError("evil.test"); !errors.Is(err, ErrForbidden) {
		t.Errorf("HostError(evil.test) = %v", err)
	}
	if err := s.HostError("mixed.test"); !errors.Is(err, ErrForbidden) {
		t.Errorf("HostError(mixed.test) = %v", err)
	}
	if err := s.HostError("good.test"); err != nil {
		t.Errorf("HostError(good.test) = %v", err)
	}
	if got := len(s.Stats().Blocked); got != 3 {
		t.Errorf("%d refusals, want 3: %v", got, s.Stats().Blocked)
	}
}

func TestProxyDNSFailure(t *testing.T) {
	srv := helloServer(t, true)
	port := portOf(t, srv.URL)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, nil)

	resp, _, err := get(t, c, "http://nx.test:"+port+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(RefusedHeader) == "" {
		t.Errorf("status %d, %s = %q; want 502", resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader))
	}
	tc := proxyClient(s, srv.Client().Transport.(*http.Transport))
	if _, _, err := get(t, tc, "https://nx2.test:"+port+"/"); err == nil {
		t.Error("CONNECT to an unknown name succeeded")
	}
	st := s.Stats()
	if refusalsTo(st.Failed, "nx.test:"+port, ErrDNS) != 1 || refusalsTo(st.Failed, "nx2.test:"+port, ErrDNS) != 1 {
		t.Errorf("Failed = %v", st.Failed)
	}
	if len(st.Blocked) != 0 {
		t.Errorf("Blocked = %v", st.Blocked)
	}
	if err := s.HostError("nx.test"); !errors.Is(err, ErrDNS) {
		t.Errorf("HostError(nx.test) = %v", err)
	}
}

// TestProxySubresourceRefusedWithoutAnswer: a refused plain HTTP request
// for a sub-resource (a browser's Accept without text/html) gets its
// connection closed, a network error in the page, and is counted as
// refused all the same; a document, or a request without Accept, gets the
// proxy's answer with the reason.
func TestProxySubresourceRefusedWithoutAnswer(t *testing.T) {
	srv := helloServer(t, false)
	port := portOf(t, srv.URL)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	for _, tc := range []struct {
		host, accept string
		status       int // 0: closed without an answer
	}{
		{"nx.test", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", 0},
		{"nx.test", "*/*", 0},
		{"nx.test", "text/css,*/*;q=0.1", 0},
		{"127.0.0.2", "*/*", 0},
		{"nx.test", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", http.StatusBadGateway},
		{"127.0.0.2", "text/html,application/xhtml+xml", http.StatusForbidden},
		{"nx.test", "", http.StatusBadGateway},
	} {
		t.Run(tc.host+" "+tc.accept, func(t *testing.T) {
			req := "GET http://" + tc.host + ":" + port + "/x HTTP/1.1\r\nHost: " + tc.host + ":" + port + "\r\n"
			if tc.accept != "" {
				req += "Accept: " + tc.accept + "\r\n"
			}
			conn, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(testTimeout))
			if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			switch {
			case tc.status == 0 && err == nil:
				t.Errorf("answered %d, want the connection closed", resp.StatusCode)
			case tc.status == 0 && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("read: %v, want EOF", err)
			case tc.status != 0 && err != nil:
				t.Errorf("no answer: %v", err)
			case tc.status != 0 && (resp.StatusCode != tc.status || resp.Header.Get(RefusedHeader) == ""):
				t.Errorf("answered %d, %s = %q; want %d with the reason", resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader), tc.status)
			}
		})
	}
	st := s.Stats()
	if refusalsTo(st.Failed, "nx.test:"+port, ErrDNS) != 5 || refusalsTo(st.Blocked, "127.0.0.2:"+port, ErrForbidden) != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestProxyHostFailed: HostFailed hears of each host the session will not
// connect to, once, and of no other.
func TestProxyHostFailed(t *testing.T) {
	srv := helloServer(t, false)
	port := portOf(t, srv.URL)
	var mu sync.Mutex
	failed := map[string]int{}
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{HostFailed: func(host string) {
		mu.Lock()
		failed[host]++
		mu.Unlock()
	}})
	c := proxyClient(s, nil)
	// Told of a refused host asked for again, once; not of one asked for
	// once (nx2.test), nor of one that is not refused (127.0.0.1).
	for _, host := range []string{"nx.test", "127.0.0.2", "127.0.0.1", "nx2.test", "nx.test", "127.0.0.2", "127.0.0.1", "nx.test"} {
		if _, _, err := get(t, c, "http://"+host+":"+port+"/"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"nx.test": 1, "127.0.0.2": 1}; !maps.Equal(failed, want) {
		t.Errorf("HostFailed heard %v, want %v", failed, want)
	}
}

func TestProxyUnreachable(t *testing.T) {
	port := closedPort(t)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{DialTimeout: 2 * time.Second})
	c := proxyClient(s, nil)
	resp, _, err := get(t, c, "http://127.0.0.1:"+port+"/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	st := s.Stats()
	if len(st.Failed) != 1 || st.Failed[0].Target != "127.0.0.1:"+port || errors.Is(st.Failed[0].Err, ErrForbidden) {
		t.Errorf("Failed = %v", st.Failed)
	}
	if len(st.Blocked) != 0 {
		t.Errorf("Blocked = %v", st.Blocked)
	}
}

// bigServer sends size bytes with a Content-Length.
func bigServer(t *testing.T, tls bool, size int) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				return
			}
		}
	})
	return startServer(t, tls, h)
}

func TestProxyBudget(t *testing.T) {
	const budget, size = 1 << 20, 5 << 20
	srv := bigServer(t, false, size)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{MaxBytes: budget})
	c := proxyClient(s, nil)

	resp, body, err := get(t, c, srv.URL+"/big")
	if err == nil && len(body) == size {
		t.Fatalf("the whole %d bytes came through a %d budget", size, budget)
	}
	if resp != nil && resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
	st := s.Stats()
	select {
	case <-s.Exceeded():
	default:
		t.Error("Exceeded() not closed")
	}
	if !st.BudgetExceeded {
		t.Error("BudgetExceeded is false")
	}
	if st.Bytes <= budget || st.Bytes >= size {
		t.Errorf("Bytes = %d, want a little over %d", st.Bytes, budget)
	}
	resp, _, err = get(t, c, srv.URL+"/again")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get(RefusedHeader), "budget") {
		t.Errorf("after the budget: %d, %s = %q", resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader))
	}
	// A tunnel is refused too.
	resp = rawRequest(t, s, "CONNECT "+srv.Listener.Addr().String()+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT after the budget: %d", resp.StatusCode)
	}
}

func TestProxyBudgetTLS(t *testing.T) {
	const budget, size = 1 << 20, 5 << 20
	srv := bigServer(t, true, size)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{MaxBytes: budget})
	c := proxyClient(s, srv.Client().Transport.(*http.Transport))

	_, body, err := get(t, c, srv.URL+"/big")
	if err == nil && len(body) == size {
		t.Fatalf("the whole %d bytes came through a %d budget", size, budget)
	}
	st := s.Stats()
	if !st.BudgetExceeded {
		t.Error("BudgetExceeded is false")
	}
	if st.Bytes <= budget || st.Bytes >= size {
		t.Errorf("Bytes = %d, want a little over %d", st.Bytes, budget)
	}
	if _, _, err := get(t, c, srv.URL+"/again"); err == nil {
		t.Error("a tunnel was opened past the budget")
	}
	if st := s.Stats(); st.Requests != 2 {
		t.Errorf("Requests = %d, want 2", st.Requests)
	}
}

// streamServer writes a little every few milliseconds until the client
// goes away or the test ends.
func streamServer(t *testing.T, tls bool) *httptest.Server {
	stop := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := io.WriteString(w, "tick\n"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
	})
	srv := startServer(t, tls, h)
	t.Cleanup(func() { close(stop) }) // before srv.Close
	return srv
}

func TestProxyCloseCutsStream(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			srv := streamServer(t, tls)
			s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
			var base *http.Transport
			if tls {
				base = srv.Client().Transport.(*http.Transport)
			}
			c := proxyClient(s, base)
			c.Timeout = 0 // the stream is endless; the test bounds it below
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if line, err := br.ReadString('\n'); err != nil || line != "tick\n" {
				t.Fatalf("first line %q, %v", line, err)
			}

			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			read := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, br)
				read <- err
			}()
			select {
			case <-read:
			case <-time.After(2 * time.Second):
				t.Fatal("the stream went on after Close")
			}
			select {
			case <-closed:
			case <-time.After(2 * time.Second):
				t.Fatal("Close did not return")
			}
			if ctx.Err() != nil {
				t.Fatal("cut by the test's deadline, not by Close")
			}
		})
	}
}

func TestProxyCloseCutsSilentTunnel(t *testing.T) {
	// An upstream that accepts, reads to the end and never answers nor
	// closes: Close must still end the tunnel, both ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	upstream := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			upstream <- c
		}
	}()
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	resp := rawRequest(t, s, "CONNECT "+ln.Addr().String()+" HTTP/1.1\r\nHost: "+ln.Addr().String()+"\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	var up net.Conn
	select {
	case up = <-upstream:
		t.Cleanup(func() { up.Close() })
	case <-time.After(testTimeout):
		t.Fatal("no upstream connection")
	}

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
	s.mu.Lock()
	n := len(s.tunnels)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d tunnel connections left after Close", n)
	}
	// The proxy's end is closed: the upstream reads the end, and its
	// writes soon fail.
	up.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := up.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("upstream read = %v, want EOF", err)
	}
	var werr error
	for range 100 {
		if _, werr = up.Write([]byte("x")); werr != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if werr == nil {
		t.Error("upstream writes still succeed: the proxy's end of the tunnel is open")
	}
}

func TestProxyNonAbsolute(t *testing.T) {
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		"GET https://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		"GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	} {
		resp := rawRequest(t, s, req)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(RefusedHeader) == "" {
			t.Errorf("%q: %d, %s = %q", req, resp.StatusCode, RefusedHeader, resp.Header.Get(RefusedHeader))
		}
	}
}

func TestProxyRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, port, _ := net.SplitHostPort(r.Host)
		http.Redirect(w, r, "http://127.0.0.2:"+port+"/next", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, nil)

	resp, _, err := get(t, c, srv.URL+"/start")
	if err != nil {
		t.Fatal(err)
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc != "http://127.0.0.2:"+portOf(t, srv.URL)+"/next" {
		t.Fatalf("got %d Location %q; want the redirect itself", resp.StatusCode, loc)
	}
	if st := s.Stats(); len(st.Blocked) != 0 || st.Requests != 1 {
		t.Fatalf("the proxy followed the redirect: %+v", st)
	}
	resp, _, err = get(t, c, loc)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("following the redirect: %d, want 403", resp.StatusCode)
	}
	if hits.Load() != 1 {
		t.Errorf("server hit %d times, want 1", hits.Load())
	}
	if err := s.HostError("127.0.0.2"); !errors.Is(err, ErrForbidden) {
		t.Errorf("HostError(127.0.0.2) = %v", err)
	}
}

func TestProxyUpgrade(t *testing.T) {
	// A WebSocket-like upgrade in absolute form: the proxy passes the 101
	// and then the bytes both ways, counting the downloaded ones.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(conn, brw)
	}))
	t.Cleanup(srv.Close)
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})

	conn, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	host := srv.Listener.Addr().String()
	fmt.Fprintf(conn, "GET http://%s/ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", host, host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d (%s), want 101", resp.StatusCode, resp.Header.Get(RefusedHeader))
	}
	io.WriteString(conn, "ping")
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if b := s.Stats().Bytes; b != 4 {
		t.Errorf("Bytes = %d, want 4", b)
	}
}

func TestProxyStatsAreCopies(t *testing.T) {
	s := startSession(t, loopbackGuard(newFakeResolver()), SessionOptions{})
	c := proxyClient(s, nil)
	if _, _, err := get(t, c, "http://127.0.0.2:1/"); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if len(st.Blocked) != 1 {
		t.Fatalf("Blocked = %v", st.Blocked)
	}
	st.Blocked[0].Target = "changed"
	if s.Stats().Blocked[0].Target == "changed" {
		t.Error("Stats shares its slices with the session")
	}
}

func TestSessionCloseTwice(t *testing.T) {
	s, err := loopbackGuard(newFakeResolver()).NewSession(SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the proxy still listens after Close")
	}
}
