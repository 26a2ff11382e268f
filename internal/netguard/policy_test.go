package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPolicyCheckDefault(t *testing.T) {
	tests := []struct {
		addr string
		kind string // "" means allowed; otherwise in the error
	}{
		{"0.0.0.0", "this-network"},
		{"0.1.2.3", "this-network"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "cloud metadata"},
		{"169.254.1.1", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"192.0.0.170", "IETF protocol assignment"},
		{"192.0.2.1", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.254", "benchmarking"},
		{"198.51.100.1", "documentation"},
		{"203.0.113.1", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"::ffff:0:127.0.0.1", "IPv4-translated"},
		{"64:ff9b::7f00:1", "NAT64"},
		{"64:ff9b::808:808", "NAT64"},
		{"64:ff9b:1::1", "NAT64"},
		{"100::1", "discard"},
		{"2002:7f00:1::", "6to4"},
		{"2002:808:808::1", "6to4"},
		{"2001::1", "Teredo"},
		{"2001:db8::1", "documentation"},
		{"fc00::1", "private"},
		{"fd00:ec2::254", "private"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff05::1:3", "multicast"},

		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"126.255.255.255", ""},
		{"128.0.0.0", ""},
		{"169.253.255.255", ""},
		{"172.15.255.255", ""},
		{"172.32.0.1", ""},
		{"192.167.255.255", ""},
		{"192.169.0.0", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"2a00:1450:4001::1", ""},
	}
	var p Policy
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		err := p.Check(a)
		if tt.kind == "" {
			if err != nil {
				t.Errorf("Check(%s) = %v, want allowed", a, err)
			}
			continue
		}
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("Check(%s) = %v, want ErrForbidden", a, err)
			continue
		}
		if !strings.Contains(err.Error(), " "+tt.kind+" ") {
			t.Errorf("Check(%s) = %q, want it named %q", a, err, tt.kind)
		}
	}
}

func TestPolicyCheckInvalid(t *testing.T) {
	for _, p := range []Policy{{}, {AllowPrivate: true}, {Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}} {
		if err := p.Check(netip.Addr{}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v: Check(invalid) = %v, want ErrForbidden", p, err)
		}
	}
}

func TestPolicyAllow(t *testing.T) {
	tests := []struct {
		allow   []string
		addr    string
		allowed bool
	}{
		{[]string{"127.0.0.1/32"}, "127.0.0.1", true},
		{[]string{"127.0.0.1/32"}, "::ffff:127.0.0.1", true},
		{[]string{"127.0.0.1/32"}, "127.0.0.2", false},
		{[]string{"127.0.0.1/32"}, "::1", false},
		{[]string{"127.0.0.1/32"}, "10.0.0.1", false},
		{[]string{"127.0.0.1/32"}, "8.8.8.8", true},
		{[]string{"10.1.0.0/16"}, "10.1.200.3", true},
		{[]string{"10.1.0.0/16"}, "10.2.0.1", false},
		{[]string{"10.1.0.0/16", "::1/128"}, "::1", true},
		{[]string{"fd00::/8"}, "fd12::1", true},
		{[]string{"fd00::/8"}, "fc00::1", false},
		// A prefix written in IPv4-mapped form means its IPv4 addresses.
		{[]string{"::ffff:127.0.0.1/128"}, "127.0.0.1", true},
		{[]string{"::ffff:10.0.0.0/104"}, "10.9.9.9", true},
		{[]string{"::ffff:10.0.0.0/104"}, "11.0.0.1", true}, // public anyway
		{[]string{"::ffff:10.0.0.0/104"}, "172.16.0.1", false},
	}
	for _, tt := range tests {
		var p Policy
		for _, s := range tt.allow {
			p.Allow = append(p.Allow, netip.MustParsePrefix(s))
		}
		err := p.Check(netip.MustParseAddr(tt.addr))
		if tt.allowed && err != nil {
			t.Errorf("Allow %v: Check(%s) = %v, want allowed", tt.allow, tt.addr, err)
		}
		if !tt.allowed && !errors.Is(err, ErrForbidden) {
			t.Errorf("Allow %v: Check(%s) = %v, want ErrForbidden", tt.allow, tt.addr, err)
		}
	}
}

func TestPolicyAllowPrivate(t *testing.T) {
	p := Policy{AllowPrivate: true}
	for _, s := range []string{
		"10.0.0.1", "127.0.0.1", "192.168.0.1", "172.16.0.1", "100.64.0.1",
		"169.254.169.254", "::1", "fc00::1", "fe80::1", "::ffff:127.0.0.1", "8.8.8.8",
	} {
		if err := p.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("AllowPrivate: Check(%s) = %v, want allowed", s, err)
		}
	}
	for _, s := range []string{
		"0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "255.255.255.255",
		"ff02::1", "ff0e::1", "::ffff:224.0.0.1", "::ffff:0.0.0.0",
	} {
		if err := p.Check(netip.MustParseAddr(s)); !errors.Is(err, ErrForbidden) {
			t.Errorf("AllowPrivate: Check(%s) = %v, want ErrForbidden", s, err)
		}
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	addrs := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("2606:4700::1111"),
		netip.MustParseAddr("::ffff:10.0.0.1"),
	}
	p := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = p.Check(addrs[i%len(addrs)])
	}
}
