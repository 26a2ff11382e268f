package renderd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kiln/internal/debugrender"
	"kiln/internal/imgenc"
	"kiln/internal/metatile"
	"kiln/internal/metrics"
	"kiln/internal/pipeline"
	"kiln/internal/renderq"
	"kiln/internal/tile"
	"kiln/internal/tilestore"
)

const (
	// waitLimit bounds every wait for an answer or a state.
	waitLimit = 10 * time.Second
	// quiet is how long a test listens to be sure no answer comes.
	quiet = 200 * time.Millisecond
	// maxZoom of the test styles, to be out of range above it.
	maxZoom = 10
)

// gate wraps the debug renderer: it records the metatiles it is asked to
// render, in order, and can hold renders until it is opened.
type gate struct {
	debug *debugrender.Renderer

	mu    sync.Mutex
	open  chan struct{} // nil: not held
	order []tile.Meta
}

func (g *gate) Render(ctx context.Context, m tile.Meta, ts int, scale float64, dst *image.RGBA) error {
	g.mu.Lock()
	g.order = append(g.order, m)
	open := g.open
	g.mu.Unlock()
	if open != nil {
		select {
		case <-open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.debug.Render(ctx, m, ts, scale, dst)
}

// hold makes renders from now on wait for release.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

// release lets held renders through.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != nil {
		close(g.open)
		g.open = nil
	}
}

func (g *gate) renders() []tile.Meta {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.order)
}

type fixture struct {
	srv   *Server
	p     *pipeline.Pipeline
	tiles string // the store's root
	gate  *gate
	addr  map[string]string // by network: "unix", "tcp"
}

type options struct {
	held    bool // renders wait for f.release
	workers int
	limits  [renderq.NumPriorities]int
	cfg     Config
}

// newFixture starts a real pipeline with the debug renderer (64-pixel
// tiles, fast) behind a gate, and a server on a Unix socket and TCP.
func newFixture(t testing.TB, o options) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := tilestore.NewFiles(filepath.Join(dir, "tiles"))
	if err != nil {
		t.Fatal(err)
	}
	if o.workers == 0 {
		o.workers = 2
	}
	p := pipeline.New(store, pipeline.Config{Workers: o.workers, RenderTimeout: waitLimit, QueueLimits: o.limits},
		metrics.New(), slog.New(slog.DiscardHandler))
	d, err := debugrender.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{debug: d}
	if o.held {
		g.hold()
	}
	var styles []*pipeline.Style
	for _, id := range []string{"debug", DefaultMap} {
		styles = append(styles, &pipeline.Style{ID: id, Renderer: g, RendererName: "map", Encoder: imgenc.New(imgenc.PNG, 0),
			MinZoom: 0, MaxZoom: maxZoom, TileSize: 64, MetaSize: 8})
	}
	cfg := o.cfg
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(dir, "renderd.sock")
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	srv, err := Listen(cfg, p, styles, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, p: p, tiles: store.Root(), gate: g, addr: map[string]string{}}
	for _, a := range srv.Addrs() {
		f.addr[a.Network()] = a.String()
	}
	t.Cleanup(func() {
		f.release()
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		p.Close(ctx)
		store.Close()
	})
	return f
}

func (f *fixture) release() { f.gate.release() }

func (f *fixture) dial(t testing.TB, network string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, f.addr[network], waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stored checks that metatile m of set is on disk and decodes, with its
// existing tiles filled, and returns its modification time.
func (f *fixture) stored(t testing.TB, set string, m tile.Meta) time.Time {
	t.Helper()
	p := metatile.Path(f.tiles, set, m)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("metatile %s of %s: %v", m, set, err)
	}
	_, tiles, err := metatile.Decode(b, m)
	if err != nil {
		t.Fatalf("decoding %s: %v", p, err)
	}
	for c := range m.Tiles() {
		if len(tiles[m.Index(c)]) == 0 {
			t.Fatalf("%s holds no tile %s", p, c)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func (f *fixture) missing(t testing.TB, set string, m tile.Meta) {
	t.Helper()
	if _, err := os.Stat(metatile.Path(f.tiles, set, m)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("metatile %s of %s: %v, want it never stored", m, set, err)
	}
}

func (f *fixture) conns() int {
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	return len(f.srv.conns)
}

func send(t testing.TB, c net.Conn, m Message) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("sending %+v: %v", m, err)
	}
	return b
}

// recv reads an answer of the given version, waiting at most d.
func recv(t testing.TB, c net.Conn, version int32, d time.Duration) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, Size(version))
	_, err := io.ReadFull(c, b)
	return b, err
}

