package netguard

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// addrCases covers every address class the guard knows, with the edges of
// the ranges and the IPv6 forms that carry an IPv4 address.
var addrCases = []struct {
	addr  string
	kind  addrKind
	class string // a substring of the class
}{
	// Public.
	{"8.8.8.8", kindPublic, "public"},
	{"1.1.1.1", kindPublic, "public"},
	{"11.0.0.0", kindPublic, "public"},
	{"9.255.255.255", kindPublic, "public"},
	{"172.15.255.255", kindPublic, "public"},
	{"172.32.0.0", kindPublic, "public"},
	{"100.63.255.255", kindPublic, "public"},
	{"100.128.0.0", kindPublic, "public"},
	{"169.253.255.255", kindPublic, "public"},
	{"169.255.0.0", kindPublic, "public"},
	{"192.167.255.255", kindPublic, "public"},
	{"198.17.255.255", kindPublic, "public"},
	{"198.20.0.0", kindPublic, "public"},
	{"223.255.255.255", kindPublic, "public"},
	{"2606:4700:4700::1111", kindPublic, "public"},
	{"2001:4860:4860::8888", kindPublic, "public"},
	{"2001:200::1", kindPublic, "public"},
	{"::ffff:8.8.8.8", kindPublic, "IPv4-mapped form of 8.8.8.8, a public"},
	{"64:ff9b::808:808", kindPublic, "NAT64 (64:ff9b::/96) form of 8.8.8.8, a public"},
	{"2002:808:808::1", kindPublic, "6to4 (2002::/16) form of 8.8.8.8, a public"},

	// Loopback.
	{"127.0.0.1", kindPrivate, "loopback"},
	{"127.255.255.254", kindPrivate, "loopback"},
	{"127.1.2.3", kindPrivate, "loopback"},
	{"::1", kindPrivate, "loopback"},
	// RFC 1918.
	{"10.0.0.0", kindPrivate, "RFC 1918"},
	{"10.255.255.255", kindPrivate, "RFC 1918"},
	{"172.16.0.1", kindPrivate, "RFC 1918"},
	{"172.31.255.255", kindPrivate, "RFC 1918"},
	{"192.168.1.1", kindPrivate, "RFC 1918"},
	// Link-local.
	{"169.254.1.1", kindPrivate, "link-local"},
	{"169.254.255.255", kindPrivate, "link-local"},
	{"fe80::1", kindPrivate, "link-local"},
	{"fe80::1%eth0", kindPrivate, "link-local"},
	{"febf:ffff::1", kindPrivate, "link-local"},
	// CGNAT.
	{"100.64.0.1", kindPrivate, "CGNAT"},
	{"100.127.255.255", kindPrivate, "CGNAT"},
	// ULA.
	{"fc00::1", kindPrivate, "unique local"},
	{"fd12:3456::1", kindPrivate, "unique local"},
	// This network, unspecified, reserved, broadcast, multicast.
	{"0.0.0.0", kindPrivate, "unspecified"},
	{"0.1.2.3", kindPrivate, "this network"},
	{"::", kindPrivate, "unspecified"},
	{"240.0.0.1", kindPrivate, "reserved"},
	{"254.255.255.255", kindPrivate, "reserved"},
	{"255.255.255.255", kindPrivate, "broadcast"},
	{"224.0.0.1", kindPrivate, "multicast"},
	{"239.255.255.250", kindPrivate, "multicast"},
	{"ff02::1", kindPrivate, "multicast"},
	{"ff0e::1", kindPrivate, "multicast"},
	// Documentation and benchmarking.
	{"192.0.2.1", kindPrivate, "documentation"},
	{"198.51.100.7", kindPrivate, "documentation"},
	{"203.0.113.255", kindPrivate, "documentation"},
	{"198.18.0.1", kindPrivate, "benchmarking"},
	{"198.19.255.255", kindPrivate, "benchmarking"},
	{"2001:db8::1", kindPrivate, "documentation"},
	{"3fff::1", kindPrivate, "documentation"},
	{"2001:2::1", kindPrivate, "benchmarking"},
	// Other special-purpose ranges.
	{"192.0.0.8", kindPrivate, "IETF protocol assignment"},
	{"192.88.99.1", kindPrivate, "6to4 relay"},
	{"100::1", kindPrivate, "discard-only"},
	{"fec0::1", kindPrivate, "site-local"},
	{"::1.2.3.4", kindPrivate, "IPv4-compatible"},
	{"::ffff:0:a00:1", kindPrivate, "IPv4-translated"},
	{"2001:10::1", kindPrivate, "IETF protocol assignment"},
	{"4000::1", kindPrivate, "outside 2000::/3"},
	{"1::1", kindPrivate, "outside 2000::/3"},
	// Teredo: always non-public.
	{"2001::1", kindPrivate, "Teredo"},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", kindPrivate, "Teredo"},
	// IPv4-mapped IPv6.
	{"::ffff:127.0.0.1", kindPrivate, "IPv4-mapped form of 127.0.0.1, a loopback"},
	{"::ffff:10.0.0.1", kindPrivate, "IPv4-mapped form of 10.0.0.1, a private address (RFC 1918)"},
	{"::ffff:0.0.0.0", kindPrivate, "IPv4-mapped form of 0.0.0.0, an unspecified"},
	// NAT64.
	{"64:ff9b::7f00:1", kindPrivate, "NAT64 (64:ff9b::/96) form of 127.0.0.1, a loopback"},
	{"64:ff9b::a00:5", kindPrivate, "NAT64 (64:ff9b::/96) form of 10.0.0.5, a private"},
	{"64:ff9b::c0a8:101", kindPrivate, "form of 192.168.1.1"},
	{"64:ff9b:1::a00:1", kindPrivate, "local-use NAT64"},
	{"64:ff9b:1:ffff::808:808", kindPrivate, "local-use NAT64"},
	{"64:ff9b:0:0:1::808:808", kindPrivate, "outside 2000::/3"},
	// 6to4.
	{"2002:7f00:1::1", kindPrivate, "6to4 (2002::/16) form of 127.0.0.1, a loopback"},
	{"2002:a00:5::", kindPrivate, "6to4 (2002::/16) form of 10.0.0.5"},
	{"2002:a9fe:1::", kindPrivate, "form of 169.254.0.1, a link-local"},
	// Cloud metadata.
	{"169.254.169.254", kindMetadata, "cloud metadata"},
	{"169.254.170.2", kindMetadata, "cloud metadata"},
	{"169.254.170.23", kindMetadata, "cloud metadata"},
	{"169.254.0.23", kindMetadata, "cloud metadata"},
	{"100.100.100.200", kindMetadata, "cloud metadata"},
	{"168.63.129.16", kindMetadata, "cloud metadata address (Azure WireServer)"},
	{"192.0.0.192", kindMetadata, "cloud metadata"},
	{"fd00:ec2::254", kindMetadata, "cloud metadata"},
	{"fd00:ec2::23", kindMetadata, "cloud metadata"},
	{"fd20:ce::254", kindMetadata, "cloud metadata"},
	{"::ffff:169.254.169.254", kindMetadata, "IPv4-mapped form of 169.254.169.254, a cloud metadata"},
	{"64:ff9b::a9fe:a9fe", kindMetadata, "NAT64 (64:ff9b::/96) form of 169.254.169.254, a cloud metadata"},
	{"2002:a9fe:a9fe::", kindMetadata, "6to4 (2002::/16) form of 169.254.169.254, a cloud metadata"},
	{"64:ff9b::6464:64c8", kindMetadata, "form of 100.100.100.200"},
}

