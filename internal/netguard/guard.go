package netguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Resolver looks up host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// resolveTimeout bounds one name lookup. A query unanswered for
// queryTimeout is sent again within it: resolvers drop queries (some when
// they come faster than they like), and the system's default is to wait
// 5 s for the answer to one that was dropped.
const (
	resolveTimeout = 5 * time.Second
	queryTimeout   = time.Second
)

// Name lookups are cached for all pages: a page names dozens of hosts, and
// the next page mostly the same ones. Answers are kept briefly (the policy
// is applied to them at every use), failures more briefly; one lookup per
// name is in flight however many pages ask, and at most maxLookups in all,
// as resolvers drop queries that come in bursts.
const (
	lookupTTL         = 30 * time.Second
	negativeLookupTTL = 10 * time.Second
	maxLookups        = 8
	maxCachedNames    = 4096
)

// Guard checks hosts and URLs against a Policy and opens proxy sessions
// that enforce it.
type Guard struct {
	policy   Policy
	resolver Resolver
	log      *slog.Logger

	ttl, negTTL  time.Duration
	queryTimeout time.Duration
	lookups      singleflight.Group
	slots        chan struct{}
	mu           sync.Mutex
	cache        map[string]lookup
}

// lookup is a cached answer of the resolver.
type lookup struct {
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// New returns a Guard. A nil resolver is the system's, a nil log discards.
func New(p Policy, r Resolver, log *slog.Logger) *Guard {
	if r == nil {
		r = net.DefaultResolver
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{policy: p, resolver: r, log: log, ttl: lookupTTL, negTTL: negativeLookupTTL, queryTimeout: queryTimeout,
		slots: make(chan struct{}, maxLookups), cache: map[string]lookup{}}
}

// lookup resolves host through the cache.
func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	now := time.Now()
	g.mu.Lock()
	c, ok := g.cache[host]
	g.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.addrs, c.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The lookup runs for whoever still wants it: one page going away
	// does not fail the others waiting on the same name.
	ch := g.lookups.DoChan(host, func() (any, error) {
		g.slots <- struct{}{}
		defer func() { <-g.slots }()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resolveTimeout)
		defer cancel()
		addrs, err := g.query(lctx, host)
		ttl := g.ttl
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				err = errors.New(dnsErr.Err)
				if dnsErr.IsTimeout || dnsErr.IsTemporary {
					ttl = 0 // not an answer: ask again next time
				}
			}
			err = fmt.Errorf("%w: %s: %v", ErrDNS, host, err)
			ttl = min(ttl, g.negTTL)
		} else if len(addrs) == 0 {
			err = fmt.Errorf("%w: %s has no addresses", ErrDNS, host)
			ttl = g.negTTL
		}
		if ttl > 0 {
			g.mu.Lock()
			if len(g.cache) >= maxCachedNames {
				clear(g.cache) // simplest bound; the names come back as pages ask
			}
			g.cache[host] = lookup{addrs: addrs, err: err, expires: time.Now().Add(ttl)}
			g.mu.Unlock()
		}
		return addrs, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]netip.Addr), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// query asks the resolver for host, again each time queryTimeout passes
// without an answer, until ctx ends.
func (g *Guard) query(ctx context.Context, host string) ([]netip.Addr, error) {
	for {
		qctx, cancel := context.WithTimeout(ctx, g.queryTimeout)
		addrs, err := g.resolver.LookupNetIP(qctx, "ip", host)
		unanswered := qctx.Err() != nil
		cancel()
		if err == nil || !unanswered || ctx.Err() != nil {
			return addrs, err
		}
	}
}

// Resolve returns host's addresses if every one of them may be reached. A
// name with any forbidden address is refused whole: a rebinding name that
// answers both public and private addresses is refused, not half used.
// host is in canonical form (CanonicalHost).
func (g *Guard) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if err := g.policy.Check(a); err != nil {
			return nil, err
		}
		return []netip.Addr{a.Unmap().WithZone("")}, nil // as names' addresses are
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if err := g.policy.Check(netip.IPv6Loopback()); err != nil {
			return nil, fmt.Errorf("%w: %s is a loopback name", ErrForbidden, host)
		}
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if err := g.policy.Check(a); err != nil {
			return nil, fmt.Errorf("%s resolves to a forbidden address: %w", host, err)
		}
		out = append(out, a.Unmap().WithZone(""))
	}
	return out, nil
}

// CheckURL parses raw (ParseURL) and resolves its host (Resolve): the
// check to make before a page is queued. The proxy checks again at every
// connection.
func (g *Guard) CheckURL(ctx context.Context, raw string, maxLen int) (*url.URL, error) {
	u, err := ParseURL(raw, maxLen)
	if err != nil {
		return nil, err
	}
	host, _ := CanonicalHost(u.Hostname()) // canonical already
	if _, err := g.Resolve(ctx, host); err != nil {
		return nil, err
	}
	return u, nil
}
