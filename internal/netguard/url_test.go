package netguard

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string // canonical URL; "" means ErrBadURL
		host string // Hostname(), checked when not empty
	}{
		// Defaults and case.
		{name: "bare host", in: "example.com", want: "http://example.com/"},
		{name: "bare host port path", in: "example.com:8080/x", want: "http://example.com:8080/x"},
		{name: "bare localhost port", in: "localhost:3000", want: "http://localhost:3000/"},
		{name: "bare IPv4 port", in: "1.2.3.4:81", want: "http://1.2.3.4:81/"},
		{name: "bare IPv6 port", in: "[2001:4860::8888]:81/", want: "http://[2001:4860::8888]:81/"},
		{name: "spaces trimmed", in: "  https://example.com/a  ", want: "https://example.com/a"},
		{name: "upper scheme and host", in: "HTTP://EXAMPLE.COM/Path?Q=A", want: "http://example.com/Path?Q=A"},
		{name: "mixed scheme", in: "HtTpS://Example.Com", want: "https://example.com/"},
		{name: "query kept", in: "http://example.com/a?b=c&d", want: "http://example.com/a?b=c&d"},
		{name: "empty query kept", in: "http://example.com/?", want: "http://example.com/?"},
		{name: "no path", in: "http://example.com?x=1", want: "http://example.com/?x=1"},
		{name: "trailing dot name", in: "http://example.com./", want: "http://example.com/", host: "example.com"},
		{name: "underscore", in: "http://my_host.example/", want: "http://my_host.example/"},

		// Ports.
		{name: "http default port", in: "http://example.com:80/", want: "http://example.com/"},
		{name: "https default port", in: "https://example.com:443/", want: "https://example.com/"},
		{name: "https port 80 kept", in: "https://example.com:80/", want: "https://example.com:80/"},
		{name: "http port 443 kept", in: "http://example.com:443/", want: "http://example.com:443/"},
		{name: "port leading zeros", in: "http://example.com:0080/", want: "http://example.com/"},
		{name: "port leading zeros kept", in: "http://example.com:08080/", want: "http://example.com:8080/"},
		{name: "empty port", in: "http://example.com:/", want: "http://example.com/"},
		{name: "port 0", in: "http://example.com:0/"},
		{name: "port 70000", in: "http://example.com:70000/"},
		{name: "port 65536", in: "http://example.com:65536/"},
		{name: "port 65535", in: "http://example.com:65535/", want: "http://example.com:65535/"},
		{name: "port huge", in: "http://example.com:99999999999999999999999/"},
		{name: "bare port 0", in: "example.com:0"},

		// Fragment and user info.
		{name: "fragment dropped", in: "http://example.com/x#frag", want: "http://example.com/x"},
		{name: "empty fragment dropped", in: "http://example.com/x#", want: "http://example.com/x"},
		{name: "fragment with query", in: "http://example.com/x?a=b#c", want: "http://example.com/x?a=b"},
		{name: "userinfo", in: "http://user:pass@example.com/"},
		{name: "user only", in: "http://user@example.com/"},
		{name: "empty userinfo", in: "http://@example.com/"},
		{name: "bare userinfo", in: "user:pass@example.com"},

		// Schemes.
		{name: "file", in: "file:///etc/passwd"},
		{name: "javascript", in: "javascript:alert(1)"},
		{name: "javascript upper", in: "JavaScript:alert(document.cookie)"},
		{name: "data", in: "data:text/html,<script>alert(1)</script>"},
		{name: "ftp", in: "ftp://example.com/"},
		{name: "gopher", in: "gopher://127.0.0.1:6379/_INFO"},
		{name: "ws", in: "ws://example.com/"},
		{name: "chrome", in: "chrome://settings"},
		{name: "about", in: "about:blank"},
		{name: "view-source", in: "view-source:http://example.com/"},
		{name: "opaque http", in: "http:example.com"},
		{name: "no host", in: "http:///x"},
		{name: "no host slashes", in: "http://"},
		{name: "empty", in: ""},
		{name: "blank", in: " \t\n "},
		{name: "control char", in: "http://exa\x00mple.com/"},
		{name: "tab inside", in: "http://exa\tmple.com/"},
		{name: "space in host", in: "http://exa mple.com/"},
		{name: "bad host char", in: "http://exa<mple.com/"},
		{name: "empty label", in: "http://a..b/"},
		{name: "label too long", in: "http://" + strings.Repeat("a", 64) + ".com/"},
		{name: "name too long", in: "http://" + strings.Repeat("a.", 127) + "com/"},

		// Length.
		{name: "too long", in: "http://example.com/" + strings.Repeat("a", 100), max: 100},
		{name: "just fits", in: "http://example.com/" + strings.Repeat("a", 81), max: 100, want: "http://example.com/" + strings.Repeat("a", 81)},
		{name: "longer once canonical", in: "example.com/" + strings.Repeat("a", 85), max: 100},
		{name: "default max", in: "http://example.com/" + strings.Repeat("a", DefaultMaxURL)},

		// IPv4 in the forms browsers accept.
		{name: "dotted", in: "http://127.0.0.1/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "decimal", in: "http://2130706433/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "hex", in: "http://0x7f000001/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "hex upper", in: "http://0X7F000001/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "hex two parts", in: "http://0x7f.1/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "octal", in: "http://0177.0.0.1/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "short two", in: "http://127.1/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "short three", in: "http://127.0.1/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "hex mixed no slash", in: "http://0x7f.0.0.0x1", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "trailing dot IP", in: "http://127.0.0.1./", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "percent-encoded host", in: "http://127.0.0.%31/", want: "http://127.0.0.1/", host: "127.0.0.1"},
		{name: "percent-encoded name", in: "http://%65xample.com/", want: "http://example.com/", host: "example.com"},
		{name: "percent-encoded IDN", in: "http://b%C3%BCcher.example/", want: "http://xn--bcher-kva.example/"},
		{name: "percent-encoded slash", in: "http://127.0.0.1%2f@example.com/"},
		{name: "percent-encoded at", in: "http://evil.com%40127.0.0.1/"},
		{name: "percent-encoded colon", in: "http://127.0.0.1%3a80/"},
		{name: "percent-encoded percent", in: "http://127.0.0.%2531/"},
		{name: "bad escape in host", in: "http://127.0.0.%zz/"},
		{name: "fullwidth digits", in: "http://１２７.０.０.１/", want: "http://127.0.0.1/"},
		{name: "ideographic dots", in: "http://127。0。0。1/", want: "http://127.0.0.1/"},
		{name: "port with IP forms", in: "http://0x7f.1:8080/a", want: "http://127.0.0.1:8080/a"},
		{name: "zero", in: "http://0/", want: "http://0.0.0.0/"},
		{name: "hex empty part", in: "http://0x.0x.0x.0x/", want: "http://0.0.0.0/"},
		{name: "max decimal", in: "http://4294967295/", want: "http://255.255.255.255/"},
		{name: "octal leading zeros", in: "http://00000000000000000000000000177.1/", want: "http://127.0.0.1/"},
		{name: "hex leading zeros", in: "http://0x000000000000000000000000007f.1/", want: "http://127.0.0.1/"},
		{name: "256", in: "http://256.0.0.1/"},
		{name: "five parts", in: "http://1.2.3.4.5/"},
		{name: "octal 9", in: "http://09.1.1.1/"},
		{name: "decimal overflow", in: "http://4294967296/"},
		{name: "short overflow", in: "http://1.16777216/"},
		{name: "huge decimal", in: "http://99999999999999999999999999/"},
		{name: "huge hex", in: "http://0x1ffffffffffffffffffffffff/"},
		{name: "huge hex last part", in: "http://1.0x1ffffffffffffffff/"},
		{name: "empty middle part", in: "http://1..2/"},
		{name: "name ending in number", in: "http://example.123/"},
		{name: "bad hex", in: "http://0xg.1/"},
		{name: "number-like label not last", in: "http://1.2.3.4.example/", want: "http://1.2.3.4.example/"},
		{name: "hex-like name", in: "http://0xfoo/", want: "http://0xfoo/"},

		// IPv6.
		{name: "v6 loopback", in: "http://[::1]/", want: "http://[::1]/", host: "::1"},
		{name: "v6 port", in: "http://[::1]:8080/", want: "http://[::1]:8080/", host: "::1"},
		{name: "v6 default port", in: "https://[::1]:443/", want: "https://[::1]/"},
		{name: "v6 upper", in: "http://[2001:DB8::1]/", want: "http://[2001:db8::1]/"},
		{name: "v6 long form", in: "http://[0:0:0:0:0:0:0:1]/", want: "http://[::1]/"},
		{name: "v4 mapped", in: "http://[::ffff:127.0.0.1]/", want: "http://[::ffff:127.0.0.1]/", host: "::ffff:127.0.0.1"},
		{name: "v4 mapped hex", in: "http://[::ffff:7f00:1]/", want: "http://[::ffff:127.0.0.1]/", host: "::ffff:127.0.0.1"},
		{name: "zone", in: "http://[fe80::1%25eth0]/"},
		{name: "zone raw", in: "http://[fe80::1%eth0]/"},
		{name: "bad v6", in: "http://[::1::2]/"},
		{name: "v6 no brackets", in: "http://::1/"},
		{name: "v6 unclosed", in: "http://[::1/"},
		{name: "v6 with v4 forms", in: "http://[::ffff:0x7f.1]/"},

		// International names.
		{name: "IDN", in: "http://bücher.example/", want: "http://xn--bcher-kva.example/", host: "xn--bcher-kva.example"},
		{name: "IDN upper", in: "http://BÜCHER.example/", want: "http://xn--bcher-kva.example/"},
		{name: "punycode kept", in: "http://xn--bcher-kva.example/", want: "http://xn--bcher-kva.example/"},
		{name: "fullwidth colon", in: "http://a：80/"},

		// Backslashes, as browsers read them.
		{name: "backslashes", in: "http:\\\\127.0.0.1\\x", want: "http://127.0.0.1/x", host: "127.0.0.1"},
		{name: "mixed slashes", in: "http:/\\127.0.0.1/x\\y", want: "http://127.0.0.1/x/y"},
		{name: "backslash in query kept", in: "http://example.com/a\\b?c\\d", want: "http://example.com/a/b?c\\d"},
		{name: "bare backslash", in: "example.com\\x", want: "http://example.com/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.in, tt.max)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %q, want ErrBadURL", tt.in, u)
				}
				if !errors.Is(err, ErrBadURL) {
					t.Fatalf("ParseURL(%q) error %v, want ErrBadURL", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("ParseURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.host != "" && u.Hostname() != tt.host {
				t.Errorf("ParseURL(%q).Hostname() = %q, want %q", tt.in, u.Hostname(), tt.host)
			}
			if u.User != nil || u.Fragment != "" || u.RawFragment != "" {
				t.Errorf("ParseURL(%q) kept user info or fragment: %#v", tt.in, u)
			}
		})
	}
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means ErrBadURL
	}{
		{"example.com", "example.com"},
		{"EXAMPLE.com.", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"127.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"[::1]", "::1"},
		{"::1", "::1"},
		{"::FFFF:7f00:1", "::ffff:127.0.0.1"},
		{"[fe80::1%eth0]", ""},
		{"", ""},
		{"[]", ""},
		{".", ""},
		{"a..b", ""},
		{"-", ""},
		{"256.1.1.1", ""},
		{"a b", ""},
		{"a/b", ""},
		{"a%b", ""},
		{"a:b", ""},
	}
	for _, tt := range tests {
		got, err := CanonicalHost(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrBadURL) {
				t.Errorf("CanonicalHost(%q) = %q, %v; want ErrBadURL", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseIPv4Number(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"00", 0, true},
		{"0x", 0, true},
		{"0X", 0, true},
		{"0x10", 16, true},
		{"010", 8, true},
		{"10", 10, true},
		{"08", 0, false},
		{"", 0, false},
		{"0xg", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{"1_0", 0, false},
		{"a", 0, false},
	}
	for _, tt := range tests {
		got, ok := ipv4Number(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ipv4Number(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkParseURL(b *testing.B) {
	for _, in := range []string{
		"https://www.example.com/some/path?q=1#frag",
		"example.com:8080/x",
		"http://0x7f.1/",
		"http://bücher.example/",
		"http://[::ffff:7f00:1]:8080/",
	} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseURL(in, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