// answer reads the answer to the request sent as req: it must be req
// echoed, byte for byte, but for the command, which it returns.
func answer(t testing.TB, c net.Conn, req []byte) Cmd {
	t.Helper()
	got, err := recv(t, c, Version(req), waitLimit)
	if err != nil {
		t.Fatalf("no answer to %x: %v", req, err)
	}
	cmd := Cmd(binary.LittleEndian.Uint32(got[4:]))
	if want := Reply(req, cmd); string(got) != string(want) {
		t.Fatalf("answer\n%x\nis not the request echoed\n%x", got, want)
	}
	return cmd
}

// closed checks that the server closes c without another byte.
func closed(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	n, err := c.Read(make([]byte, 64))
	var ne net.Error
	if n != 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("read %d bytes, %v; want the connection closed without an answer", n, err)
	}
}

func roundTrip(t testing.TB, c net.Conn, m Message) Cmd {
	t.Helper()
	return answer(t, c, send(t, c, m))
}

// eventually polls cond until it holds, failing after waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func meta(z, x, y int) tile.Meta { return tile.MetaOf(tile.Coord{Z: z, X: x, Y: y}, 8) }

func v2(cmd Cmd, style string, z, x, y int32) Message {
	return Message{Version: 2, Cmd: cmd, Map: style, X: x, Y: y, Z: z}
}

// TestCommands sends each command, in each version, over both transports
// on one connection each, and checks the answer and the cache.
func TestCommands(t *testing.T) {
	f := newFixture(t, options{})
	long := strings.Repeat("x", nameSize)
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			c := f.dial(t, network)
			tests := []struct {
				name string
				req  Message
				want Cmd
				set  string // with meta: the metatile Done must have stored
				meta tile.Meta
			}{
				{"v2 Render", v2(Render, "debug", 3, 1, 2), Done, "debug", meta(3, 1, 2)},
				{"v2 RenderPrio", v2(RenderPrio, "debug", 5, 9, 17), Done, "debug", meta(5, 9, 17)},
				{"v2 RenderLow", v2(RenderLow, "debug", 5, 31, 31), Done, "debug", meta(5, 31, 31)},
				{"v2 RenderBulk", v2(RenderBulk, "debug", 10, 1023, 0), Done, "debug", meta(10, 1023, 0)},
				{"v1 renders the default style", Message{Version: 1, Cmd: RenderBulk, Z: 4, X: 15, Y: 3}, Done, DefaultMap, meta(4, 15, 3)},
				{"v3 with MIME type and options", Message{Version: 3, Cmd: RenderPrio, Map: "debug", Z: 0, MimeType: "image/png", Options: "x"}, Done, "debug", meta(0, 0, 0)},
				{"v2 Dirty is not waited for", v2(Dirty, "debug", 6, 0, 0), NotDone, "", tile.Meta{}},
				{"Done is no request", v2(Done, "debug", 3, 0, 0), NotDone, "", tile.Meta{}},
				{"NotDone is no request", v2(NotDone, "debug", 3, 0, 0), NotDone, "", tile.Meta{}},
				{"Ignore is no request", v2(Ignore, "debug", 3, 0, 0), NotDone, "", tile.Meta{}},
				{"unknown command", v2(99, "debug", 3, 0, 0), NotDone, "", tile.Meta{}},
				{"unknown style", v2(RenderPrio, "nosuch", 3, 0, 0), NotDone, "", tile.Meta{}},
				{"above the style's zooms", v2(RenderPrio, "debug", maxZoom+1, 0, 0), Ignore, "", tile.Meta{}},
				{"beyond the grid", v2(Render, "debug", 2, 4, 0), Ignore, "", tile.Meta{}},
				{"beyond the grid at zoom 1, in its metatile", v2(RenderBulk, "debug", 1, 5, 0), Ignore, "", tile.Meta{}},
				{"negative y", v2(RenderLow, "debug", 3, 0, -1), Ignore, "", tile.Meta{}},
				{"negative zoom", v2(RenderBulk, "debug", -1, 0, 0), Ignore, "", tile.Meta{}},
				{"Dirty out of range", v2(Dirty, "debug", maxZoom+1, 0, 0), NotDone, "", tile.Meta{}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if got := roundTrip(t, c, tc.req); got != tc.want {
						t.Fatalf("answer %v, want %v", got, tc.want)
					}
					if tc.set != "" {
						f.stored(t, tc.set, tc.meta)
					}
				})
			}
			t.Run("name not NUL-terminated, then a good request", func(t *testing.T) {
				b := raw(2, int32(RenderPrio), 0, 0, 0, 64, long)
				if _, err := c.Write(b); err != nil {
					t.Fatal(err)
				}
				if got := answer(t, c, b); got != NotDone {
					t.Fatalf("answer %v, want NotDone", got)
				}
				if got := roundTrip(t, c, v2(RenderPrio, "debug", 0, 0, 0)); got != Done {
					t.Fatalf("next request on the connection: %v, want Done", got)
				}
			})
		})
	}
	// Out-of-range requests rendered nothing: the zoom-1 tile x=5 lies in
	// metatile 1/0/0 by its bits, which renderd would render.
	f.missing(t, "debug", meta(1, 0, 0))
	f.missing(t, "debug", meta(maxZoom+1, 0, 0))
	// The Dirty request for 6/0/0, missing from the cache, was queued.
	eventually(t, "render of the dirty metatile 6/0/0", func() bool {
		_, err := os.Stat(metatile.Path(f.tiles, "debug", meta(6, 0, 0)))
		return err == nil
	})
	f.stored(t, "debug", meta(6, 0, 0))
}

