package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a map: the nth lookup of a name gets its nth
// answer (the last one repeated), so a rebinding name can be simulated.
// Names not in the map do not exist.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	errs    map[string]error
	calls   map[string]int
	drops   map[string]int // queries of a name left unanswered, as a resolver drops them
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{
		answers: map[string][][]netip.Addr{},
		errs:    map[string]error{},
		calls:   map[string]int{},
		drops:   map[string]int{},
	}
}

// set gives host its answers, one per lookup.
func (r *fakeResolver) set(host string, answers ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as [][]netip.Addr
	for _, ans := range answers {
		var addrs []netip.Addr
		for _, s := range ans {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		as = append(as, addrs)
	}
	r.answers[host] = as
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func (r *fakeResolver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.calls[host]
	r.calls[host]++
	if r.drops[host] > 0 {
		r.drops[host]--
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err, ok := r.errs[host]; ok {
		return nil, err
	}
	as, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if len(as) == 0 {
		return nil, nil
	}
	return slices.Clone(as[min(n, len(as)-1)]), nil
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGuardResolve(t *testing.T) {
	r := newFakeResolver()
	r.set("public.test", []string{"8.8.8.8", "2606:4700::1111"})
	r.set("mapped.test", []string{"::ffff:8.8.4.4"})
	r.set("loop.test", []string{"127.0.0.1"})
	r.set("meta.test", []string{"169.254.169.254"})
	r.set("mixed.test", []string{"8.8.8.8", "10.0.0.1"})
	r.set("mixed6.test", []string{"2606:4700::1111", "::1"})
	r.set("mapped-private.test", []string{"::ffff:192.168.0.1"})
	r.set("empty.test")
	r.errs["timeout.test"] = &net.DNSError{Err: "i/o timeout", Name: "timeout.test", IsTimeout: true}
	r.errs["other.test"] = errors.New("resolver exploded")

	tests := []struct {
		host    string
		want    []netip.Addr
		err     error
		lookups int
	}{
		{host: "8.8.8.8", want: addrs("8.8.8.8")},
		{host: "2606:4700::1111", want: addrs("2606:4700::1111")},
		{host: "::ffff:8.8.8.8", want: addrs("8.8.8.8")},
		{host: "127.0.0.1", err: ErrForbidden},
		{host: "::1", err: ErrForbidden},
		{host: "::ffff:127.0.0.1", err: ErrForbidden},
		{host: "169.254.169.254", err: ErrForbidden},
		{host: "localhost", err: ErrForbidden},
		{host: "x.localhost", err: ErrForbidden},
		{host: "a.b.localhost", err: ErrForbidden},
		{host: "public.test", want: addrs("8.8.8.8", "2606:4700::1111"), lookups: 1},
		{host: "mapped.test", want: addrs("8.8.4.4"), lookups: 1},
		{host: "loop.test", err: ErrForbidden, lookups: 1},
		{host: "meta.test", err: ErrForbidden, lookups: 1},
		{host: "mixed.test", err: ErrForbidden, lookups: 1},
		{host: "mixed6.test", err: ErrForbidden, lookups: 1},
		{host: "mapped-private.test", err: ErrForbidden, lookups: 1},
		{host: "unknown.test", err: ErrDNS, lookups: 1},
		{host: "empty.test", err: ErrDNS, lookups: 1},
		{host: "timeout.test", err: ErrDNS, lookups: 1},
		{host: "other.test", err: ErrDNS, lookups: 1},
	}
	g := New(Policy{}, r, nil)
	for _, tt := range tests {
		before := r.total()
		got, err := g.Resolve(testContext(t), tt.host)
		if n := r.total() - before; n != tt.lookups {
			t.Errorf("Resolve(%q) made %d lookups, want %d", tt.host, n, tt.lookups)
		}
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q) = %v, %v; want %v", tt.host, got, err, tt.err)
			}
			if got != nil {
				t.Errorf("Resolve(%q) returned addresses %v with its error", tt.host, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tt.host, got, err, tt.want)
		}
	}
}

func TestGuardResolveErrorMentionsHost(t *testing.T) {
	r := newFakeResolver()
	r.set("mixed.test", []string{"8.8.8.8", "10.0.0.1"})
	g := New(Policy{}, r, nil)
	_, err := g.Resolve(testContext(t), "mixed.test")
	if err == nil || !errors.Is(err, ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"mixed.test", "10.0.0.1", "private"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestGuardResolvePolicies(t *testing.T) {
	r := newFakeResolver()
	r.set("localhost", []string{"127.0.0.1", "::1"})
	r.set("one.test", []string{"127.0.0.1"})
	r.set("two.test", []string{"127.0.0.2"})
	r.set("lan.test", []string{"10.0.0.7"})

	allow1 := New(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, r, nil)
	private := New(Policy{AllowPrivate: true}, r, nil)
	ctx := testContext(t)

	if got, err := allow1.Resolve(ctx, "127.0.0.1"); err != nil || !slices.Equal(got, addrs("127.0.0.1")) {
		t.Errorf("allow /32: 127.0.0.1 = %v, %v", got, err)
	}
	if _, err := allow1.Resolve(ctx, "127.0.0.2"); !errors.Is(err, ErrForbidden) {
		t.Errorf("allow /32: 127.0.0.2 = %v, want ErrForbidden", err)
	}
	if got, err := allow1.Resolve(ctx, "one.test"); err != nil || !slices.Equal(got, addrs("127.0.0.1")) {
		t.Errorf("allow /32: one.test = %v, %v", got, err)
	}
	if _, err := allow1.Resolve(ctx, "two.test"); !errors.Is(err, ErrForbidden) {
		t.Errorf("allow /32: two.test = %v, want ErrForbidden", err)
	}
	before := r.count("localhost")
	if _, err := allow1.Resolve(ctx, "localhost"); !errors.Is(err, ErrForbidden) {
		t.Errorf("allow /32: localhost = %v, want ErrForbidden", err)
	}
	if r.count("localhost") != before {
		t.Errorf("allow /32: localhost was looked up")
	}
	if got, err := private.Resolve(ctx, "localhost"); err != nil || !slices.Equal(got, addrs("127.0.0.1", "::1")) {
		t.Errorf("AllowPrivate: localhost = %v, %v", got, err)
	}
	if got, err := private.Resolve(ctx, "lan.test"); err != nil || !slices.Equal(got, addrs("10.0.0.7")) {
		t.Errorf("AllowPrivate: lan.test = %v, %v", got, err)
	}
	if _, err := private.Resolve(ctx, "224.0.0.1"); !errors.Is(err, ErrForbidden) {
		t.Errorf("AllowPrivate: 224.0.0.1 = %v, want ErrForbidden", err)
	}
}

func TestGuardResolveCancelled(t *testing.T) {
	r := newFakeResolver()
	r.set("public.test", []string{"8.8.8.8"})
	g := New(Policy{}, r, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Resolve(ctx, "public.test"); err == nil {
		t.Fatal("Resolve with a cancelled context succeeded")
	}
}

func TestGuardCheckURL(t *testing.T) {
	r := newFakeResolver()
	r.set("public.test", []string{"8.8.8.8"})
	r.set("loop.test", []string{"127.0.0.1"})
	r.set("rebind.test", []string{"8.8.8.8"}, []string{"127.0.0.1"})
	r.set("xn--bcher-kva.example", []string{"1.1.1.1"})
	g := New(Policy{}, r, nil)
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{in: "public.test/a", want: "http://public.test/a"},
		{in: "HTTPS://PUBLIC.TEST:443/#x", want: "https://public.test/"},
		{in: "http://bücher.example/", want: "http://xn--bcher-kva.example/"},
		{in: "http://loop.test/", err: ErrForbidden},
		{in: "http://2130706433/", err: ErrForbidden},
		{in: "http://0x7f.1/", err: ErrForbidden},
		{in: "http://[::ffff:7f00:1]/", err: ErrForbidden},
		{in: "http://[::1]:8080/", err: ErrForbidden},
		{in: "http://169.254.169.254/latest/meta-data/", err: ErrForbidden},
		{in: "http://localhost:8080/", err: ErrForbidden},
		{in: "http://127.0.0.%31/", err: ErrForbidden},
		{in: "http:\\\\127.0.0.1\\x", err: ErrForbidden},
		{in: "http://8.8.8.8/", want: "http://8.8.8.8/"},
		{in: "http://nowhere.test/", err: ErrDNS},
		{in: "file:///etc/passwd", err: ErrBadURL},
		{in: "http://user@public.test/", err: ErrBadURL},
		{in: "http://256.1.1.1/", err: ErrBadURL},
		// The first answer is public: CheckURL passes, and the guard keeps
		// that answer (TestGuardLookupCache has it change).
		{in: "http://rebind.test/", want: "http://rebind.test/"},
		{in: "http://rebind.test/", want: "http://rebind.test/"},
	}
	for _, tt := range tests {
		u, err := g.CheckURL(testContext(t), tt.in, 0)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("CheckURL(%q) = %v, %v; want %v", tt.in, u, err, tt.err)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("CheckURL(%q) = %v, %v; want %q", tt.in, u, err, tt.want)
		}
	}
	if _, err := g.CheckURL(testContext(t), "http://public.test/"+string(make([]byte, 50)), 40); !errors.Is(err, ErrBadURL) {
		t.Errorf("CheckURL too long = %v, want ErrBadURL", err)
	}
}

func TestGuardLookupCache(t *testing.T) {
	r := newFakeResolver()
	r.set("rebind.test", []string{"8.8.8.8"}, []string{"127.0.0.1"})
	g := New(Policy{}, r, nil)
	g.ttl, g.negTTL = 100*time.Millisecond, 50*time.Millisecond
	ctx := testContext(t)
	for range 3 {
		if _, err := g.Resolve(ctx, "rebind.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Resolve(ctx, "nowhere.test"); !errors.Is(err, ErrDNS) {
			t.Fatalf("nowhere.test: %v", err)
		}
	}
	if a, b := r.count("rebind.test"), r.count("nowhere.test"); a != 1 || b != 1 {
		t.Errorf("looked up %d and %d times within the TTL, want 1 and 1", a, b)
	}
	time.Sleep(150 * time.Millisecond)
	// Expired: asked again, and the new answer is checked.
	if _, err := g.Resolve(ctx, "rebind.test"); !errors.Is(err, ErrForbidden) {
		t.Errorf("after the TTL: %v, want the new, forbidden answer", err)
	}
	g.Resolve(ctx, "nowhere.test")
	if n := r.count("nowhere.test"); n != 2 {
		t.Errorf("failure looked up %d times after its TTL, want 2", n)
	}
}

// A query the resolver drops is sent again after queryTimeout rather than
// waited for until the lookup's end; one never answered fails in time.
func TestGuardRetriesDroppedQueries(t *testing.T) {
	r := newFakeResolver()
	r.set("dropped.test", []string{"93.184.216.34"})
	r.set("silent.test", []string{"93.184.216.35"})
	r.drops["dropped.test"] = 2
	r.drops["silent.test"] = 1000
	g := New(Policy{}, r, nil)
	g.queryTimeout = 20 * time.Millisecond
	start := time.Now()
	got, err := g.Resolve(testContext(t), "dropped.test")
	if err != nil || !slices.Equal(got, addrs("93.184.216.34")) {
		t.Fatalf("Resolve = %v, %v", got, err)
	}
	if took := time.Since(start); took > time.Second || r.count("dropped.test") != 3 {
		t.Errorf("answered after %v and %d queries, want 3 queries at 20 ms apart", took, r.count("dropped.test"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := g.Resolve(ctx, "silent.test"); err == nil {
		t.Error("a name never answered resolved")
	}
	if n := r.count("silent.test"); n < 2 {
		t.Errorf("%d queries of a silent name, want several", n)
	}
}
