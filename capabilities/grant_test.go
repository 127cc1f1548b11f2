package capabilities

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// hdr is the first two lines of every grant in these tests, so the body
// under test starts on line 3.
const hdr = "apiVersion: warden.dev/v1\nkind: Grant\n"

func mustGrant(t *testing.T, body string) *Grant {
	t.Helper()
	g, err := ParseGrant("g.yaml", []byte(hdr+body))
	if err != nil {
		t.Fatalf("ParseGrant:\n%s\nerror:\n%v", body, err)
	}
	return g
}

func ptr[T any](v T) *T { return &v }

func TestParseGrantValid(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Grant
	}{
		{"empty grant denies everything", "", Grant{}},
		{"null sections", "plugin:\nnetwork:\nfilesystem:\nsecrets:\nlimits:\n", Grant{}},
		{"empty allow list", "network: {allow: []}\n", Grant{}},
		{"plugin name", "plugin: github\n", Grant{Plugin: "github"}},
		{"plugin name with digits, dash, underscore", "plugin: 0my_plugin-2\n", Grant{Plugin: "0my_plugin-2"}},
		{"host defaults to https on 443", "network:\n  allow:\n    - host: API.GitHub.com\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "api.github.com", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"}}}}},
		{"http defaults to port 80", "network:\n  allow:\n    - {host: example.com, schemes: [http]}\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "example.com", Ports: []int{80}, Schemes: []string{"http"}, PrivateNetwork: "deny"}}}}},
		{"both schemes default to both ports", "network:\n  allow:\n    - {host: example.com, schemes: [https, HTTP]}\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "example.com", Ports: []int{80, 443}, Schemes: []string{"https", "http"}, PrivateNetwork: "deny"}}}}},
		{"explicit ports and private network", "network:\n  allow:\n    - {host: 127.0.0.1, ports: [8080, 8443], schemes: [http], privateNetwork: allow}\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "127.0.0.1", Ports: []int{8080, 8443}, Schemes: []string{"http"}, PrivateNetwork: "allow"}}}}},
		{"wildcard", "network:\n  allow:\n    - host: '*.Example.com'\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "*.example.com", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"}}}}},
		{"IPv6 literal is canonicalised", "network:\n  allow:\n    - host: '2001:DB8:0::1'\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "2001:db8::1", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"}}}}},
		{"bracketed IPv6 literal", "network:\n  allow:\n    - host: '[::1]'\n      privateNetwork: allow\n",
			Grant{Network: Network{Allow: []netguard.Rule{{Host: "::1", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "allow"}}}}},
		{"single-label and underscore names", "network:\n  allow:\n    - host: redis\n    - host: my_svc.internal\n",
			Grant{Network: Network{Allow: []netguard.Rule{
				{Host: "redis", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"},
				{Host: "my_svc.internal", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"}}}}},
		{"same host on other ports is not a repeat", "network:\n  allow:\n    - host: a.com\n    - {host: a.com, ports: [8443]}\n",
			Grant{Network: Network{Allow: []netguard.Rule{
				{Host: "a.com", Ports: []int{443}, Schemes: []string{"https"}, PrivateNetwork: "deny"},
				{Host: "a.com", Ports: []int{8443}, Schemes: []string{"https"}, PrivateNetwork: "deny"}}}}},
		{"mount mode defaults to ro", "filesystem:\n  - {host: /srv/a, guest: /a}\n  - {host: /srv/b, guest: /b, mode: rw}\n",
			Grant{Filesystem: []Mount{{Host: "/srv/a", Guest: "/a", Mode: "ro"}, {Host: "/srv/b", Guest: "/b", Mode: "rw"}}}},
		{"sibling guest paths", "filesystem:\n  - {host: /srv/a, guest: /data}\n  - {host: /srv/b, guest: /data2}\n",
			Grant{Filesystem: []Mount{{Host: "/srv/a", Guest: "/data", Mode: "ro"}, {Host: "/srv/b", Guest: "/data2", Mode: "ro"}}}},
		{"secrets default to redacted", "secrets:\n  - {name: TOKEN, from: env:WARDEN_TOKEN}\n  - {name: _key2, from: 'file:/run/key', redactOutput: false}\n",
			Grant{Secrets: []Secret{{Name: "TOKEN", From: "env:WARDEN_TOKEN", RedactOutput: ptr(true)}, {Name: "_key2", From: "file:/run/key", RedactOutput: ptr(false)}}}},
		{"limits in human units", "limits: {memory: 64MiB, timeout: 10s, output: 1000000, httpResponse: 10MB, httpTimeout: 250ms, taskTimeout: 2m}\n",
			Grant{Limits: Limits{Memory: 64 << 20, Timeout: Duration(10 * time.Second), Output: 1000000, HTTPResponse: 10e6,
				HTTPTimeout: Duration(250 * time.Millisecond), TaskTimeout: Duration(2 * time.Minute)}}},
		{"comments and document markers", "# c\nplugin: x # c\n...\n", Grant{Plugin: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGrant(t, tt.body)
			tt.want.APIVersion, tt.want.Kind = APIVersion, KindGrant
			g.lines = nil
			if !reflect.DeepEqual(*g, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *g, tt.want)
			}
		})
	}
}

func TestParseGrantErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // the whole error text
	}{
		// document level
		{"unknown top-level field", "extra: 1\n", `g.yaml:3: extra: unknown field (want apiVersion, kind, plugin, network, filesystem, secrets or limits)`},
		{"misspelt field", "secret: []\n", `g.yaml:3: secret: unknown field (did you mean secrets?)`},
		{"field set twice", "plugin: a\nplugin: b\n", `g.yaml:4: plugin: set twice (first on line 3)`},
		{"merge key", "<<: {plugin: a}\n", `g.yaml:3: <<: unknown field (want apiVersion, kind, plugin, network, filesystem, secrets or limits)`},
		{"custom tag", "plugin: !!binary aGVsbG8=\n", `g.yaml:3: tag !!binary is not allowed`},
		{"anchor", "plugin: &p x\n", `g.yaml:3: anchor &p: anchors and aliases are not allowed; write the value out`},
		{"two documents", "---\nkind: Grant\n", `g.yaml:3: more than one YAML document (---); want exactly one`},
		{"syntax error", "network: [\n", `g.yaml:3: invalid YAML: did not find expected node content`},

		// plugin
		{"plugin with a dot", "plugin: my.plugin\n", `g.yaml:3: plugin: "my.plugin" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"plugin upper case", "plugin: GitHub\n", `g.yaml:3: plugin: "GitHub" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"plugin starting with dash", "plugin: -x\n", `g.yaml:3: plugin: "-x" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"plugin too long", "plugin: " + strings.Repeat("a", 64) + "\n", `g.yaml:3: plugin: "` + strings.Repeat("a", 64) + `" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"plugin is a list", "plugin: [a]\n", `g.yaml:3: plugin: want a string, found a list`},
		{"plugin is a boolean", "plugin: true\n", `g.yaml:3: plugin: want a string, found a boolean`},
		{"control character", "plugin: \"a\\u202eb\"\n", `g.yaml:3: plugin: "a\u202eb" contains the character U+202E, which is not allowed`},

		// network
		{"network is a list", "network: []\n", `g.yaml:3: network: want a mapping with an allow list, found a list`},
		{"allow is a mapping", "network:\n  allow: {host: a.com}\n", `g.yaml:4: network.allow: want a list of hosts, found a mapping`},
		{"rule is a string", "network:\n  allow: [a.com]\n", `g.yaml:4: network.allow[0]: want a mapping with host, ports and schemes, found the string "a.com"`},
		{"unknown rule field", "network:\n  allow:\n    - {host: a.com, port: 443}\n", `g.yaml:5: network.allow[0].port: unknown field (did you mean ports?)`},
		{"host missing", "network:\n  allow:\n    - ports: [443]\n", `g.yaml:5: network.allow[0].host: is required (want a host name such as api.example.com)`},
		{"host empty", "network:\n  allow:\n    - host: ''\n", `g.yaml:5: network.allow[0].host: must not be empty (want a host name such as api.example.com, an IP address, or *.example.com)`},
		{"host is a URL", "network:\n  allow:\n    - host: https://api.github.com\n", `g.yaml:5: network.allow[0].host: "https://api.github.com" is a URL (want a host name such as api.example.com, an IP address, or *.example.com; put the scheme in schemes)`},
		{"host with path", "network:\n  allow:\n    - host: a.com/x\n", `g.yaml:5: network.allow[0].host: "a.com/x" is not a host (want a host name such as api.example.com, an IP address, or *.example.com, without a path or user)`},
		{"host with port", "network:\n  allow:\n    - host: a.com:8443\n", `g.yaml:5: network.allow[0].host: "a.com:8443" has a port in it (write host: a.com and ports: [8443])`},
		{"IPv6 with port", "network:\n  allow:\n    - host: '[::1]:80'\n", `g.yaml:5: network.allow[0].host: "[::1]:80" has a port in it (write host: ::1 and ports: [80])`},
		{"IPv6 zone", "network:\n  allow:\n    - host: 'fe80::1%eth0'\n", `g.yaml:5: network.allow[0].host: "fe80::1%eth0" has an IPv6 zone, which is not allowed`},
		{"star alone", "network:\n  allow:\n    - host: '*'\n", `g.yaml:5: network.allow[0].host: "*" would match every host (list the hosts the plugin needs, or use *.example.com)`},
		{"wildcard TLD", "network:\n  allow:\n    - host: '*.com'\n", `g.yaml:5: network.allow[0].host: "*.com" would match a whole top-level domain (want *.example.com or narrower)`},
		{"partial wildcard", "network:\n  allow:\n    - host: 'api*.a.com'\n", `g.yaml:5: network.allow[0].host: "api*.a.com" is not allowed: a wildcard may only be a whole first label, as in *.example.com`},
		{"inner wildcard", "network:\n  allow:\n    - host: 'a.*.com'\n", `g.yaml:5: network.allow[0].host: "a.*.com" is not allowed: a wildcard may only be a whole first label, as in *.example.com`},
		{"double wildcard", "network:\n  allow:\n    - host: '*.*.a.com'\n", `g.yaml:5: network.allow[0].host: "*.*.a.com" is not allowed: a wildcard may only be a whole first label, as in *.example.com`},
		{"trailing dot", "network:\n  allow:\n    - host: a.com.\n", `g.yaml:5: network.allow[0].host: "a.com." ends with a dot (write it without the trailing dot)`},
		{"empty label", "network:\n  allow:\n    - host: a..com\n", `g.yaml:5: network.allow[0].host: "a..com" is not a valid host name: it has an empty label (want a host name such as api.example.com, an IP address, or *.example.com)`},
		{"label with leading dash", "network:\n  allow:\n    - host: -a.com\n", `g.yaml:5: network.allow[0].host: "-a.com" is not a valid host name: a label starts or ends with '-' (want a host name such as api.example.com, an IP address, or *.example.com)`},
		{"non-ASCII host", "network:\n  allow:\n    - host: bücher.de\n", `g.yaml:5: network.allow[0].host: "bücher.de" is not a valid host name: it is not ASCII (write internationalised names in their xn-- form) (want a host name such as api.example.com, an IP address, or *.example.com)`},
		{"host with space", "network:\n  allow:\n    - host: 'a .com'\n", `g.yaml:5: network.allow[0].host: "a .com" contains a space (want a host name such as api.example.com, an IP address, or *.example.com)`},
		{"odd IPv4", "network:\n  allow:\n    - host: 127.1\n", `g.yaml:5: network.allow[0].host: "127.1" is not a valid IP address or host name (a host name cannot end in a number, which resolvers may read as an IPv4 address)`},
		{"octal IPv4", "network:\n  allow:\n    - host: 010.0.0.1\n", `g.yaml:5: network.allow[0].host: "010.0.0.1" is not a valid IP address or host name (a host name cannot end in a number, which resolvers may read as an IPv4 address)`},
		{"hex IPv4", "network:\n  allow:\n    - host: 0x7f.1\n", `g.yaml:5: network.allow[0].host: "0x7f.1" is not a valid IP address or host name (a host name cannot end in a number, which resolvers may read as an IPv4 address)`},
		{"hex final label", "network:\n  allow:\n    - host: a.0xff\n", `g.yaml:5: network.allow[0].host: "a.0xff" is not a valid IP address or host name (a host name cannot end in a number, which resolvers may read as an IPv4 address)`},
		{"scheme ftp", "network:\n  allow:\n    - host: a.com\n      schemes: [https, ftp]\n", `g.yaml:6: network.allow[0].schemes[1]: "ftp" is not allowed (want http or https)`},
		{"scheme twice", "network:\n  allow:\n    - {host: a.com, schemes: [https, HTTPS]}\n", `g.yaml:5: network.allow[0].schemes[1]: "https" is listed twice`},
		{"schemes empty", "network:\n  allow:\n    - {host: a.com, schemes: []}\n", `g.yaml:5: network.allow[0].schemes: is empty (leave it out for [https], or list http and/or https)`},
		{"schemes scalar", "network:\n  allow:\n    - {host: a.com, schemes: https}\n", `g.yaml:5: network.allow[0].schemes: want a list such as [https], found the string "https"`},
		{"port zero", "network:\n  allow:\n    - {host: a.com, ports: [0]}\n", `g.yaml:5: network.allow[0].ports[0]: 0 is not a port (want 1 to 65535)`},
		{"port too big", "network:\n  allow:\n    - {host: a.com, ports: [65536]}\n", `g.yaml:5: network.allow[0].ports[0]: 65536 is not a port (want 1 to 65535)`},
		{"port negative", "network:\n  allow:\n    - {host: a.com, ports: [-1]}\n", `g.yaml:5: network.allow[0].ports[0]: -1 is not a port (want 1 to 65535)`},
		{"port overflow", "network:\n  allow:\n    - {host: a.com, ports: [99999999999999999999]}\n", `g.yaml:5: network.allow[0].ports[0]: 99999999999999999999 is not allowed (want a port number from 1 to 65535)`},
		{"port as string", "network:\n  allow:\n    - {host: a.com, ports: ['443']}\n", `g.yaml:5: network.allow[0].ports[0]: want a port number from 1 to 65535, found the string "443"`},
		{"port twice", "network:\n  allow:\n    - {host: a.com, ports: [443, 443]}\n", `g.yaml:5: network.allow[0].ports[1]: 443 is listed twice`},
		{"ports empty", "network:\n  allow:\n    - {host: a.com, ports: []}\n", `g.yaml:5: network.allow[0].ports: is empty (leave it out for the scheme's default port, or list ports)`},
		{"privateNetwork bad", "network:\n  allow:\n    - {host: a.com, privateNetwork: yes}\n", `g.yaml:5: network.allow[0].privateNetwork: "yes" is not allowed (want allow or deny)`},
		{"privateNetwork boolean", "network:\n  allow:\n    - {host: a.com, privateNetwork: true}\n", `g.yaml:5: network.allow[0].privateNetwork: want a string, found a boolean`},
		{"repeated rule", "network:\n  allow:\n    - {host: a.com, schemes: [http, https]}\n    - {host: A.com, ports: [443, 80], schemes: [https, http]}\n", `g.yaml:6: network.allow[1]: repeats network.allow[0]`},

		// filesystem
		{"filesystem is a mapping", "filesystem: {host: /a}\n", `g.yaml:3: filesystem: want a list of mounts, found a mapping`},
		{"mount unknown field", "filesystem:\n  - {host: /a, guest: /a, readonly: true}\n", `g.yaml:4: filesystem[0].readonly: unknown field (want host, guest or mode)`},
		{"mount host missing", "filesystem:\n  - {guest: /a}\n", `g.yaml:4: filesystem[0].host: is required (want an absolute path on the host, such as /srv/data)`},
		{"mount guest missing", "filesystem:\n  - {host: /a}\n", `g.yaml:4: filesystem[0].guest: is required (want the absolute path the plugin sees, such as /data)`},
		{"host relative", "filesystem:\n  - {host: data, guest: /a}\n", `g.yaml:4: filesystem[0].host: "data" is not absolute (want an absolute path such as /srv/data)`},
		{"host tilde", "filesystem:\n  - {host: ~/data, guest: /a}\n", `g.yaml:4: filesystem[0].host: "~/data" is not absolute: ~ is not expanded (want an absolute path such as /srv/data)`},
		{"host variable", "filesystem:\n  - {host: $HOME/data, guest: /a}\n", `g.yaml:4: filesystem[0].host: "$HOME/data" contains $: variables are not expanded (want an absolute path such as /srv/data)`},
		{"host dot-dot", "filesystem:\n  - {host: /srv/../etc, guest: /a}\n", `g.yaml:4: filesystem[0].host: "/srv/../etc" is not clean (write "/etc")`},
		{"host trailing slash", "filesystem:\n  - {host: /srv/, guest: /a}\n", `g.yaml:4: filesystem[0].host: "/srv/" is not clean (write "/srv")`},
		{"guest root", "filesystem:\n  - {host: /srv, guest: /}\n", `g.yaml:4: filesystem[0].guest: "/" is not allowed: mounting over the guest's root would hide every other mount (want a directory such as /data)`},
		{"guest relative", "filesystem:\n  - {host: /srv, guest: data}\n", `g.yaml:4: filesystem[0].guest: "data" is not absolute (want a path such as /data)`},
		{"guest unclean", "filesystem:\n  - {host: /srv, guest: /a/./b}\n", `g.yaml:4: filesystem[0].guest: "/a/./b" is not clean (write "/a/b")`},
		{"guest backslash", "filesystem:\n  - {host: /srv, guest: '/a\\b'}\n", `g.yaml:4: filesystem[0].guest: "/a\\b" contains a backslash (guest paths use /, as in /data)`},
		{"guest twice", "filesystem:\n  - {host: /srv/a, guest: /data}\n  - {host: /srv/b, guest: /data}\n", `g.yaml:5: filesystem[1].guest: "/data" is already mounted by filesystem[0]`},
		{"guest nested", "filesystem:\n  - {host: /srv/a, guest: /data}\n  - {host: /srv/b, guest: /data/sub}\n", `g.yaml:5: filesystem[1].guest: "/data/sub" and "/data" (filesystem[0]) are nested; mounts must not overlap`},
		{"guest nesting outer", "filesystem:\n  - {host: /srv/a, guest: /data/sub}\n  - {host: /srv/b, guest: /data}\n", `g.yaml:5: filesystem[1].guest: "/data" and "/data/sub" (filesystem[0]) are nested; mounts must not overlap`},
		{"mode bad", "filesystem:\n  - {host: /srv, guest: /a, mode: readonly}\n", `g.yaml:4: filesystem[0].mode: "readonly" is not allowed (want ro or rw)`},

		// secrets
		{"secret name missing", "secrets:\n  - {from: env:X}\n", `g.yaml:4: secrets[0].name: is required (want an identifier such as GITHUB_TOKEN)`},
		{"secret name bad", "secrets:\n  - {name: my-token, from: env:X}\n", `g.yaml:4: secrets[0].name: "my-token" is not allowed (want an identifier such as GITHUB_TOKEN: letters, digits and _, not starting with a digit)`},
		{"secret name digit", "secrets:\n  - {name: 1X, from: env:X}\n", `g.yaml:4: secrets[0].name: "1X" is not allowed (want an identifier such as GITHUB_TOKEN: letters, digits and _, not starting with a digit)`},
		{"secret twice", "secrets:\n  - {name: X, from: env:X}\n  - {name: X, from: env:Y}\n", `g.yaml:5: secrets[1].name: "X" is already granted by secrets[0]`},
		{"secret from missing", "secrets:\n  - {name: X}\n", `g.yaml:4: secrets[0].from: is required (want env:NAME or file:/absolute/path)`},
		{"secret from no scheme", "secrets:\n  - {name: X, from: WARDEN_X}\n", `g.yaml:4: secrets[0].from: "WARDEN_X" has no source (want env:NAME or file:/absolute/path)`},
		{"secret from vault", "secrets:\n  - {name: X, from: 'vault:kv/x'}\n", `g.yaml:4: secrets[0].from: "vault:kv/x" is not allowed (want env:NAME or file:/absolute/path)`},
		{"secret env bad name", "secrets:\n  - {name: X, from: 'env:A-B'}\n", `g.yaml:4: secrets[0].from: "env:A-B": "A-B" is not an environment variable name (want letters, digits and _, not starting with a digit)`},
		{"secret env empty", "secrets:\n  - {name: X, from: 'env:'}\n", `g.yaml:4: secrets[0].from: "env:": "" is not an environment variable name (want letters, digits and _, not starting with a digit)`},
		{"secret file relative", "secrets:\n  - {name: X, from: 'file:key'}\n", `g.yaml:4: secrets[0].from: "file:key": the path is not absolute (want env:NAME or file:/absolute/path)`},
		{"secret file URL", "secrets:\n  - {name: X, from: 'file:///run/key'}\n", `g.yaml:4: secrets[0].from: "file:///run/key": write file:/absolute/path, without //`},
		{"secret file unclean", "secrets:\n  - {name: X, from: 'file:/run/../key'}\n", `g.yaml:4: secrets[0].from: "file:/run/../key": the path is not clean (write file:/key)`},
		{"redactOutput string", "secrets:\n  - {name: X, from: env:X, redactOutput: 'no'}\n", `g.yaml:4: secrets[0].redactOutput: want true or false, found the string "no"`},

		// limits
		{"limits is a list", "limits: [1]\n", `g.yaml:3: limits: want a mapping of limits, found a list`},
		{"limits unknown", "limits: {cpu: 1}\n", `g.yaml:3: limits.cpu: unknown field (want memory, timeout, output, httpResponse, httpTimeout or taskTimeout)`},
		{"memory ambiguous unit", "limits: {memory: 64M}\n", `g.yaml:3: limits.memory: "64M" has an ambiguous unit "M" (want KiB, MiB, GiB for powers of 1024 or kB, MB, GB for powers of 1000)`},
		{"memory bad unit", "limits: {memory: 64MiBs}\n", `g.yaml:3: limits.memory: "64MiBs" has an unknown unit "MiBs" (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)`},
		{"memory negative", "limits: {memory: -1MiB}\n", `g.yaml:3: limits.memory: "-1MiB" is not a size (want a size such as 64MiB, 10MB or 1000000)`},
		{"memory zero", "limits: {memory: 0}\n", `g.yaml:3: limits.memory: must be more than 0 (leave it out for the default)`},
		{"memory above wasm32", "limits: {memory: 5GiB}\n", `g.yaml:3: limits.memory: 5GiB is more than a WebAssembly module can address (at most 4GiB)`},
		{"output fraction of a byte", "limits: {output: 0.1KiB}\n", `g.yaml:3: limits.output: "0.1KiB" is not a whole number of bytes`},
		{"output is a list", "limits: {output: [1]}\n", `g.yaml:3: limits.output: want a size such as 64MiB, found a list`},
		{"timeout without unit", "limits: {timeout: 10}\n", `g.yaml:3: limits.timeout: "10" has no unit (want a duration such as 10s or 10ms)`},
		{"timeout bad", "limits: {timeout: 10 seconds}\n", `g.yaml:3: limits.timeout: "10 seconds" is not a duration (want a duration such as 10s, 250ms or 2m)`},
		{"timeout negative", "limits: {timeout: -1s}\n", `g.yaml:3: limits.timeout: must be more than 0 (leave it out for the default)`},
		{"timeout zero", "limits: {httpTimeout: 0s}\n", `g.yaml:3: limits.httpTimeout: must be more than 0 (leave it out for the default)`},
		{"taskTimeout boolean", "limits: {taskTimeout: true}\n", `g.yaml:3: limits.taskTimeout: want a duration such as 10s, found a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGrant("g.yaml", []byte(hdr+tt.body))
			if err == nil {
				t.Fatalf("no error; want %s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseGrantHeader(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty file", "", "g.yaml:1: the file is empty"},
		{"only comments", "# nothing\n", "g.yaml:1: the file is empty"},
		{"scalar document", "hello\n", `g.yaml:1: want a grant (a mapping starting with apiVersion: warden.dev/v1 and kind: Grant), found the string "hello"`},
		{"null document", "~\n", "g.yaml:1: apiVersion: is required (want apiVersion: warden.dev/v1)\ng.yaml:1: kind: is required (want kind: Grant)"},
		{"missing both", "plugin: x\n", "g.yaml:1: apiVersion: is required (want apiVersion: warden.dev/v1)\ng.yaml:1: kind: is required (want kind: Grant)"},
		{"wrong version", "apiVersion: warden.dev/v2\nkind: Grant\n", `g.yaml:1: apiVersion: "warden.dev/v2" is not supported (want warden.dev/v1)`},
		{"wrong kind", "apiVersion: warden.dev/v1\nkind: Manifest\n", `g.yaml:2: kind: "Manifest" is not allowed here (want Grant)`},
		{"invalid UTF-8", "apiVersion: \xff\n", "g.yaml: invalid UTF-8"},
		{"tab indentation", "apiVersion: warden.dev/v1\nkind: Grant\nlimits:\n\tmemory: 1MiB\n", "g.yaml:4: invalid YAML: found character that cannot start any token"},
		{"second empty document", hdr + "---\n", "g.yaml:3: more than one YAML document (---); want exactly one"},
		{"too large", hdr + "#" + strings.Repeat("x", MaxGrantSize) + "\n", "g.yaml: the file is larger than 1MiB, the most a grant may be"},
		{"billion laughs", hdr + "x: &a [1, 1]\ny: &b [*a, *a]\nz: [*b, *b]\n", "g.yaml:3: anchor &a: anchors and aliases are not allowed; write the value out\n" +
			"g.yaml:4: anchor &b: anchors and aliases are not allowed; write the value out\n" +
			"g.yaml:4: alias *a: anchors and aliases are not allowed; write the value out\n" +
			"g.yaml:4: alias *a: anchors and aliases are not allowed; write the value out\n" +
			"g.yaml:5: alias *b: anchors and aliases are not allowed; write the value out\n" +
			"g.yaml:5: alias *b: anchors and aliases are not allowed; write the value out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGrant("g.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("no error; want %s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseGrantCollectsAllErrors(t *testing.T) {
	doc := hdr + `network:
  allow:
    - host: api.github.com
      schemes: [https, ftp]
    - host: a.com:80
filesystem:
  - {host: relative, guest: /}
limits: {memory: lots}
`
	_, err := ParseGrant("grants/fetch.yaml", []byte(doc))
	want := []string{
		`grants/fetch.yaml:6: network.allow[0].schemes[1]: "ftp" is not allowed (want http or https)`,
		`grants/fetch.yaml:7: network.allow[1].host: "a.com:80" has a port in it (write host: a.com and ports: [80])`,
		`grants/fetch.yaml:9: filesystem[0].host: "relative" is not absolute (want an absolute path such as /srv/data)`,
		`grants/fetch.yaml:9: filesystem[0].guest: "/" is not allowed: mounting over the guest's root would hide every other mount (want a directory such as /data)`,
		`grants/fetch.yaml:10: limits.memory: "lots" is not a size (want a size such as 64MiB, 10MB or 1000000)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != len(want) {
		t.Fatalf("errors.As(ErrorList) = %v, %d items", errors.As(err, &list), len(list))
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatal("errors.As(*FieldError) failed")
	}
	if fe.File != "grants/fetch.yaml" || fe.Line != 6 || fe.Column != 24 || fe.Field != "network.allow[0].schemes[1]" ||
		fe.Msg != `"ftp" is not allowed (want http or https)` {
		t.Errorf("first FieldError = %+v", *fe)
	}
	if n := len(list.Unwrap()); n != len(want) {
		t.Errorf("Unwrap returned %d errors", n)
	}
}

func TestParseGrantErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(hdr + "secrets:\n")
	for range 300 {
		b.WriteString("  - {name: '-'}\n")
	}
	_, err := ParseGrant("g.yaml", []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatal(err)
	}
	if len(list) != maxErrors || !strings.Contains(list[len(list)-1].Msg, "too many problems") {
		t.Errorf("got %d errors, last %v", len(list), list[len(list)-1])
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "a.yaml", Line: 3, Field: "plugin", Msg: "bad"}, "a.yaml:3: plugin: bad"},
		{FieldError{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
		{FieldError{Line: 2, Field: "f", Msg: "bad"}, "line 2: f: bad"},
		{FieldError{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestLoadGrant(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.yaml")
	if err := os.WriteFile(p, []byte(hdr+"plugin: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadGrant(p)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.File != p {
		t.Errorf("LoadGrant error = %v", err)
	}
	if _, err := LoadGrant(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestExampleGrants parses every grant under examples/grants and checks it
// has no lint errors.
func TestExampleGrants(t *testing.T) {
	files, err := filepath.Glob("../examples/grants/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example grants, want at least 4", len(files))
	}
	for _, f := range files {
		g, err := LoadGrant(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); g.Plugin != want {
			t.Errorf("%s: plugin = %q, want %q", f, g.Plugin, want)
		}
		// When the example plugin of the same name has a manifest, the
		// grant gives it exactly what it asks for.
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if data, err := os.ReadFile(filepath.Join("../examples", name, "manifest.yaml")); err == nil {
			m, err := ParseManifestYAML(name+"/manifest.yaml", data)
			if err != nil {
				t.Errorf("%v", err)
			} else if r := Diff(m, g); r.Count(StatusNotGranted)+r.Count(StatusOverGrant)+r.Count(StatusMismatch) > 0 {
				t.Errorf("%s does not match %s/manifest.yaml:\n%s", f, name, r)
			}
		}
		if fs := Lint(g); HasErrors(fs) {
			var b strings.Builder
			_ = WriteFindings(&b, f, fs)
			t.Errorf("lint errors:\n%s", b.String())
		}
	}
}

func TestGrantYAMLRoundTrip(t *testing.T) {
	doc := `plugin: github
network:
  allow:
    - host: api.github.com
    - {host: 127.0.0.1, ports: [8080], schemes: [http], privateNetwork: allow}
filesystem:
  - {host: /srv/reports, guest: /reports}
secrets:
  - {name: GITHUB_TOKEN, from: env:WARDEN_GITHUB_TOKEN, redactOutput: false}
limits: {memory: 64MiB, timeout: 10s, output: 1MiB, taskTimeout: 90s}
`
	g := mustGrant(t, doc)
	out, err := yaml.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: warden.dev/v1
kind: Grant
plugin: github
network:
    allow:
        - host: api.github.com
          ports: [443]
          schemes: [https]
          privateNetwork: deny
        - host: 127.0.0.1
          ports: [8080]
          schemes: [http]
          privateNetwork: allow
filesystem:
    - host: /srv/reports
      guest: /reports
      mode: ro
secrets:
    - name: GITHUB_TOKEN
      from: env:WARDEN_GITHUB_TOKEN
      redactOutput: false
limits:
    memory: 64MiB
    timeout: 10s
    output: 1MiB
    taskTimeout: 90s
`
	if string(out) != want {
		t.Errorf("marshalled:\n%s\nwant:\n%s", out, want)
	}
	g2, err := ParseGrant("again.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	g.lines, g2.lines = nil, nil
	if !reflect.DeepEqual(g, g2) {
		t.Errorf("round trip changed the grant:\n%+v\n%+v", g, g2)
	}
}

func TestEffectiveLimits(t *testing.T) {
	g := mustGrant(t, "limits: {memory: 2GiB, timeout: 3s}\n")
	got := g.EffectiveLimits()
	want := DefaultLimits
	want.Memory = MaxLimits.Memory
	want.Timeout = Duration(3 * time.Second)
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := (*Grant)(nil).EffectiveLimits(); got != DefaultLimits {
		t.Errorf("nil grant: %+v", got)
	}
}

func TestGrantSecretAndRedactor(t *testing.T) {
	g := mustGrant(t, `secrets:
  - {name: A, from: env:A}
  - {name: B, from: env:B, redactOutput: false}
  - {name: C, from: env:C}
`)
	if s, ok := g.Secret("B"); !ok || s.Redacted() {
		t.Errorf("Secret(B) = %+v, %v", s, ok)
	}
	if _, ok := g.Secret("Z"); ok {
		t.Error("Secret(Z) found")
	}
	r := g.Redactor(map[string]string{"A": "tok", "B": "visible", "C": "tok-longer\"q"})
	got := r.Replace(`tok visible tok-longer"q {"v":"tok-longer\"q"}`)
	want := `[REDACTED:A] visible [REDACTED:C] {"v":"[REDACTED:C]"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := (*Grant)(nil).Redactor(nil).Replace("x"); got != "x" {
		t.Errorf("nil grant redactor changed text: %q", got)
	}
}

func TestGrantLines(t *testing.T) {
	g := mustGrant(t, "network:\n  allow:\n    - host: a.com\n      ports: [443]\n")
	for field, want := range map[string]int{
		"network":                   3,
		"network.allow":             4,
		"network.allow[0]":          5,
		"network.allow[0].host":     5,
		"network.allow[0].ports":    6,
		"network.allow[0].ports[0]": 6,
		"network.allow[0].schemes":  5,
		"limits.memory":             0,
	} {
		if got := g.line(field); got != want {
			t.Errorf("line(%q) = %d, want %d", field, got, want)
		}
	}
}