// TestDirtyMarksAndRerenders: Dirty for a cached metatile is answered at
// once, marks the metatile dirty and renders it again.
func TestDirtyMarksAndRerenders(t *testing.T) {
	f := newFixture(t, options{workers: 1})
	m := meta(7, 64, 40)
	c := f.dial(t, "unix")
	if got := roundTrip(t, c, v2(RenderBulk, "debug", 7, 64, 40)); got != Done {
		t.Fatalf("render: %v", got)
	}
	before := f.stored(t, "debug", m)
	f.gate.hold() // the re-render
	if got := roundTrip(t, c, v2(Dirty, "debug", 7, 71, 47)); got != NotDone {
		t.Fatalf("Dirty: %v, want NotDone", got)
	}
	fi, err := os.Stat(metatile.Path(f.tiles, "debug", m))
	if err != nil {
		t.Fatal(err)
	}
	if !tilestore.MarkedDirty(fi.ModTime(), time.Now()) {
		t.Errorf("after Dirty, the metatile's time is %v, want it marked dirty", fi.ModTime())
	}
	f.release()
	eventually(t, "re-render", func() bool {
		fi, err := os.Stat(metatile.Path(f.tiles, "debug", m))
		return err == nil && fi.ModTime().After(before)
	})
	if n := len(f.gate.renders()); n != 2 {
		t.Errorf("%d renders, want 2", n)
	}
}

