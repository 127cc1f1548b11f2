package capabilities

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// Scheme, port and private-network values of a network rule.
const (
	SchemeHTTP   = "http"
	SchemeHTTPS  = "https"
	PrivateAllow = "allow"
	PrivateDeny  = "deny"
)

// normalizeHost checks a host pattern from a grant or manifest and returns
// it in canonical form (lower-case; IP literals in their canonical
// spelling), or a message saying what is wrong and what is allowed.
func normalizeHost(raw string) (string, string) {
	const want = "want a host name such as api.example.com, an IP address, or *.example.com"
	h := strings.ToLower(raw)
	switch {
	case h == "":
		return "", "must not be empty (" + want + ")"
	case len(h) > 253:
		return "", "is longer than 253 characters"
	case strings.Contains(h, "://"):
		return "", fmt.Sprintf("%q is a URL (%s; put the scheme in schemes)", raw, want)
	case strings.ContainsAny(h, "/?#@"):
		return "", fmt.Sprintf("%q is not a host (%s, without a path or user)", raw, want)
	case strings.ContainsAny(h, " \t"):
		return "", fmt.Sprintf("%q contains a space (%s)", raw, want)
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && a.Is6() {
			if a.Zone() != "" {
				return "", fmt.Sprintf("%q has an IPv6 zone, which is not allowed", raw)
			}
			return a.String(), ""
		}
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", fmt.Sprintf("%q has an IPv6 zone, which is not allowed", raw)
		}
		return a.String(), ""
	}
	if strings.Contains(h, ":") {
		if hp, port, err := net.SplitHostPort(h); err == nil {
			return "", fmt.Sprintf("%q has a port in it (write host: %s and ports: [%s])", raw, hp, port)
		}
		return "", fmt.Sprintf("%q is not a valid host or IP address (%s)", raw, want)
	}
	name := h
	if strings.Contains(h, "*") {
		if h == "*" || h == "*." {
			return "", fmt.Sprintf("%q would match every host (list the hosts the plugin needs, or use *.example.com)", raw)
		}
		if !strings.HasPrefix(h, "*.") || strings.Contains(h[2:], "*") {
			return "", fmt.Sprintf("%q is not allowed: a wildcard may only be a whole first label, as in *.example.com", raw)
		}
		name = h[2:]
		if !strings.Contains(name, ".") {
			return "", fmt.Sprintf("%q would match a whole top-level domain (want *.example.com or narrower)", raw)
		}
	}
	if strings.HasSuffix(name, ".") {
		return "", fmt.Sprintf("%q ends with a dot (write it without the trailing dot)", raw)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if msg := checkLabel(l); msg != "" {
			return "", fmt.Sprintf("%q is not a valid host name: %s (%s)", raw, msg, want)
		}
	}
	if last := labels[len(labels)-1]; allDigits(last) || isHexNumber(last) {
		return "", fmt.Sprintf("%q is not a valid IP address or host name (a host name cannot end in a number, which resolvers may read as an IPv4 address)", raw)
	}
	return h, ""
}

func checkLabel(l string) string {
	if l == "" {
		return "it has an empty label"
	}
	if len(l) > 63 {
		return "a label is longer than 63 characters"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return "a label starts or ends with '-'"
			}
		case c >= 0x80:
			return "it is not ASCII (write internationalised names in their xn-- form)"
		default:
			return fmt.Sprintf("%q is not allowed in a host name", c)
		}
	}
	return ""
}

// isHexNumber reports whether a label is "0x" followed by hex digits, which
// URL parsers and some resolvers read as part of an IPv4 address.
func isHexNumber(s string) bool {
	rest, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isWildcard reports whether a normalised host pattern is "*.suffix".
func isWildcard(host string) bool { return strings.HasPrefix(host, "*.") }

// hostCovers reports whether the normalised grant host pattern g covers the
// normalised requested host pattern r: equal, or g is "*.suffix" and r is a
// name (or a narrower wildcard) under that suffix.
func hostCovers(g, r string) bool {
	if g == r {
		return true
	}
	if !isWildcard(g) {
		return false
	}
	suffix := g[1:] // ".example.com"
	if isWildcard(r) {
		return strings.HasSuffix(r[1:], suffix)
	}
	return len(r) > len(suffix) && strings.HasSuffix(r, suffix)
}

// defaultPorts returns the default ports for a set of schemes, ascending.
func defaultPorts(schemes []string) []int {
	var ports []int
	for _, s := range schemes {
		switch s {
		case SchemeHTTP:
			ports = append(ports, 80)
		case SchemeHTTPS:
			ports = append(ports, 443)
		}
	}
	sort.Ints(ports)
	return ports
}

// hostPort joins a host and port, bracketing IPv6 literals.
func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// describeRule formats a rule for people: "example.com:443 (https)",
// "example.com:80,443 (http, https)", "127.0.0.1:8080 (http, private network)".
func describeRule(r netguard.Rule) string {
	ports := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ports[i] = strconv.Itoa(p)
	}
	h := r.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if len(ports) > 0 {
		h += ":" + strings.Join(ports, ",")
	}
	extra := append([]string(nil), r.Schemes...)
	if r.AllowsPrivate() {
		extra = append(extra, "private network")
	}
	if len(extra) > 0 {
		h += " (" + strings.Join(extra, ", ") + ")"
	}
	return h
}

// safeText quotes s when it holds anything beyond the characters of host
// names and paths, and shortens it, so that text a plugin controls cannot
// forge log lines or hide in an error message.
func safeText(s string) string {
	const max = 256
	if len(s) > max {
		s = s[:max] + "..."
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._:*[]/", c) >= 0) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// DescribeDenial explains a refused connection in terms a grant author can
// act on: which plugin asked for what, and what its grant allows instead.
// For example:
//
//	plugin fetch asked for api.github.com:443 over https; the grant allows no hosts
//	plugin fetch asked for api.github.com:443 over https; the grant allows: example.com:443 (https)
//
// The plugin name, host and scheme are quoted if they contain unexpected
// characters, since the request comes from untrusted code. A zero port or an
// empty scheme is left out.
func DescribeDenial(plugin, host string, port int, scheme string, allowed []netguard.Rule) string {
	var b strings.Builder
	if plugin == "" {
		b.WriteString("the plugin")
	} else {
		b.WriteString("plugin ")
		b.WriteString(safeText(plugin))
	}
	b.WriteString(" asked for ")
	b.WriteString(safeText(hostPort(host, port)))
	if scheme != "" {
		b.WriteString(" over ")
		b.WriteString(safeText(scheme))
	}
	if len(allowed) == 0 {
		b.WriteString("; the grant allows no hosts")
		return b.String()
	}
	b.WriteString("; the grant allows: ")
	for i, r := range allowed {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(describeRule(r))
	}
	return b.String()
}
