package netguard

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultMaxURL is the longest URL accepted when no limit is given.
const DefaultMaxURL = 2048

// lookupIDNA maps international host names to their ASCII form as a
// browser does before it resolves them; underscores, common in real host
// names, are allowed.
var lookupIDNA = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.BidiRule())

// ParseURL parses a page URL as a browser would and returns it in
// canonical form: http or https only (a bare "example.com" means http), no
// user info, no fragment, the host lower-cased, in ASCII, and an IP address
// in any of the forms browsers accept (decimal "2130706433", hex "0x7f.1",
// octal "0177.0.0.1", short "127.1", percent-encoded "127.0.0.%31")
// written out as the address it is.
func ParseURL(raw string, maxLen int) (*url.URL, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxURL
	}
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return nil, badURL("the URL is empty")
	case len(raw) > maxLen:
		return nil, badURL("the URL is longer than %d bytes", maxLen)
	}
	// Browsers read a backslash before the query as a slash.
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = strings.ReplaceAll(raw[:i], `\`, "/") + raw[i:]
	} else {
		raw = strings.ReplaceAll(raw, `\`, "/")
	}
	if scheme, ok := schemeOf(raw); !ok {
		raw = "http://" + raw
	} else if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return nil, badURL("only http and https URLs are rendered, not %s", s)
	}
	raw, err := unescapeHost(raw)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badURL("%v", unwrapURLError(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, badURL("only http and https URLs are rendered, not %s", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, badURL("%q has no host", raw)
	}
	if u.User != nil {
		return nil, badURL("URLs with a user name or password are not rendered")
	}
	host, err := CanonicalHost(u.Hostname())
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, badURL("bad port %q", port)
		}
		port = strconv.Itoa(n)
		if (u.Scheme == "http" && n == 80) || (u.Scheme == "https" && n == 443) {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	if s := u.String(); len(s) > maxLen {
		return nil, badURL("the URL is longer than %d bytes", maxLen)
	}
	return u, nil
}

// schemeOf returns raw's scheme if it has one. "example.com:8080/" has
// none: what precedes a colon is a scheme only if a port cannot follow it.
func schemeOf(raw string) (string, bool) {
	i := strings.IndexByte(raw, ':')
	if i <= 0 {
		return "", false
	}
	scheme := raw[:i]
	for j, c := range scheme {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	if strings.HasPrefix(raw[i+1:], "//") {
		return scheme, true
	}
	// "host:port", or a scheme without slashes ("javascript:", "data:").
	rest := raw[i+1:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if _, err := strconv.Atoi(rest[:end]); err == nil && !strings.Contains(scheme, "+") {
		return "", false
	}
	return scheme, true
}

// unescapeHost percent-decodes the host of raw ("scheme://host...") as
// browsers do before they read it: "127.0.0.%31" is 127.0.0.1, which
// url.Parse refuses to decode. A host that decodes to a character no host
// may hold is refused. User info (refused later) and IPv6 literals (never
// decoded) are left as they are.
func unescapeHost(raw string) (string, error) {
	i := strings.IndexByte(raw, ':')
	if i < 0 || !strings.HasPrefix(raw[i+1:], "//") {
		return raw, nil
	}
	start := i + 3
	end := strings.IndexAny(raw[start:], "/?#")
	if end < 0 {
		end = len(raw)
	} else {
		end += start
	}
	auth := raw[start:end]
	if strings.ContainsAny(auth, "@[") {
		return raw, nil
	}
	host, port := auth, ""
	if j := strings.IndexByte(auth, ':'); j >= 0 {
		host, port = auth[:j], auth[j:]
	}
	if !strings.Contains(host, "%") {
		return raw, nil
	}
	h, err := url.PathUnescape(host)
	if err != nil {
		return "", badURL("bad host %q", host)
	}
	if strings.ContainsFunc(h, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`#%/:<>?@[\]^|`, r)
	}) {
		return "", badURL("bad host %q", host)
	}
	return raw[:start] + h + port + raw[end:], nil
}

// CanonicalHost returns host as a browser reads it: an IP address in its
// standard form (IPv6 without brackets), or a lower-case ASCII name
// without a trailing dot.
func CanonicalHost(host string) (string, error) {
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	if host == "" {
		return "", badURL("the URL has no host")
	}
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return "", badURL("bad IPv6 address %q", host)
		}
		return a.String(), nil // ::ffff:127.0.0.1 stays as it is: Check unmaps it
	}
	if !utf8.ValidString(host) {
		// idna would read the bad bytes as U+FFFD, which it refuses only
		// when it is written out; browsers refuse the host.
		return "", badURL("host %q is not UTF-8", host)
	}
	ascii, err := lookupIDNA.ToASCII(host)
	if err != nil {
		return "", badURL("bad host name %q: %v", host, err)
	}
	ascii = strings.ToLower(strings.TrimSuffix(ascii, "."))
	if a, isIP, err := parseIPv4(ascii); isIP {
		if err != nil {
			return "", err
		}
		return a.String(), nil
	}
	if ascii == "" || len(ascii) > 253 {
		return "", badURL("bad host name %q", host)
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", badURL("bad host name %q", host)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", badURL("bad host name %q", host)
			}
		}
	}
	return ascii, nil
}

// parseIPv4 is the WHATWG URL standard's IPv4 parser: a host whose last
// label is a number is an IPv4 address in decimal, hex or octal parts, or
// no valid host at all.
func parseIPv4(host string) (netip.Addr, bool, error) {
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if _, ok := ipv4Number(parts[len(parts)-1]); !ok && !isDigits(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil
	}
	fail := func() (netip.Addr, bool, error) {
		return netip.Addr{}, true, badURL("%q is not a valid IPv4 address", host)
	}
	if len(parts) > 4 {
		return fail()
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return fail()
		}
		if i < len(parts)-1 {
			if n > 255 {
				return fail()
			}
			v += n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return fail()
		}
		v += n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, nil
}

// ipv4Number parses one part of an IPv4 address: 0x-prefixed hex (an empty
// hex part is 0), 0-prefixed octal, or decimal.
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseUint(s, base, 64)
	if errors.Is(err, strconv.ErrRange) {
		// A number all the same, too large for any part: browsers
		// refuse the host, they do not take it for a name.
		return math.MaxUint64, true
	}
	return n, err == nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func badURL(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadURL, fmt.Sprintf(format, args...))
}

// unwrapURLError drops url.Error's repetition of the whole URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