// TestPriorities: with the only worker held, each command lands in the
// queue of its priority and is rendered in renderd's order.
func TestPriorities(t *testing.T) {
	f := newFixture(t, options{held: true, workers: 1})
	blocker := f.dial(t, "unix")
	blockReq := send(t, blocker, v2(RenderBulk, "debug", 9, 0, 0))
	eventually(t, "blocking render", func() bool { return f.p.QueueStats().Running == 1 })

	reqs := []struct {
		cmd  Cmd
		x    int32
		want Cmd
	}{
		{RenderBulk, 8, Done},
		{RenderLow, 16, Done},
		{Dirty, 24, NotDone},
		{Render, 32, Done},
		{RenderPrio, 40, Done},
	}
	type pending struct {
		c   net.Conn
		req []byte
	}
	var waits []pending
	queued := func() (n int) {
		for _, q := range f.p.QueueStats().Queued {
			n += q
		}
		return n
	}
	for i, r := range reqs {
		c := f.dial(t, "tcp")
		b := send(t, c, v2(r.cmd, "debug", 9, r.x, 0))
		// One at a time: their order in a queue is their order here.
		eventually(t, "queued "+r.cmd.String(), func() bool { return queued() == i+1 })
		if r.cmd == Dirty {
			if got := answer(t, c, b); got != NotDone {
				t.Fatalf("Dirty: %v, want NotDone at once", got)
			}
			continue
		}
		waits = append(waits, pending{c, b})
	}
	want := [renderq.NumPriorities]int{renderq.OnDemand: 2, renderq.Dirty: 2, renderq.Bulk: 1}
	eventually(t, "queued requests", func() bool { return f.p.QueueStats().Queued == want })
	until := time.Now().Add(quiet)
	for _, w := range waits {
		if _, err := recv(t, w.c, 2, time.Until(until)); err == nil {
			t.Fatal("answered before its render")
		}
	}
	f.release()
	if got := answer(t, blocker, blockReq); got != Done {
		t.Errorf("blocker: %v", got)
	}
	for _, w := range waits {
		w.c.SetReadDeadline(time.Time{})
		if got := answer(t, w.c, w.req); got != Done {
			t.Errorf("%x: %v, want Done", w.req, got)
		}
	}
	eventually(t, "every render", func() bool { return len(f.gate.renders()) == 6 })
	var xs []int
	for _, m := range f.gate.renders() {
		xs = append(xs, m.X)
	}
	// Render and RenderPrio (on demand), RenderLow and Dirty (dirty), bulk.
	if wantX := []int{0, 32, 40, 16, 24, 8}; !slices.Equal(xs, wantX) {
		t.Errorf("rendered metatiles x = %v, want %v", xs, wantX)
	}
}

// TestDedup: clients asking for one metatile, over both transports and
// all versions, share one render and all get Done.
func TestDedup(t *testing.T) {
	f := newFixture(t, options{held: true})
	const n = 12
	type pending struct {
		c   net.Conn
		req []byte
	}
	var waits []pending
	for i := range n {
		network := []string{"unix", "tcp"}[i%2]
		c := f.dial(t, network)
		// Different tiles of metatile 8/128/64, different commands.
		m := Message{Version: int32(2 + i%2), Cmd: []Cmd{RenderPrio, RenderBulk, Render, RenderLow}[i%4],
			Map: "debug", Z: 8, X: int32(128 + i%8), Y: int32(64 + i/8)}
		waits = append(waits, pending{c, send(t, c, m)})
	}
	eventually(t, "every request joined", func() bool { return f.p.QueueStats().Joined == n-1 })
	f.release()
	for _, w := range waits {
		if got := answer(t, w.c, w.req); got != Done {
			t.Errorf("%x: %v, want Done", w.req, got)
		}
	}
	if r := f.gate.renders(); len(r) != 1 || r[0] != meta(8, 128, 64) {
		t.Errorf("renders %v, want metatile 8/128/64 once", r)
	}
	f.stored(t, "debug", meta(8, 128, 64))
}

// TestQueueFull: with one slot per queue and the worker held, a request
// that finds its queue full is answered NotDone at once; a missing tile
// overflowing into the dirty queue is still rendered later.
func TestQueueFull(t *testing.T) {
	f := newFixture(t, options{held: true, workers: 1, limits: [renderq.NumPriorities]int{1, 1, 1, 1}})
	type pending struct {
		c   net.Conn
		req []byte
	}
	wait := func(cmd Cmd, x int32) pending {
		c := f.dial(t, "unix")
		return pending{c, send(t, c, v2(cmd, "debug", 9, x, 0))}
	}
	running := wait(RenderBulk, 0)
	eventually(t, "running render", func() bool { return f.p.QueueStats().Running == 1 })
	bulk := wait(RenderBulk, 8)
	prio := wait(RenderPrio, 16)
	eventually(t, "queued requests", func() bool {
		q := f.p.QueueStats().Queued
		return q[renderq.Bulk] == 1 && q[renderq.OnDemand] == 1
	})
	refused := []struct {
		name string
		cmd  Cmd
		m    tile.Meta
		kept bool // queued in the dirty queue all the same
	}{
		{"bulk queue full", RenderBulk, meta(9, 24, 0), false},
		{"on-demand queue full: into the dirty queue", RenderPrio, meta(9, 32, 0), true},
		{"dirty queue full", RenderLow, meta(9, 40, 0), false},
	}
	for _, r := range refused {
		p := wait(r.cmd, int32(r.m.X))
		if got := answer(t, p.c, p.req); got != NotDone {
			t.Errorf("%s: %v, want NotDone at once", r.name, got)
		}
	}
	f.release()
	for _, p := range []pending{running, bulk, prio} {
		if got := answer(t, p.c, p.req); got != Done {
			t.Errorf("%x: %v, want Done", p.req, got)
		}
	}
	eventually(t, "four renders", func() bool { return len(f.gate.renders()) == 4 })
	for _, r := range refused {
		if r.kept {
			eventually(t, "render of "+r.m.String(), func() bool {
				_, err := os.Stat(metatile.Path(f.tiles, "debug", r.m))
				return err == nil
			})
		} else {
			f.missing(t, "debug", r.m)
		}
	}
}

