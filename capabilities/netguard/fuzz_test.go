package netguard

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzMatch checks the URL parser and host matcher against the rule text:
// whatever URL is accepted must name, textually, a host the rule covers,
// on one of its ports and schemes, and the URL that would be sent must say
// the same.
func FuzzMatch(f *testing.F) {
	seeds := []struct{ rule, url string }{
		{"api.github.com", "https://api.github.com/repos"},
		{"api.github.com", "HTTPS://API.GITHUB.COM./"},
		{"api.github.com", "https://api.github.com.evil.net/"},
		{"api.github.com", "https://api.github.com@evil.net/"},
		{"api.github.com", "https://evil.net#@api.github.com/"},
		{"api.github.com", "https://evil.net\\@api.github.com/"},
		{"api.github.com", "https://api.githu\u212a.com/"},
		{"*.example.com", "https://a.example.com/"},
		{"*.example.com", "https://example.com/"},
		{"*.example.com", "https://.example.com/"},
		{"*.example.com", "https://a..example.com/"},
		{"*.example.com", "https://aexample.com/"},
		{"*.example.com", "https://a.example.com:443/"},
		{"*.example.com", "https://a.example.com%2f.evil.net/"},
		{"*.com", "https://1.2.3.4.com/"},
		{"127.0.0.1", "https://127.0.0.1/"},
		{"127.0.0.1", "https://127.1/"},
		{"127.0.0.1", "https://2130706433/"},
		{"127.0.0.1", "https://[::ffff:127.0.0.1]/"},
		{"::1", "https://[::1]/"},
		{"::1", "https://[0:0::1]:443/"},
		{"fe80::1", "https://[fe80::1%25eth0]/"},
		{"xn--bcher-kva.de", "https://bücher.de/"},
	}
	for _, s := range seeds {
		f.Add(s.rule, s.url, true)
		f.Add(s.rule, s.url, false)
	}
	f.Fuzz(func(t *testing.T, ruleHost, rawURL string, httpToo bool) {
		in := Rule{Host: ruleHost, Schemes: []string{"https"}, Ports: []int{443, 8443}}
		if httpToo {
			in.Schemes = []string{"http", "https"}
			in.Ports = []int{80, 443}
		}
		r, err := normaliseRule(in)
		if err != nil {
			return
		}
		// A normalised rule is itself canonical.
		if again, err := normaliseRule(r); err != nil || again.Host != r.Host {
			t.Fatalf("rule %q normalises to %q, then to %q (%v)", ruleHost, r.Host, again.Host, err)
		}
		u, tg, reason := parseTarget(rawURL)
		if reason != "" {
			return
		}
		allowed, reason := match([]Rule{r}, tg)
		if reason != "" {
			if len(allowed) != 0 {
				t.Fatal("refused with allowing rules")
			}
			return
		}
		if len(allowed) != 1 {
			t.Fatalf("allowed by %d rules", len(allowed))
		}

		// The host satisfies the rule textually.
		h := tg.host
		if suffix, ok := strings.CutPrefix(r.Host, "*."); ok {
			if !strings.HasSuffix(h, "."+suffix) || len(h) <= len(suffix)+1 {
				t.Fatalf("host %q matched wildcard %q", h, r.Host)
			}
			if tg.ip.IsValid() {
				t.Fatalf("IP literal %q matched wildcard %q", h, r.Host)
			}
		} else if h != r.Host {
			t.Fatalf("host %q matched rule %q", h, r.Host)
		}
		// The host is canonical: lower-case ASCII, no trailing dot, only
		// name characters (or an IP literal in its canonical form).
		if tg.ip.IsValid() {
			if tg.ip.String() != h || tg.ip.Zone() != "" {
				t.Fatalf("IP host %q is not canonical", h)
			}
		} else {
			if h == "" || strings.HasSuffix(h, ".") || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
				t.Fatalf("host %q has an empty label", h)
			}
			for i := 0; i < len(h); i++ {
				c := h[i]
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
					t.Fatalf("host %q has byte %q", h, c)
				}
			}
			if _, err := netip.ParseAddr(h); err == nil {
				t.Fatalf("name host %q parses as an IP", h)
			}
		}
		if !slices.Contains(r.Schemes, tg.scheme) || !slices.Contains(r.Ports, tg.port) {
			t.Fatalf("%s:%d allowed by %s", tg.scheme, tg.port, r)
		}

		// The URL that would be sent names the same scheme, host and port
		// and carries no user information.
		sent, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("sent URL %q does not parse: %v", u, err)
		}
		if sent.User != nil || sent.Scheme != tg.scheme || sent.Hostname() != h {
			t.Fatalf("sent URL %q, target %+v", u, tg)
		}
		port := defaultPort(tg.scheme)
		if sent.Port() != "" {
			port, _ = strconv.Atoi(sent.Port())
		}
		if port != tg.port {
			t.Fatalf("sent URL %q has port %d, target %d", u, port, tg.port)
		}
		// And parsing it again gives the same target.
		_, tg2, reason := parseTarget(u.String())
		if reason != "" || tg2 != tg {
			t.Fatalf("sent URL %q parses to %+v (%s), want %+v", u, tg2, reason, tg)
		}
	})
}
