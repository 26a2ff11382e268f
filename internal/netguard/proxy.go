package netguard

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SessionOptions bound one page's traffic. Zero values take the defaults.
type SessionOptions struct {
	MaxBytes    int64         // bytes the page may download; 32 MiB
	MaxConns    int           // connections open at once; 64
	DialTimeout time.Duration // per connection attempt; 10s
	// HostFailed, if set, is called once for each host the session will
	// not connect to (its name does not resolve or the policy forbids
	// it) when the host is asked for a second time. The answer is pinned
	// for the session, so every later request to the host fails the same
	// way; most refused hosts are asked for once.
	HostFailed func(host string)
}

// Refusal is a host the session refused or could not reach.
type Refusal struct {
	Target string // host:port
	Err    error
}

// Stats is what a session saw.
type Stats struct {
	Requests       int   // plain HTTP requests and CONNECT tunnels
	Bytes          int64 // bytes downloaded
	BudgetExceeded bool
	Blocked        []Refusal // refused by the policy
	Failed         []Refusal // unresolvable or unreachable
}

// RefusedHeader is set on the proxy's own error answers; a browser shows
// it on the document of a refused navigation.
const RefusedHeader = "X-Kiln-Refused"

// Session is one page's forward proxy on 127.0.0.1: plain HTTP requests in
// absolute form and CONNECT tunnels for TLS and WebSockets.
type Session struct {
	g         *Guard
	opts      SessionOptions
	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	rp        *httputil.ReverseProxy
	conns     chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc

	bytes    atomic.Int64
	requests atomic.Int64
	over     chan struct{} // closed when the page exceeds its budget
	overOnce sync.Once

	mu      sync.Mutex
	hosts   map[string]hostResult // resolved once per session: pinned
	blocked []Refusal
	failed  []Refusal
	tunnels map[net.Conn]struct{}
	closed  bool
	done    sync.WaitGroup // the server
	piping  sync.WaitGroup // tunnels, added to under mu while !closed
}

type hostResult struct {
	addrs []netip.Addr
	err   error
	// refusals counts the requests refused for err; HostFailed hears of
	// the host at the second.
	refusals int
}

// NewSession starts a proxy session.
func (g *Guard) NewSession(opts SessionOptions) (*Session, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 32 << 20
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("page proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errLog := slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)
	s := &Session{
		g: g, opts: opts, ln: ln, ctx: ctx, cancel: cancel,
		conns:   make(chan struct{}, opts.MaxConns),
		over:    make(chan struct{}),
		hosts:   map[string]hostResult{},
		tunnels: map[net.Conn]struct{}{},
	}
	s.transport = &http.Transport{
		Proxy:                 nil, // never the environment's proxy
		DialContext:           s.dial,
		DisableCompression:    true, // bytes pass as the server sent them
		MaxIdleConnsPerHost:   6,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   opts.DialTimeout,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	s.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = pr.In.URL
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("Proxy-Authorization")
		},
		Transport:      s.transport,
		ModifyResponse: s.meter,
		ErrorHandler:   s.proxyError,
		ErrorLog:       errLog,
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the proxy's host:port.
func (s *Session) Addr() string { return s.ln.Addr().String() }

// Close stops the proxy and cuts every connection of the page.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.tunnels {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	err := s.srv.Close()
	s.transport.CloseIdleConnections()
	s.done.Wait()
	s.piping.Wait()
	return err
}

// Stats returns what the session saw so far.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Requests:       int(s.requests.Load()),
		Bytes:          s.bytes.Load(),
		BudgetExceeded: s.exceeded(),
		Blocked:        append([]Refusal(nil), s.blocked...),
		Failed:         append([]Refusal(nil), s.failed...),
	}
}

// Exceeded is closed when the page has downloaded more than its budget
// and the proxy has cut it off.
func (s *Session) Exceeded() <-chan struct{} { return s.over }

func (s *Session) exceeded() bool {
	select {
	case <-s.over:
		return true
	default:
		return false
	}
}