// TestDisconnectMidWait: a client that goes while its render runs does
// not cancel it, and its connection is let go.
func TestDisconnectMidWait(t *testing.T) {
	f := newFixture(t, options{held: true})
	for _, network := range []string{"unix", "tcp"} {
		c, err := net.Dial(network, f.addr[network])
		if err != nil {
			t.Fatal(err)
		}
		send(t, c, v2(RenderPrio, "debug", 9, 256, 256))
		eventually(t, "running render", func() bool { return f.p.QueueStats().Running == 1 })
		c.Close()
	}
	eventually(t, "connections let go", func() bool { return f.conns() == 0 })
	f.release()
	eventually(t, "the render stored", func() bool {
		_, err := os.Stat(metatile.Path(f.tiles, "debug", meta(9, 256, 256)))
		return err == nil
	})
	f.stored(t, "debug", meta(9, 256, 256))
	if n := len(f.gate.renders()); n != 1 {
		t.Errorf("%d renders, want 1", n)
	}
	if got := roundTrip(t, f.dial(t, "unix"), v2(RenderPrio, "debug", 1, 0, 0)); got != Done {
		t.Errorf("server after disconnects: %v", got)
	}
}

// TestBadVersion: an unknown version is answered NotDone with the 20
// bytes that were read, and the connection is closed.
func TestBadVersion(t *testing.T) {
	f := newFixture(t, options{})
	for _, v := range []int32{0, 4, -1, 1 << 20} {
		for _, network := range []string{"unix", "tcp"} {
			c := f.dial(t, network)
			b := raw(v, int32(RenderPrio), 1, 2, 3, 64, "debug")
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			got, err := recv(t, c, 1, waitLimit)
			if err != nil {
				t.Fatalf("version %d over %s: no answer: %v", v, network, err)
			}
			if want := Reply(b, NotDone); string(got) != string(want) {
				t.Errorf("version %d: answer %x, want %x", v, got, want)
			}
			closed(t, c)
		}
	}
}

// TestShortReads: a request cut short is never answered, a half-sent one
// times out, a slow but complete one and an idle connection are served.
func TestShortReads(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	f := newFixture(t, options{cfg: Config{ReadTimeout: readTimeout}})
	full, _ := v2(RenderPrio, "debug", 2, 1, 1).MarshalBinary()
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			for _, cut := range []int{1, 10, HeaderSize, 30, 63} {
				c := f.dial(t, network)
				c.Write(full[:cut])
				c.(interface{ CloseWrite() error }).CloseWrite()
				closed(t, c)
			}
			stalled := f.dial(t, network)
			start := time.Now()
			stalled.Write(full[:30])
			closed(t, stalled)
			if d := time.Since(start); d < readTimeout {
				t.Errorf("half-sent request dropped after %v, before the %v read timeout", d, readTimeout)
			}

			slow := f.dial(t, network)
			for _, part := range [][]byte{full[:3], full[3:25], full[25:]} {
				slow.Write(part)
				time.Sleep(readTimeout / 6)
			}
			if got := answer(t, slow, full); got != Done {
				t.Errorf("request sent in parts: %v", got)
			}
			idle := f.dial(t, network)
			time.Sleep(readTimeout * 3 / 2)
			if got := roundTrip(t, idle, v2(RenderBulk, "debug", 2, 1, 1)); got != Done {
				t.Errorf("request after idling: %v", got)
			}
		})
	}
}

