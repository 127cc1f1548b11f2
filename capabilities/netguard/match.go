package netguard

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// target is where one request (or one redirect hop) goes, after parsing and
// normalisation.
type target struct {
	scheme string
	// host is a lower-case ASCII name without a trailing dot, or the
	// canonical text of an IP literal (see ip).
	host string
	// ip is valid when host is an IP literal.
	ip   netip.Addr
	port int
}

// hostPort returns "host:port", with brackets around an IPv6 literal.
func (t target) hostPort() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// origin returns what a redirect must keep for credentials to follow it.
func (t target) origin() string { return t.scheme + "://" + t.hostPort() }

func defaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}

// parseTarget parses and normalises raw. On success it returns the URL to
// send (user information and fragment removed, host normalised) and its
// target. Otherwise reason says why the URL is refused, and t holds what
// could be learnt of it, for the error. reason never quotes the URL: its
// path and query may hold secrets.
func parseTarget(raw string) (u *url.URL, t target, reason string) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, t, "the URL could not be parsed"
	}
	t.scheme = u.Scheme
	if t.scheme != "http" && t.scheme != "https" {
		if t.scheme == "" {
			return nil, t, "the URL is not absolute (it has no scheme)"
		}
		return nil, t, "only http and https URLs are allowed"
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, t, "the URL has no host"
	}
	rawHost := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		addr, err := netip.ParseAddr(rawHost)
		if err != nil || !addr.Is6() {
			t.host = strconv.QuoteToASCII(rawHost)
			return nil, t, "the host is not a valid IPv6 literal"
		}
		if addr.Zone() != "" {
			t.host = strconv.QuoteToASCII(rawHost)
			return nil, t, "the IPv6 literal has a zone (%), which is refused"
		}
		t.host, t.ip = addr.String(), addr
	} else {
		h, ip, why := normaliseHost(rawHost)
		if why != "" {
			t.host = strconv.QuoteToASCII(rawHost)
			return nil, t, why
		}
		t.host, t.ip = h, ip
	}
	t.port = defaultPort(t.scheme)
	explicit := u.Port() != ""
	if explicit {
		p, err := strconv.Atoi(u.Port())
		if err != nil || p < 1 || p > 65535 {
			return nil, t, "the port is not between 1 and 65535"
		}
		t.port = p
	}
	// User information is checked after the host so that the error can say
	// which host was asked for; the user information itself is never
	// reported.
	if u.User != nil {
		return nil, t, "the URL carries user information (user:password@), which is refused; send credentials in a header instead"
	}
	out := *u
	out.User = nil
	out.Fragment, out.RawFragment = "", ""
	if t.ip.Is6() {
		out.Host = "[" + t.host + "]"
	} else {
		out.Host = t.host
	}
	if explicit {
		out.Host = t.hostPort()
	}
	return &out, t, ""
}

// normaliseHost turns a host name or IPv4 literal as written in a URL or a
// rule into its canonical form: lower case, without a trailing dot. It
// refuses what is not plain ASCII DNS syntax, and names that some resolvers
// would read as an IPv4 address in a legacy form ("127.1", "0x7f.1",
// "2130706433").
func normaliseHost(h string) (host string, ip netip.Addr, reason string) {
	h = strings.TrimSuffix(h, ".")
	if addr, err := netip.ParseAddr(h); err == nil {
		if addr.Zone() != "" || !addr.Is4() {
			return "", netip.Addr{}, "the host is not a valid host name"
		}
		return addr.String(), addr, ""
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return "", netip.Addr{}, "the host name is not ASCII; use its punycode (xn--) form"
		}
	}
	h = strings.ToLower(h)
	if h == "" || len(h) > 253 {
		return "", netip.Addr{}, "the host is not a valid host name"
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", netip.Addr{}, "the host is not a valid host name"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", netip.Addr{}, "the host is not a valid host name"
			}
		}
	}
	if looksNumeric(labels[len(labels)-1]) {
		return "", netip.Addr{}, "the host looks like an IP address in a non-standard form"
	}
	return h, netip.Addr{}, ""
}