// HostError is why host was refused or unreachable, nil if it was not.
func (s *Session) HostError(host string) error {
	h, err := CanonicalHost(host)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hosts[h].err
}

func (s *Session) serve(w http.ResponseWriter, r *http.Request) {
	select {
	case s.conns <- struct{}{}:
		defer func() { <-s.conns }()
	case <-r.Context().Done():
		return
	}
	s.requests.Add(1)
	if r.Method == http.MethodConnect {
		s.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || (r.URL.Scheme != "http") {
		s.refuse(w, r, http.StatusBadRequest, "kiln's page proxy takes absolute http URLs and CONNECT only")
		return
	}
	if s.exceeded() {
		s.refuse(w, r, http.StatusForbidden, "the page exceeded its download budget")
		return
	}
	// A host that does not resolve or may not be reached is refused here,
	// before the reverse proxy sets a connection attempt going for it: most
	// of a page's requests to dead hosts end here. The transport's dial
	// finds the same answer, pinned.
	if _, _, err := s.lookup(r.Context(), net.JoinHostPort(r.URL.Hostname(), cmp.Or(r.URL.Port(), "80"))); err != nil {
		s.proxyError(w, r, err)
		return
	}
	s.rp.ServeHTTP(w, r)
}

// lookup resolves and checks host once per session; later connections use
// the same addresses, so a rebinding name cannot change them.
func (s *Session) lookup(ctx context.Context, hostport string) ([]netip.Addr, string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q: %v", ErrBadURL, hostport, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, "", fmt.Errorf("%w: bad port in %q", ErrBadURL, hostport)
	}
	host, err = CanonicalHost(host)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	res, ok := s.hosts[host]
	s.mu.Unlock()
	if !ok {
		addrs, err := s.g.Resolve(ctx, host)
		if err != nil && ctx.Err() != nil {
			return nil, "", err // cancelled: not the host's fault, not remembered
		}
		s.mu.Lock()
		first, answered := s.hosts[host]
		if answered {
			res = first // a concurrent lookup answered first: its answer is the pin
		} else {
			res = hostResult{addrs: addrs, err: err}
			s.hosts[host] = res
		}
		s.mu.Unlock()
	}
	if res.err != nil {
		if s.refused(host, hostport, res.err) == 2 && s.opts.HostFailed != nil {
			s.opts.HostFailed(host)
		}
		return nil, "", res.err
	}
	return res.addrs, port, nil
}

// refused records a request to target refused for host's pinned answer
// err, and returns how many have been for host.
func (s *Session) refused(host, target string, err error) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.hosts[host]
	res.refusals++
	s.hosts[host] = res
	s.recordLocked(target, err)
	return res.refusals
}

func (s *Session) record(target string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(target, err)
}

func (s *Session) recordLocked(target string, err error) {
	r := Refusal{Target: target, Err: err}
	if errors.Is(err, ErrForbidden) {
		s.blocked = append(s.blocked, r)
		s.g.log.Debug("page request refused", "target", target, "err", err)
	} else {
		s.failed = append(s.failed, r)
	}
}

// dial connects to a checked address of hostport.
func (s *Session) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	// http.Transport dials with a context detached from the request's, so
	// the session's own is joined here: Close stops lookups and dials.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	addrs, port, err := s.lookup(ctx, hostport)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: s.opts.DialTimeout}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	err = fmt.Errorf("connecting to %s: %w", hostport, errors.Join(errs...))
	if ctx.Err() == nil {
		s.record(hostport, err)
	}
	return nil, err
}

// tunnel answers CONNECT: a byte pipe to a checked address.
func (s *Session) tunnel(w http.ResponseWriter, r *http.Request) {
	if s.exceeded() {
		s.refuse(w, r, http.StatusForbidden, "the page exceeded its download budget")
		return
	}
	up, err := s.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		s.proxyError(w, r, err)
		return
	}
	defer up.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.refuse(w, r, http.StatusInternalServerError, "cannot tunnel")
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer down.Close()
	// Both ends are the session's: Close cuts them, so a tunnel to a server
	// that never speaks does not outlive the page.
	if !s.track(down, up) {
		return
	}
	defer s.untrack(down, up)
	down.SetDeadline(time.Time{})
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(up, readerOf(buf.Reader, down))
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	_, err = io.Copy(down, &meteredReader{r: up, s: s})
	if errors.Is(err, errBudget) {
		up.Close()
	}
	down.Close()
	wg.Wait()
}

