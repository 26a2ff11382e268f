// Package netguard decides where the pages kiln renders may reach, and
// enforces it. A page may only reach public unicast addresses (unless
// allow_private_networks or an allow list says otherwise): never loopback,
// private, link-local (which holds the cloud metadata services),
// carrier-grade NAT, multicast, reserved or documentation ranges, in IPv4,
// IPv6, or IPv4 smuggled inside IPv6.
//
// Three parts: ParseURL canonicalises a URL as browsers do (so "2130706433",
// "0x7f.1" and "0177.0.0.1" are all 127.0.0.1 before any check); a Guard
// resolves host names and refuses any that resolve to a forbidden address;
// and a Session is a forward proxy on loopback that a browser context uses
// as its only way out. The proxy resolves each host once, checks every
// address and dials the checked address itself, so DNS rebinding between
// the check and the connection cannot happen; it sees every request of the
// page (first URL, redirects, sub-resources, iframes, WebSockets), counts
// the bytes, and cuts the page off at its budget.
//
// Written here because no library does this for a browser: Go's SSRF
// helpers guard an http.Client's dialer, and Chromium's own switches cannot
// refuse addresses. The proxy itself is net/http's.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// Errors, tested with errors.Is.
var (
	// ErrForbidden: the address is one pages may not reach.
	ErrForbidden = errors.New("forbidden address")
	// ErrBadURL: not a URL kiln fetches.
	ErrBadURL = errors.New("bad url")
	// ErrDNS: the host name does not resolve.
	ErrDNS = errors.New("host name does not resolve")
)

// Policy is which addresses may be reached. The zero Policy allows public
// unicast addresses only.
type Policy struct {
	// AllowPrivate lets pages reach every unicast address, private and
	// loopback included (kiln inside a trusted network).
	AllowPrivate bool
	// Allow lists prefixes reachable even though forbidden by default.
	Allow []netip.Prefix
}

// blocked is every range a page may not reach by default, with the name an
// error gives it. IPv4-mapped IPv6 is checked as its IPv4 address; NAT64,
// 6to4 and Teredo can hide any IPv4 address and are refused whole, as are
// the deprecated IPv4-compatible (::a.b.c.d) and SIIT IPv4-translated
// (::ffff:0:a.b.c.d) forms.
var blocked = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Check returns an error wrapping ErrForbidden if a may not be reached.
func (p Policy) Check(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbidden)
	}
	a = a.Unmap().WithZone("")
	for _, pr := range p.Allow {
		if pr.Contains(a) || unmapPrefix(pr).Contains(a) {
			return nil
		}
	}
	if p.AllowPrivate {
		// Still never a broadcast, multicast or unspecified address: those
		// are not a server anywhere.
		if a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fmt.Errorf("%w: %s is not a unicast address", ErrForbidden, a)
		}
		return nil
	}
	for _, b := range blocked {
		if b.prefix.Contains(a) {
			return fmt.Errorf("%w: %s is a %s address", ErrForbidden, a, b.kind)
		}
	}
	return nil
}

// unmapPrefix is an IPv4-mapped prefix (::ffff:10.0.0.0/104) as the IPv4
// prefix it means (10.0.0.0/8): Check compares unmapped addresses.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}
