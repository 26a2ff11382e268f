package netguard

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"example.com",
	"example.com:8080/x",
	"HTTP://EXAMPLE.COM:80/a?b#c",
	"https://example.com:443/",
	"http://user:pass@example.com/",
	"file:///etc/passwd",
	"javascript:alert(1)",
	"data:text/html,hi",
	"ftp://example.com/",
	"gopher://127.0.0.1:6379/_",
	"http://2130706433/",
	"http://0x7f000001/",
	"http://0x7f.1/",
	"http://0177.0.0.1/",
	"http://127.1/",
	"http://127.0.1/",
	"http://0x7f.0.0.0x1",
	"http://127.0.0.1./",
	"http://127.0.0.%31/",
	"http://%65xample.com/",
	"http://256.0.0.1/",
	"http://1.2.3.4.5/",
	"http://09.1.1.1/",
	"http://0x1ffffffffffffffffffff/",
	"http://[::1]/",
	"http://[::ffff:127.0.0.1]/",
	"http://[::ffff:7f00:1]:8080/",
	"http://[fe80::1%25eth0]/",
	"http://bücher.example/",
	"http://１２７。０。０。１/",
	"http:\\\\127.0.0.1\\x",
	"http://example.com:0/",
	"http://example.com:70000/",
	"http://a/%2F?x\\y",
	"localhost:3000",
	"[::1]:80",
}

func FuzzParseURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, 0)
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, raw string, maxLen int) {
		maxLen %= 4096
		u, err := ParseURL(raw, maxLen)
		if err != nil {
			return
		}
		limit := maxLen
		if limit <= 0 {
			limit = DefaultMaxURL
		}
		s := u.String()
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			t.Fatalf("ParseURL(%q) scheme %q", raw, u.Scheme)
		case u.User != nil:
			t.Fatalf("ParseURL(%q) kept user info: %q", raw, s)
		case u.Fragment != "" || u.RawFragment != "":
			t.Fatalf("ParseURL(%q) kept a fragment: %q", raw, s)
		case u.Opaque != "":
			t.Fatalf("ParseURL(%q) is opaque: %q", raw, s)
		case len(s) > limit:
			t.Fatalf("ParseURL(%q, %d) = %q, %d bytes", raw, maxLen, s, len(s))
		case u.Hostname() == "":
			t.Fatalf("ParseURL(%q) has no host: %q", raw, s)
		}
		if h, err := CanonicalHost(u.Hostname()); err != nil || h != u.Hostname() {
			t.Fatalf("ParseURL(%q) host %q not canonical: %q, %v", raw, u.Hostname(), h, err)
		}
		u2, err := ParseURL(s, maxLen)
		if err != nil {
			t.Fatalf("ParseURL(%q) = %q, which does not parse: %v", raw, s, err)
		}
		if s2 := u2.String(); s2 != s {
			t.Fatalf("ParseURL not idempotent: %q -> %q -> %q", raw, s, s2)
		}
		if u2.Hostname() != u.Hostname() {
			t.Fatalf("host changed: %q -> %q -> %q", raw, u.Hostname(), u2.Hostname())
		}
	})
}

func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "EXAMPLE.com.", "bücher.example", "xn--bcher-kva.example",
		"127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "127.0.0.1.",
		"0x", "0x.0x", "1..2", "256.1.1.1", "09.1.1.1",
		"::1", "[::1]", "::ffff:7f00:1", "fe80::1%eth0", "[", "]", "",
		"a_b.example", "１２７。０。０。１", "a：80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, err := CanonicalHost(host)
		if err != nil {
			return
		}
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, "[]%/ ") {
			t.Fatalf("CanonicalHost(%q) = %q", host, h)
		}
		h2, err := CanonicalHost(h)
		if err != nil || h2 != h {
			t.Fatalf("CanonicalHost not idempotent: %q -> %q -> %q, %v", host, h, h2, err)
		}
	})
}
