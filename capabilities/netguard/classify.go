package netguard

import (
	"net/netip"
)

// addrKind says what a grant must say for a connection to an address.
type addrKind int

const (
	// kindPublic addresses may be reached by any rule that matched.
	kindPublic addrKind = iota
	// kindPrivate addresses may be reached only when the matched rule sets
	// privateNetwork: allow.
	kindPrivate
	// kindMetadata addresses (cloud instance metadata and credential
	// services) are always refused.
	kindMetadata
)

// addrClass is the classification of one address.
type addrClass struct {
	kind addrKind
	// name is a noun phrase for messages, e.g. "private address (RFC 1918)".
	name string
	// article is "a", "an" or "the", to put before name in a sentence.
	article string
}

func (c addrClass) phrase() string { return c.article + " " + c.name }

// metadataAddrs are the cloud instance-metadata and credential endpoints. A
// connection to one of them is refused whatever the grant says, even with
// privateNetwork: allow and even when a rule names the address itself: they
// hand out the host's cloud credentials, which a plugin must never see.
var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "AWS, GCP, Azure, OCI, OpenStack and others",
	netip.MustParseAddr("169.254.170.2"):   "AWS ECS task credentials",
	netip.MustParseAddr("169.254.170.23"):  "AWS EKS Pod Identity",
	netip.MustParseAddr("169.254.0.23"):    "Tencent Cloud",
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud",
	netip.MustParseAddr("168.63.129.16"):   "Azure WireServer",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud Classic",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS, IPv6",
	netip.MustParseAddr("fd00:ec2::23"):    "AWS EKS Pod Identity, IPv6",
	netip.MustParseAddr("fd20:ce::254"):    "GCP, IPv6",
}

type prefixClass struct {
	prefix  netip.Prefix
	name    string
	article string
}

func pc(prefix, article, name string) prefixClass {
	return prefixClass{netip.MustParsePrefix(prefix), name, article}
}

// v4Special lists the IPv4 ranges that are not publicly routable or that
// no plugin has any business reaching. Order matters only where ranges
// nest: the first match wins.
var v4Special = []prefixClass{
	pc("0.0.0.0/32", "an", "unspecified address"),
	pc("0.0.0.0/8", "a", `"this network" address (0.0.0.0/8)`),
	pc("10.0.0.0/8", "a", "private address (RFC 1918)"),
	pc("100.64.0.0/10", "a", "shared address (CGNAT, RFC 6598)"),
	pc("127.0.0.0/8", "a", "loopback address"),
	pc("169.254.0.0/16", "a", "link-local address"),
	pc("172.16.0.0/12", "a", "private address (RFC 1918)"),
	pc("192.0.0.0/24", "an", "IETF protocol assignment address (192.0.0.0/24)"),
	pc("192.0.2.0/24", "a", "documentation address (TEST-NET-1, RFC 5737)"),
	pc("192.88.99.0/24", "a", "6to4 relay anycast address (192.88.99.0/24)"),
	pc("192.168.0.0/16", "a", "private address (RFC 1918)"),
	pc("198.18.0.0/15", "a", "benchmarking address (198.18.0.0/15)"),
	pc("198.51.100.0/24", "a", "documentation address (TEST-NET-2, RFC 5737)"),
	pc("203.0.113.0/24", "a", "documentation address (TEST-NET-3, RFC 5737)"),
	pc("224.0.0.0/4", "a", "multicast address"),
	pc("255.255.255.255/32", "the", "broadcast address"),
	pc("240.0.0.0/4", "a", "reserved address (240.0.0.0/4)"),
}

// v6Special lists the IPv6 ranges inside or outside 2000::/3 that get a
// name of their own. Every IPv6 address outside 2000::/3 that is not
// listed is refused as reserved. IPv4-mapped, NAT64 (64:ff9b::/96) and
// 6to4 addresses are handled before this list by looking at the IPv4
// address they carry.
var v6Special = []prefixClass{
	pc("::/128", "an", "unspecified address"),
	pc("::1/128", "a", "loopback address"),
	pc("::/96", "an", "IPv4-compatible address (deprecated, ::/96)"),
	pc("::ffff:0:0:0/96", "an", "IPv4-translated address (::ffff:0:0:0/96)"),
	pc("64:ff9b:1::/48", "a", "local-use NAT64 address (64:ff9b:1::/48)"),
	pc("100::/64", "a", "discard-only address (100::/64)"),
	pc("2001::/32", "a", "Teredo address (2001::/32)"),
	pc("2001:2::/48", "a", "benchmarking address (2001:2::/48)"),
	pc("2001:db8::/32", "a", "documentation address (2001:db8::/32)"),
	pc("2001::/23", "an", "IETF protocol assignment address (2001::/23)"),
	pc("3fff::/20", "a", "documentation address (3fff::/20)"),
	pc("fc00::/7", "a", "unique local address (ULA, fc00::/7)"),
	pc("fe80::/10", "a", "link-local address"),
	pc("fec0::/10", "a", "site-local address (deprecated, fec0::/10)"),
	pc("ff00::/8", "a", "multicast address"),
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// Classify names the kind of address addr is and reports whether a plugin
// may reach it without privateNetwork: allow. The class is a short noun
// phrase such as "public address", "loopback address" or "private address
// (RFC 1918)".
//
// An IPv4-mapped IPv6 address, a NAT64 address in 64:ff9b::/96 and a 6to4
// address in 2002::/16 are classified by the IPv4 address they carry. An
// IPv6 address outside 2000::/3 is never public. Cloud metadata addresses
// (see the package documentation) are never public, and a Client refuses
// them even when the grant allows private addresses.
func Classify(addr netip.Addr) (class string, public bool) {
	c := classify(addr)
	return c.name, c.kind == kindPublic
}

func classify(addr netip.Addr) addrClass {
	if !addr.IsValid() {
		return addrClass{kindPrivate, "invalid address", "an"}
	}
	// A zone only ever qualifies a non-global address; classify the
	// address itself.
	addr = addr.WithZone("")
	if where, ok := metadataAddrs[addr]; ok {
		return addrClass{kindMetadata, "cloud metadata address (" + where + ")", "a"}
	}
	if addr.Is4In6() {
		v4 := addr.Unmap()
		return embedded("IPv4-mapped", v4)
	}
	if addr.Is4() {
		for _, s := range v4Special {
			if s.prefix.Contains(addr) {
				return addrClass{kindPrivate, s.name, s.article}
			}
		}
		return addrClass{kindPublic, "public address", "a"}
	}
	b := addr.As16()
	if nat64WellKnown.Contains(addr) {
		return embedded("NAT64 (64:ff9b::/96)", netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if sixToFour.Contains(addr) {
		return embedded("6to4 (2002::/16)", netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	for _, s := range v6Special {
		if s.prefix.Contains(addr) {
			return addrClass{kindPrivate, s.name, s.article}
		}
	}
	if !globalUnicast6.Contains(addr) {
		return addrClass{kindPrivate, "reserved IPv6 address (outside 2000::/3)", "a"}
	}
	return addrClass{kindPublic, "public address", "a"}
}

// embedded classifies an IPv6 address that carries the IPv4 address v4 by
// what v4 is: the IPv6 form reaches the same place.
func embedded(form string, v4 netip.Addr) addrClass {
	inner := classify(v4)
	return addrClass{
		kind:    inner.kind,
		name:    form + " form of " + v4.String() + ", " + inner.phrase(),
		article: "the",
	}
}