// looksNumeric reports whether a final label would make a URL parser or a
// resolver treat the whole name as an IPv4 address (the WHATWG URL
// "ends in a number" rule: all decimal digits, or 0x followed by hex).
func looksNumeric(l string) bool {
	if rest, ok := strings.CutPrefix(l, "0x"); ok {
		l = rest
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// normaliseRule checks r and returns it in canonical form, with the
// defaults of the grant format filled in: schemes [https], ports 443 for
// https and 80 for http.
func normaliseRule(r Rule) (Rule, error) {
	out := Rule{PrivateNetwork: r.PrivateNetwork}
	switch r.PrivateNetwork {
	case "", "allow", "deny":
	default:
		return Rule{}, fmt.Errorf("privateNetwork is %q; want allow or deny", r.PrivateNetwork)
	}
	h := strings.TrimSpace(r.Host)
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		n, ip, why := normaliseHost(suffix)
		if why != "" || ip.IsValid() {
			return Rule{}, fmt.Errorf("host %q: a wildcard must be \"*.\" followed by a host name", r.Host)
		}
		out.Host = "*." + n
	} else {
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if addr, err := netip.ParseAddr(h); err == nil {
			if addr.Zone() != "" {
				return Rule{}, fmt.Errorf("host %q: an IP literal must not have a zone", r.Host)
			}
			out.Host = addr.String()
		} else {
			n, _, why := normaliseHost(h)
			if why != "" {
				return Rule{}, fmt.Errorf("host %q: %s", r.Host, why)
			}
			out.Host = n
		}
	}
	for _, s := range r.Schemes {
		s = strings.ToLower(s)
		if s != "http" && s != "https" {
			return Rule{}, fmt.Errorf("host %q: scheme %q; want http or https", r.Host, s)
		}
		if !slices.Contains(out.Schemes, s) {
			out.Schemes = append(out.Schemes, s)
		}
	}
	if len(out.Schemes) == 0 {
		out.Schemes = []string{"https"}
	}
	for _, p := range r.Ports {
		if p < 1 || p > 65535 {
			return Rule{}, fmt.Errorf("host %q: port %d is not between 1 and 65535", r.Host, p)
		}
		if !slices.Contains(out.Ports, p) {
			out.Ports = append(out.Ports, p)
		}
	}
	if len(out.Ports) == 0 {
		for _, s := range out.Schemes {
			out.Ports = append(out.Ports, defaultPort(s))
		}
	}
	return out, nil
}

// MatchesHost reports whether the rule's host covers host, which must
// already be normalised (lower case, no trailing dot; an IP literal in
// canonical form). An exact rule matches only itself; "*.example.com"
// matches any name that ends in ".example.com" but not "example.com", and
// never an IP literal.
func (r Rule) MatchesHost(host string) bool {
	if suffix, ok := strings.CutPrefix(r.Host, "*."); ok {
		if _, err := netip.ParseAddr(host); err == nil {
			return false
		}
		return len(host) > len(suffix)+1 && strings.HasSuffix(host, "."+suffix)
	}
	return host == r.Host
}

// Allows reports whether the rule lets a request reach host on port over
// scheme. host must be normalised as for MatchesHost.
func (r Rule) Allows(scheme, host string, port int) bool {
	return r.MatchesHost(host) && slices.Contains(r.Schemes, scheme) && slices.Contains(r.Ports, port)
}

// String describes the rule as "host:port over scheme", listing every port
// and scheme, e.g. "*.example.com:{80,443} over http or https".
func (r Rule) String() string {
	var b strings.Builder
	if strings.Contains(r.Host, ":") {
		b.WriteString("[" + r.Host + "]")
	} else {
		b.WriteString(r.Host)
	}
	b.WriteByte(':')
	if len(r.Ports) == 1 {
		b.WriteString(strconv.Itoa(r.Ports[0]))
	} else {
		b.WriteByte('{')
		for i, p := range r.Ports {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
		b.WriteByte('}')
	}
	b.WriteString(" over ")
	b.WriteString(strings.Join(r.Schemes, " or "))
	if r.AllowsPrivate() {
		b.WriteString(" (privateNetwork: allow)")
	}
	return b.String()
}

// match returns the rules that allow t; when there are none, reason says
// what the grant allows instead.
func match(rules []Rule, t target) (allowed []Rule, reason string) {
	var sameHost []Rule
	for _, r := range rules {
		if !r.MatchesHost(t.host) {
			continue
		}
		sameHost = append(sameHost, r)
		if slices.Contains(r.Schemes, t.scheme) && slices.Contains(r.Ports, t.port) {
			allowed = append(allowed, r)
		}
	}
	switch {
	case len(allowed) > 0:
		return allowed, ""
	case len(rules) == 0:
		return nil, "the grant allows no hosts"
	case len(sameHost) > 0:
		return nil, "the grant allows that host only as " + listRules(sameHost)
	default:
		return nil, "the grant allows only " + listRules(rules)
	}
}

// listRules describes rules for a message, naming at most eight.
func listRules(rules []Rule) string {
	const most = 8
	var parts []string
	for i, r := range rules {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(rules)-most))
			break
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}
