package renderd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
)

// Pipeline is what the server asks of kiln's pipeline (*pipeline.Pipeline).
type Pipeline interface {
	// Render renders metatile m whether or not it is cached and returns
	// once it is stored; ctx ending stops the wait, not the render.
	Render(ctx context.Context, s *pipeline.Style, scale int, m tile.Meta, prio renderq.Priority) error
	// Dirty marks the metatile of a tile out of date and queues it.
	Dirty(ctx context.Context, req pipeline.Request) error
}

// Config says where the server listens and bounds what clients may hold.
// Zero values take the defaults.
type Config struct {
	Socket  string // Unix socket path, like renderd's socketname; "" for none
	Address string // TCP host:port, like renderd's iphostname and ipport; "" for none
	// MaxConns is how many connections are served at once; more are
	// closed as soon as accepted, as renderd does. Default 2048, renderd's
	// MAX_CONNECTIONS.
	MaxConns int
	// MaxPending is how many requests one connection may have waiting for
	// renders; past it the connection is not read until one is answered.
	// renderd's tools and mod_tile send one at a time. Default 32.
	MaxPending int
	// ReadTimeout is how long the rest of a request may take once its
	// first byte has come; a connection may idle between requests for as
	// long as it likes, as with renderd. Default 10 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one answer. Default 10 s.
	WriteTimeout time.Duration
}

func (c *Config) defaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 2048
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 32
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// Server answers renderd's protocol from kiln's pipeline.
//
// Commands map to kiln's priorities so that its queue orders them as
// renderd's does (Prio, Render, Low, Dirty, Bulk): RenderPrio and Render
// (a missing or very old tile, a client waiting) → renderq.OnDemand;
// RenderLow (an old tile mod_tile is about to serve anyway) →
// renderq.Dirty; RenderBulk → renderq.Bulk. Each is answered Done once its
// metatile is rendered and stored, NotDone if the render failed or the
// queue refused it (a full OnDemand queue overflows into the dirty queue
// and is answered NotDone at once, as renderd does). Dirty marks the
// metatile dirty, queues it at renderq.Dirty and is answered NotDone at
// once, as renderd answers it. Any other command, an unknown map or an
// unreadable string is answered NotDone at once; a tile outside the
// style's zooms or the tile grid Ignore. Version 1 requests ask for the
// style DefaultMap. Requests for one metatile share one render and all
// get its answer, through the queue's de-duplication, and a client that
// disconnects does not cancel the render it asked for.
//
// Unlike renderd, kiln answers a request at once when it can (renderd
// answers Ignore only when a render thread takes the request), checks the
// grid on the tile rather than on its metatile's origin (renderd renders a
// metatile for x=5 at zoom 1), answers NotDone for an unknown map (renderd
// never answers), answers the 20-byte header with NotDone before closing
// a connection that sends an unknown version (renderd just closes it),
// merges a request into a queued job of any priority (renderd answers
// NotDone when the job is in its dirty or bulk queue) and does not sleep
// 3 s before answering a bad request as mod_tile's CLIENT_PENALTY does.
// A full bulk queue refuses the request (NotDone) instead of moving it to
// the dirty queue.
type Server struct {
	cfg    Config
	pipe   Pipeline
	styles map[string]*pipeline.Style
	log    *slog.Logger

	listeners []net.Listener
	base      context.Context // ends on Close: waiting requests are answered NotDone
	cancel    context.CancelFunc
	accepting sync.WaitGroup
	serving   sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen opens the Unix socket and the TCP address that cfg names and
// starts serving them. A stale socket file left by a crashed server is
// replaced; one a live server answers on is an error, as is a path that
// is not a socket.
func Listen(cfg Config, p Pipeline, styles []*pipeline.Style, log *slog.Logger) (*Server, error) {
	cfg.defaults()
	if cfg.Socket == "" && cfg.Address == "" {
		return nil, errors.New("renderd: neither a socket nor an address to listen on")
	}
	s := &Server{cfg: cfg, pipe: p, styles: make(map[string]*pipeline.Style, len(styles)), log: log, conns: map[net.Conn]struct{}{}}
	for _, st := range styles {
		s.styles[st.ID] = st
	}
	if cfg.Socket != "" {
		ln, err := listenUnix(cfg.Socket)
		if err != nil {
			return nil, err
		}
		s.listeners = append(s.listeners, ln)
	}
	if cfg.Address != "" {
		ln, err := net.Listen("tcp", cfg.Address)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			return nil, fmt.Errorf("renderd: %w", err)
		}
		s.listeners = append(s.listeners, ln)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	for _, ln := range s.listeners {
		s.accepting.Go(func() { s.accept(ln) })
	}
	return s, nil
}

// listenUnix listens on a Unix socket that anyone may connect to, as
// renderd's umask(0) makes it, so that Apache's user reaches it.
func listenUnix(path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("renderd: %s exists and is not a socket", path)
	case err == nil:
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("renderd: another server is listening on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("renderd: removing stale socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("renderd: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("renderd: %w", err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		ln.Close()
		return nil, fmt.Errorf("renderd: %w", err)
	}
	return ln, nil
}

// Addrs are the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Close stops listening (removing the socket file), answers every request
// still waiting NotDone, stops reading, and waits until ctx ends for the
// answers to be written; then it closes the connections. Renders already
// queued go on.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.accepting.Wait()
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		if cr, ok := c.(interface{ CloseRead() error }); ok {
			cr.CloseRead()
		} else {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("renderd: closing connections: %w", ctx.Err())
	}
}

func (s *Server) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			s.log.Warn("renderd: accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed || len(s.conns) >= s.cfg.MaxConns {
			full := !s.closed
			s.mu.Unlock()
			c.Close()
			if full {
				s.log.Warn("renderd: connection limit reached, dropping connection", "limit", s.cfg.MaxConns)
			}
			continue
		}
		s.conns[c] = struct{}{}
		s.serving.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// conn is one client connection: requests are read one after another and
// each render is waited for on its own goroutine, so answers go out in the
// order renders finish, as with renderd.
type conn struct {
	s       *Server
	c       net.Conn
	r       *bufio.Reader // one read takes in a whole request, or several
	writeMu sync.Mutex
}

func (s *Server) serve(nc net.Conn) {
	defer s.serving.Done()
	c := &conn{s: s, c: nc, r: bufio.NewReaderSize(nc, 1024)}
	// The connection's context ends when the client goes or the server
	// closes; the renders it asked for go on.
	ctx, cancel := context.WithCancel(s.base)
	var waiting sync.WaitGroup
	slots := make(chan struct{}, s.cfg.MaxPending)
	var buf [144]byte // version 3, the largest
	for {
		raw, err := c.read(buf[:])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("renderd: closing connection", "remote", remote(nc), "err", err)
			}
			break
		}
		if Size(Version(raw)) == 0 {
			s.log.Debug("renderd: unknown protocol version, closing connection", "version", Version(raw), "remote", remote(nc))
			c.write(Reply(raw, NotDone))
			break
		}
		req, err := Parse(raw)
		if err != nil {
			s.log.Debug("renderd: bad request", "err", err)
			c.write(Reply(raw, NotDone))
			continue
		}
		wait, answer := s.decide(ctx, req)
		if wait == nil {
			c.write(Reply(raw, answer))
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			c.write(Reply(raw, NotDone))
			break
		}
		own := bytes.Clone(raw) // buf is reused
		waiting.Go(func() {
			defer func() { <-slots }()
			c.write(Reply(own, wait(ctx)))
		})
	}
	cancel()
	waiting.Wait()
	nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// read reads one request into buf: the 20 bytes every version starts