// readerOf is what the client sent after the CONNECT header, then the rest.
func readerOf(buf *bufio.Reader, c net.Conn) io.Reader {
	if buf.Buffered() > 0 {
		return io.MultiReader(io.LimitReader(buf, int64(buf.Buffered())), c)
	}
	return c
}

func (s *Session) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	for _, c := range cs {
		s.tunnels[c] = struct{}{}
	}
	s.piping.Add(1)
	return true
}

func (s *Session) untrack(cs ...net.Conn) {
	s.mu.Lock()
	for _, c := range cs {
		delete(s.tunnels, c)
	}
	s.mu.Unlock()
	s.piping.Done()
}

// meter counts a response's body against the page's budget.
func (s *Session) meter(resp *http.Response) error {
	// Only the proxy's own answers may carry its refusal header: a site
	// must not pass itself off as refused.
	resp.Header.Del(RefusedHeader)
	m := meteredReader{r: resp.Body, s: s}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket in absolute form): ReverseProxy
		// needs to write to it too.
		resp.Body = &meteredConn{m, rwc}
		return nil
	}
	resp.Body = &meteredBody{m, resp.Body}
	return nil
}

var errBudget = errors.New("download budget exceeded")

// meteredReader counts bytes downloaded; past the budget it fails.
type meteredReader struct {
	r io.Reader
	s *Session
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.s.exceeded() {
		return 0, errBudget
	}
	n, err := m.r.Read(p)
	if m.s.bytes.Add(int64(n)) > m.s.opts.MaxBytes {
		m.s.overOnce.Do(func() { close(m.s.over) })
		return n, errBudget
	}
	return n, err
}

type meteredBody struct {
	meteredReader
	io.Closer
}

type meteredConn struct {
	m   meteredReader
	rwc io.ReadWriteCloser
}

func (c *meteredConn) Read(p []byte) (int, error)  { return c.m.Read(p) }
func (c *meteredConn) Write(p []byte) (int, error) { return c.rwc.Write(p) }
func (c *meteredConn) Close() error                { return c.rwc.Close() }

// proxyError answers a request the proxy could not or would not forward.
func (s *Session) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrForbidden):
		s.refuse(w, r, http.StatusForbidden, err.Error())
	case errors.Is(err, errBudget):
		panic(http.ErrAbortHandler) // cut the page off mid-answer
	case errors.Is(err, ErrBadURL):
		s.refuse(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled):
		// the page went away
	default:
		s.refuse(w, r, http.StatusBadGateway, err.Error())
	}
}

// refuse answers a request the proxy will not forward, with the reason in
// RefusedHeader. A plain HTTP request for anything but a document gets no
// answer at all: the connection is closed, which a browser takes as a
// network error, as it takes a name that does not resolve. An answer in
// its place, however short, goes the whole way of a response in Chromium
// (a 2 MiB shared-memory pipe for its body, opaque response blocking) and
// costs about 2 ms of CPU, where a page of dead hosts asks for hundreds.
// A document keeps its answer: the renderer reads the reason from it.
// CONNECT is refused with an answer, which Chromium already takes as a
// network error.
func (s *Session) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	if r.Method != http.MethodConnect && !wantsDocument(r) {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set(RefusedHeader, reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}

// wantsDocument reports whether r may be a navigation, whose answer a
// browser shows as the page: browsers ask for documents with an Accept
// naming text/html, and sub-resources never do. A request without Accept
// (not a browser's) is answered as a document.
func wantsDocument(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return accept == "" || strings.Contains(accept, "text/html")
}
