package netguard

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	github := Rule{Host: "api.github.com", Ports: []int{443}, Schemes: []string{"https"}}
	wild := Rule{Host: "*.example.com", Ports: []int{80, 443}, Schemes: []string{"http", "https"}}
	ip4 := Rule{Host: "203.0.113.7", Ports: []int{8080}, Schemes: []string{"http"}}
	ip6 := Rule{Host: "2001:db8::7", Ports: []int{443}, Schemes: []string{"https"}}
	all := []Rule{github, wild, ip4, ip6}

	cases := []struct {
		name   string
		rules  []Rule
		url    string
		host   string // normalised host in the target, when known
		reason string // "" when allowed; else a substring of the reason
	}{
		{"exact", all, "https://api.github.com/repos", "api.github.com", ""},
		{"explicit default port", all, "https://api.github.com:443/", "api.github.com", ""},
		{"upper case", all, "HTTPS://API.GitHub.COM/", "api.github.com", ""},
		{"trailing dot", all, "https://api.github.com./", "api.github.com", ""},
		{"two trailing dots", all, "https://api.github.com../", "", "not a valid host name"},
		{"no rules", nil, "https://api.github.com/", "api.github.com", "the grant allows no hosts"},
		{"other host", all, "https://github.com/", "github.com", "the grant allows only api.github.com:443 over https, *.example.com:{80,443} over http or https"},
		{"suffix trick", all, "https://api.github.com.evil.net/", "api.github.com.evil.net", "the grant allows only"},
		{"prefix trick", all, "https://evilapi.github.com/", "evilapi.github.com", "the grant allows only"},
		{"wrong port", all, "https://api.github.com:8443/", "api.github.com", "the grant allows that host only as api.github.com:443 over https"},
		{"wrong scheme", all, "http://api.github.com/", "api.github.com", "the grant allows that host only as api.github.com:443 over https"},
		{"scheme ftp", all, "ftp://api.github.com/", "", "only http and https URLs are allowed"},
		{"scheme file", all, "file:///etc/passwd", "", "only http and https URLs are allowed"},
		{"scheme javascript", all, "javascript:alert(1)", "", "only http and https URLs are allowed"},
		{"relative", all, "/just/a/path", "", "not absolute"},
		{"scheme-relative", all, "//api.github.com/", "", "not absolute"},
		{"opaque", all, "https:api.github.com", "", "no host"},
		{"no host", all, "https:///path", "", "no host"},
		{"unparsable", all, "https://api.github.com/%zz", "", "could not be parsed"},
		{"port zero", all, "https://api.github.com:0/", "api.github.com", "between 1 and 65535"},
		{"port too big", all, "https://api.github.com:65536/", "api.github.com", "between 1 and 65535"},
		{"port leading zero", all, "https://api.github.com:0443/", "api.github.com", ""},
		{"userinfo", all, "https://user:pass@api.github.com/", "api.github.com", "user information"},
		{"user only", all, "https://user@api.github.com/", "api.github.com", "user information"},
		{"empty userinfo", all, "https://@api.github.com/", "api.github.com", "user information"},
		{"wildcard subdomain", all, "http://a.example.com/", "a.example.com", ""},
		{"wildcard deep", all, "https://a.b.c.example.com/", "a.b.c.example.com", ""},
		{"wildcard apex", all, "https://example.com/", "example.com", "the grant allows only"},
		{"wildcard case and dot", all, "https://WWW.Example.COM./", "www.example.com", ""},
		{"wildcard suffix trick", all, "https://a.example.com.evil.net/", "a.example.com.evil.net", "the grant allows only"},
		{"wildcard glued", all, "https://aexample.com/", "aexample.com", "the grant allows only"},
		{"wildcard port", all, "https://a.example.com:8443/", "a.example.com", "only as *.example.com:{80,443} over http or https"},
		{"non-ascii", all, "https://bücher.example.com/", "", "punycode"},
		{"punycode", all, "https://xn--bcher-kva.example.com/", "xn--bcher-kva.example.com", ""},
		{"kelvin sign", all, "https://api.githu\u212a.com/", "", "punycode"},
		{"fullwidth dot", all, "https://api\uff0egithub.com/", "", "punycode"},
		{"underscore", all, "https://_dmarc.example.com/", "_dmarc.example.com", ""},
		{"bad char", all, "https://a!b.example.com/", "", "not a valid host name"},
		{"empty label", all, "https://a..example.com/", "", "not a valid host name"},
		{"decimal ip", all, "http://2130706433/", "", "non-standard form"},
		{"short ip", all, "http://127.1/", "", "non-standard form"},
		{"hex ip", all, "http://0x7f.0.0.1/", "", "non-standard form"},
		{"octal ip", all, "http://0177.0.0.1/", "", "non-standard form"},
		{"numeric label under wildcard", all, "http://1.2.3.example.com/", "1.2.3.example.com", ""},
		{"ip rule", all, "http://203.0.113.7:8080/", "203.0.113.7", ""},
		{"ip rule trailing dot", all, "http://203.0.113.7.:8080/", "203.0.113.7", ""},
		{"ip rule wrong port", all, "http://203.0.113.7/", "203.0.113.7", "only as 203.0.113.7:8080 over http"},
		{"ipv6 rule", all, "https://[2001:db8::7]/", "2001:db8::7", ""},
		{"ipv6 rule long form", all, "https://[2001:0DB8:0:0::7]/", "2001:db8::7", ""},
		{"ipv6 mapped is not the v4 rule", all, "http://[::ffff:203.0.113.7]:8080/", "::ffff:203.0.113.7", "the grant allows only"},
		{"ipv6 zone", all, "https://[fe80::1%25eth0]/", "", "zone"},
		{"ip under wildcard", []Rule{{Host: "*.0.113.7", Ports: []int{80}, Schemes: []string{"http"}}}, "", "", ""}, // invalid rule: checked in TestNewRejects
	}
	for _, tc := range cases {
		if tc.url == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var rules []Rule
			for _, r := range tc.rules {
				nr, err := normaliseRule(r)
				if err != nil {
					t.Fatal(err)
				}
				rules = append(rules, nr)
			}
			_, tg, reason := parseTarget(tc.url)
			if reason == "" {
				_, reason = match(rules, tg)
			}
			if tc.reason == "" && reason != "" {
				t.Fatalf("refused: %s", reason)
			}
			if tc.reason != "" && !strings.Contains(reason, tc.reason) {
				t.Fatalf("reason %q, want it to contain %q", reason, tc.reason)
			}
			if tc.host != "" && tg.host != tc.host {
				t.Errorf("host %q, want %q", tg.host, tc.host)
			}
		})
	}
}