// with, then the rest its version declares. Only a begun request has a
// deadline. For an unknown version it returns the 20 bytes.
func (c *conn) read(buf []byte) ([]byte, error) {
	if err := c.c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if _, err := c.r.Peek(1); err != nil {
		return nil, err
	}
	if err := c.c.SetReadDeadline(time.Now().Add(c.s.cfg.ReadTimeout)); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.r, buf[:HeaderSize]); err != nil {
		return nil, fmt.Errorf("short request: %w", err)
	}
	n := Size(Version(buf))
	if n == 0 {
		return buf[:HeaderSize], nil
	}
	if _, err := io.ReadFull(c.r, buf[HeaderSize:n]); err != nil {
		return nil, fmt.Errorf("short request of version %d: %w", Version(buf), err)
	}
	return buf[:n], nil
}

// write sends one answer; a client that has gone is not an error.
func (c *conn) write(b []byte) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if _, err := c.c.Write(b); err != nil {
		c.s.log.Debug("renderd: answer not sent", "remote", remote(c.c), "err", err)
	}
}

// decide answers req at once (wait == nil), or returns the wait for its
// render, which gives the answer.
func (s *Server) decide(ctx context.Context, req Message) (wait func(context.Context) Cmd, answer Cmd) {
	var prio renderq.Priority
	switch req.Cmd {
	case RenderPrio, Render:
		prio = renderq.OnDemand
	case RenderLow, Dirty:
		prio = renderq.Dirty
	case RenderBulk:
		prio = renderq.Bulk
	default:
		s.log.Debug("renderd: unknown command", "cmd", req.Cmd)
		return nil, NotDone
	}
	st := s.styles[req.Map]
	if st == nil {
		s.log.Debug("renderd: no style", "map", req.Map)
		return nil, NotDone
	}
	c := tile.Coord{Z: int(req.Z), X: int(req.X), Y: int(req.Y)}
	inRange := c.InGrid() && c.Z >= st.MinZoom && c.Z <= st.MaxZoom
	if req.Cmd == Dirty {
		if inRange {
			if err := s.pipe.Dirty(ctx, pipeline.Request{Style: st, Scale: 1, Coord: c}); err != nil {
				s.log.Debug("renderd: dirty tile not queued", "style", st.ID, "tile", c, "err", err)
			}
		}
		return nil, NotDone
	}
	if !inRange {
		return nil, Ignore
	}
	m := tile.MetaOf(c, st.MetaSize)
	return func(ctx context.Context) Cmd {
		if err := s.pipe.Render(ctx, st, 1, m, prio); err != nil {
			s.log.Debug("renderd: not done", "cmd", req.Cmd, "style", st.ID, "metatile", m, "err", err)
			return NotDone
		}
		return Done
	}, 0
}

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix"
}