func TestClassify(t *testing.T) {
	for _, tc := range addrCases {
		a := netip.MustParseAddr(tc.addr)
		c := classify(a)
		if c.kind != tc.kind {
			t.Errorf("classify(%s).kind = %d (%s), want %d", tc.addr, c.kind, c.name, tc.kind)
		}
		if !strings.Contains(c.name, tc.class) {
			t.Errorf("classify(%s) = %q, want it to contain %q", tc.addr, c.name, tc.class)
		}
		class, public := Classify(a)
		if public != (tc.kind == kindPublic) || class != c.name {
			t.Errorf("Classify(%s) = %q, %v; want %q, %v", tc.addr, class, public, c.name, tc.kind == kindPublic)
		}
	}
	if class, public := Classify(netip.Addr{}); public || class != "invalid address" {
		t.Errorf("Classify(zero) = %q, %v", class, public)
	}
}

// TestAddressClassesThroughClient resolves a granted name to each address
// and checks what the Client does with it: connect (recorded by the fake
// dialer, which sends nothing) or refuse before dialling, with and without
// privateNetwork: allow.
func TestAddressClassesThroughClient(t *testing.T) {
	for _, allow := range []bool{false, true} {
		for _, tc := range addrCases {
			a := netip.MustParseAddr(tc.addr)
			if a.Zone() != "" {
				continue // a resolver does not return zones for a DNS name
			}
			name := "svc.example.com"
			fn := newFakeNet(t)
			fn.name(name, []netip.Addr{a})
			rule := Rule{Host: name, Ports: []int{443}, Schemes: []string{"https"}}
			if allow {
				rule.PrivateNetwork = "allow"
			}
			c := mustNew(t, Policy{Plugin: "fetch", Rules: []Rule{rule}}, fn.options()...)
			_, err := c.Do(context.Background(), get("https://svc.example.com/x"))
			wantDial := tc.kind == kindPublic || tc.kind == kindPrivate && allow
			dials := fn.Dials()
			if wantDial {
				want := "tcp4 " + hostPort(a.Unmap().String(), 443)
				if a.Unmap().Is6() {
					want = "tcp6 " + hostPort(a.String(), 443)
				}
				if len(dials) != 1 || dials[0] != want {
					t.Errorf("allow=%v %s: dials = %q, want [%q]", allow, tc.addr, dials, want)
				}
				if !errors.Is(err, errNoRoute) || errors.Is(err, ErrDenied) {
					t.Errorf("allow=%v %s: err = %v, want the fake dialer's", allow, tc.addr, err)
				}
				continue
			}
			if len(dials) != 0 {
				t.Errorf("allow=%v %s: dialled %q, want no dial", allow, tc.addr, dials)
			}
			d := asDenied(t, err)
			if d.IP != a.Unmap() {
				t.Errorf("allow=%v %s: DeniedError.IP = %s", allow, tc.addr, d.IP)
			}
			if tc.kind == kindMetadata {
				if !strings.Contains(d.Error(), "always refused") {
					t.Errorf("allow=%v %s: %v", allow, tc.addr, d)
				}
			} else if !strings.Contains(d.Error(), "does not set privateNetwork: allow for svc.example.com") {
				t.Errorf("allow=%v %s: %v", allow, tc.addr, d)
			}
		}
	}
}