// TestParseTargetURL checks the URL that is sent: normalised host, no user
// information or fragment, path and query kept.
func TestParseTargetURL(t *testing.T) {
	cases := map[string]string{
		"HTTPS://API.GitHub.com./a/b?q=1#frag": "https://api.github.com/a/b?q=1",
		"https://api.github.com:0443/x":        "https://api.github.com:443/x",
		"http://[2001:DB8::1]:8080/":           "http://[2001:db8::1]:8080/",
		"http://[2001:db8::1]/":                "http://[2001:db8::1]/",
		"http://10.0.0.1./":                    "http://10.0.0.1/",
		"https://h.example/a%2Fb":              "https://h.example/a%2Fb",
	}
	for in, want := range cases {
		u, _, reason := parseTarget(in)
		if reason != "" {
			t.Errorf("%s: %s", in, reason)
			continue
		}
		if u.String() != want {
			t.Errorf("%s: sent as %s, want %s", in, u, want)
		}
	}
}

func TestRuleMethods(t *testing.T) {
	w := Rule{Host: "*.example.com", Ports: []int{443}, Schemes: []string{"https"}}
	for host, want := range map[string]bool{
		"a.example.com": true, "a.b.example.com": true, "example.com": false,
		".example.com": false, "aexample.com": false, "a.example.com.x": false,
	} {
		if got := w.MatchesHost(host); got != want {
			t.Errorf("%s.MatchesHost(%q) = %v", w.Host, host, got)
		}
	}
	if !w.Allows("https", "a.example.com", 443) || w.Allows("http", "a.example.com", 443) || w.Allows("https", "a.example.com", 80) {
		t.Error("Allows")
	}
	if got := w.String(); got != "*.example.com:443 over https" {
		t.Errorf("String = %q", got)
	}
	r := Rule{Host: "::1", Ports: []int{80, 8080}, Schemes: []string{"http"}, PrivateNetwork: "allow"}
	if got := r.String(); got != "[::1]:{80,8080} over http (privateNetwork: allow)" {
		t.Errorf("String = %q", got)
	}
}