// TestPipelined: requests sent together on one connection are each
// answered.
func TestPipelined(t *testing.T) {
	f := newFixture(t, options{})
	c := f.dial(t, "unix")
	var batch []byte
	var reqs [][]byte
	for _, m := range []Message{v2(RenderBulk, "debug", 4, 0, 0), {Version: 3, Cmd: RenderPrio, Map: "debug", Z: 4, X: 8}, v2(7, "nosuch", 4, 0, 8)} {
		b, _ := m.MarshalBinary()
		batch = append(batch, b...)
		reqs = append(reqs, b)
	}
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	// The answers' sizes differ by version: read in the order expected
	// only for the immediate NotDone; the renders may finish either way.
	got := map[string]Cmd{}
	for range reqs {
		head, err := recv(t, c, 1, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		rest := make([]byte, Size(Version(head))-HeaderSize)
		if _, err := io.ReadFull(c, rest); err != nil {
			t.Fatal(err)
		}
		m, err := Parse(append(head, rest...))
		if err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s/%d", m.Map, m.X)] = m.Cmd
	}
	want := map[string]Cmd{"debug/0": Done, "debug/8": Done, "nosuch/0": NotDone}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("answers %v, want %v", got, want)
			break
		}
	}
}

// TestSocketFile: the socket is world-writable like renderd's, a stale one
// is replaced, a live one or a file that is not a socket stops start-up,
// and Close removes it.
func TestSocketFile(t *testing.T) {
	f := newFixture(t, options{})
	path := f.addr["unix"]
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o777 {
		t.Errorf("socket mode %v, want a socket with mode 0777", fi.Mode())
	}
	if _, err := Listen(Config{Socket: path}, f.p, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Errorf("second server on a live socket: %v", err)
	}
	if got := roundTrip(t, f.dial(t, "unix"), v2(RenderBulk, "debug", 0, 0, 0)); got != Done {
		t.Errorf("first server after the second failed: %v", got)
	}

	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err := Listen(Config{Socket: stale}, f.p, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	if got := roundTrip(t, dial(t, stale), v2(RenderBulk, "debug", 0, 0, 0)); got != NotDone {
		t.Errorf("server without styles: %v, want NotDone", got)
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Close: %v, want it removed", err)
	}

	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, []byte("keep"), 0o644)
	if _, err := Listen(Config{Socket: regular}, f.p, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep" {
		t.Errorf("regular file now holds %q", b)
	}
	if _, err := Listen(Config{Socket: filepath.Join(dir, "x.sock"), Address: "127.0.0.1:bad"}, f.p, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("bad address: no error")
	}
	if _, err := os.Lstat(filepath.Join(dir, "x.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind by a failed start: %v", err)
	}
}

func dial(t testing.TB, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", path, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMaxConns: past the limit a connection is closed at once, as renderd
// drops it; a freed slot is used again.
func TestMaxConns(t *testing.T) {
	f := newFixture(t, options{cfg: Config{MaxConns: 2}})
	a, b := f.dial(t, "unix"), f.dial(t, "tcp")
	for _, c := range []net.Conn{a, b} {
		if got := roundTrip(t, c, v2(Done, "debug", 0, 0, 0)); got != NotDone {
			t.Fatalf("%v", got)
		}
	}
	over := f.dial(t, "unix")
	over.Write(raw(2, int32(RenderBulk), 0, 0, 0, 64, "debug"))
	closed(t, over)
	a.Close()
	eventually(t, "freed slot", func() bool { return f.conns() == 1 })
	if got := roundTrip(t, f.dial(t, "tcp"), v2(RenderBulk, "debug", 0, 0, 0)); got != Done {
		t.Errorf("after a slot freed: %v", got)
	}
}

// TestCloseAnswersWaiting: Close answers a request waiting for its render
// NotDone, removes the socket and refuses new connections.
func TestCloseAnswersWaiting(t *testing.T) {
	f := newFixture(t, options{held: true})
	c := f.dial(t, "tcp")
	req := send(t, c, v2(RenderPrio, "debug", 5, 0, 0))
	eventually(t, "running render", func() bool { return f.p.QueueStats().Running == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := f.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, c, req); got != NotDone {
		t.Errorf("waiting request on Close: %v, want NotDone", got)
	}
	if _, err := os.Lstat(f.addr["unix"]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", f.addr["tcp"], time.Second); err == nil {
		c.Close()
		t.Error("TCP address still accepts after Close")
	}
	if err := f.srv.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