// TestIPLiteralClasses asks for IP literals that a rule names: the class
// check applies to them too.
func TestIPLiteralClasses(t *testing.T) {
	cases := []struct {
		host  string
		allow bool
		ok    bool
		msg   string
	}{
		{"127.0.0.1", false, false, "127.0.0.1 is a loopback address, and the grant does not set privateNetwork: allow for 127.0.0.1"},
		{"127.0.0.1", true, true, ""},
		{"10.0.0.1", false, false, "10.0.0.1 is a private address (RFC 1918)"},
		{"::1", false, false, "::1 is a loopback address"},
		{"::ffff:127.0.0.1", false, false, "that is 127.0.0.1, a loopback address"},
		{"::ffff:127.0.0.1", true, true, ""},
		{"64:ff9b::7f00:1", false, false, "NAT64 (64:ff9b::/96) form of 127.0.0.1"},
		{"169.254.169.254", true, false, "169.254.169.254 is a cloud metadata address (AWS, GCP, Azure, OCI, OpenStack and others), which is always refused"},
		{"fd00:ec2::254", true, false, "always refused"},
		{"::ffff:169.254.169.254", true, false, "always refused"},
		{"8.8.8.8", false, true, ""},
	}
	for _, tc := range cases {
		fn := newFakeNet(t)
		rule := Rule{Host: tc.host, Ports: []int{80}, Schemes: []string{"http"}}
		if tc.allow {
			rule.PrivateNetwork = "allow"
		}
		c := mustNew(t, Policy{Plugin: "p", Rules: []Rule{rule}}, fn.options()...)
		u := "http://" + hostPort(tc.host, 80) + "/"
		_, err := c.Do(context.Background(), get(u))
		if tc.ok {
			if !errors.Is(err, errNoRoute) || len(fn.Dials()) != 1 {
				t.Errorf("%s allow=%v: err %v, dials %q; want one recorded dial", tc.host, tc.allow, err, fn.Dials())
			}
			continue
		}
		d := asDenied(t, err)
		if !strings.Contains(d.Error(), tc.msg) {
			t.Errorf("%s allow=%v: %q does not contain %q", tc.host, tc.allow, d.Error(), tc.msg)
		}
		if len(fn.Dials()) != 0 || len(fn.Lookups()) != 0 {
			t.Errorf("%s: dials %q lookups %q, want none", tc.host, fn.Dials(), fn.Lookups())
		}
	}
}