func TestNewNormalisesRules(t *testing.T) {
	c := mustNew(t, Policy{Rules: []Rule{
		{Host: "API.Example.COM."},
		{Host: "[::1]", Schemes: []string{"HTTP", "http"}},
		{Host: "*.Example.org", Schemes: []string{"http", "https"}, Ports: []int{8080, 8080}},
		{Host: "::FFFF:127.0.0.1", Ports: []int{1}},
	}})
	got := cloneRules(c.rules)
	want := []Rule{
		{Host: "api.example.com", Schemes: []string{"https"}, Ports: []int{443}},
		{Host: "::1", Schemes: []string{"http"}, Ports: []int{80}},
		{Host: "*.example.org", Schemes: []string{"http", "https"}, Ports: []int{8080}},
		{Host: "::ffff:127.0.0.1", Schemes: []string{"https"}, Ports: []int{1}},
	}
	for i := range want {
		if got[i].String() != want[i].String() {
			t.Errorf("rule %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestNewRejects(t *testing.T) {
	bad := []Policy{
		{Rules: []Rule{{Host: ""}}},
		{Rules: []Rule{{Host: "*"}}},
		{Rules: []Rule{{Host: "*."}}},
		{Rules: []Rule{{Host: "a.*.example.com"}}},
		{Rules: []Rule{{Host: "*.0.113.7"}}},
		{Rules: []Rule{{Host: "*.10.0.0.1"}}},
		{Rules: []Rule{{Host: "bücher.de"}}},
		{Rules: []Rule{{Host: "fe80::1%eth0"}}},
		{Rules: []Rule{{Host: "127.1"}}},
		{Rules: []Rule{{Host: "a.example.com", Schemes: []string{"ftp"}}}},
		{Rules: []Rule{{Host: "a.example.com", Ports: []int{0}}}},
		{Rules: []Rule{{Host: "a.example.com", Ports: []int{70000}}}},
		{Rules: []Rule{{Host: "a.example.com", PrivateNetwork: "yes"}}},
		{MaxResponseBytes: -1},
		{MaxRequestBytes: -1},
		{Timeout: -1},
	}
	for i, p := range bad {
		if _, err := New(p); err == nil {
			t.Errorf("policy %d (%+v): New succeeded", i, p)
		}
	}
	fn := newFakeNet(t)
	badOpts := [][]Option{
		{nil},
		{WithResolver(nil)},
		{WithDialer(nil)},
		{WithRootCAs(nil)},
		{WithResolver(fn), WithResolver(fn)},
		{WithDialer(fn), WithDialer(fn)},
	}
	for i, opts := range badOpts {
		if _, err := New(Policy{}, opts...); err == nil {
			t.Errorf("options %d: New succeeded", i)
		}
	}
}

// TestDeniedMessages pins the wording of the refusals.
func TestDeniedMessages(t *testing.T) {
	fn := newFakeNet(t)
	fn.name("internal.example.com", addrs("10.0.0.5"))
	fn.name("meta.example.com", addrs("169.254.169.254"))
	none := mustNew(t, Policy{Plugin: "fetch"}, fn.options()...)
	some := mustNew(t, Policy{Plugin: "fetch", Rules: []Rule{
		{Host: "internal.example.com", Ports: []int{443}, Schemes: []string{"https"}},
		{Host: "meta.example.com", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "allow"},
	}}, fn.options()...)
	cases := []struct {
		c    *Client
		url  string
		want string
	}{
		{none, "https://api.github.com/repos?token=s3cret", "plugin fetch asked for api.github.com:443 over https; the grant allows no hosts"},
		{some, "https://internal.example.com/", "plugin fetch asked for internal.example.com:443 over https; it resolved to 10.0.0.5, a private address (RFC 1918), and the grant does not set privateNetwork: allow for internal.example.com"},
		{some, "https://meta.example.com/", "plugin fetch asked for meta.example.com:443 over https; it resolved to 169.254.169.254, a cloud metadata address (AWS, GCP, Azure, OCI, OpenStack and others), which is always refused"},
		{some, "http://internal.example.com/", "plugin fetch asked for internal.example.com:80 over http; the grant allows that host only as internal.example.com:443 over https"},
		{some, "https://a:b@internal.example.com/", "plugin fetch asked for internal.example.com:443 over https; the URL carries user information (user:password@), which is refused; send credentials in a header instead"},
		{some, "gopher://internal.example.com/", "plugin fetch asked for a URL over gopher; only http and https URLs are allowed"},
		{some, "https://bücher.de/", `plugin fetch asked for "b\u00fccher.de" over https; the host name is not ASCII; use its punycode (xn--) form`},
	}
	for _, tc := range cases {
		_, err := tc.c.Do(context.Background(), get(tc.url))
		d := asDenied(t, err)
		if d.Error() != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.url, d.Error(), tc.want)
		}
		if len(d.Allowed) != len(tc.c.rules) {
			t.Errorf("%s: Allowed has %d rules, want %d", tc.url, len(d.Allowed), len(tc.c.rules))
		}
	}
	if len(fn.Dials()) != 0 {
		t.Errorf("dialled %q", fn.Dials())
	}
	var zero netip.Addr
	if d := (&DeniedError{Reason: "r"}); d.Error() != "plugin (unnamed) asked for a URL; r" || d.IP != zero {
		t.Errorf("zero DeniedError: %q", d.Error())
	}
}
