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
	"time"
)

// Resolver looks up host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// resolveTimeout bounds one name lookup.
const resolveTimeout = 5 * time.Second

// Guard checks hosts and URLs against a Policy and opens proxy sessions
// that enforce it.
type Guard struct {
	policy   Policy
	resolver Resolver
	log      *slog.Logger
}

// New returns a Guard. A nil resolver is the system's, a nil log discards.
func New(p Policy, r Resolver, log *slog.Logger) *Guard {
	if r == nil {
		r = net.DefaultResolver
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{policy: p, resolver: r, log: log}
}

// Policy returns the guard's policy.
func (g *Guard) Policy() Policy { return g.policy }

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
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			err = errors.New(dnsErr.Err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrDNS, host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s has no addresses", ErrDNS, host)
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
