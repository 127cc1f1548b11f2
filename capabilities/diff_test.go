package capabilities

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

func mustManifest(t *testing.T, body string) *Manifest {
	t.Helper()
	m, err := ParseManifestYAML("m.yaml", []byte(mhdr+body))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		manifest string // body after mhdr; "-" for no manifest
		grant    string // body after hdr
		want     string
	}{
		{"nothing requested, nothing granted", "", "", ""},
		{"exact match", "capabilities:\n  network: [{host: api.github.com}]\n  filesystem: [{guest: /data}]\n  secrets: [{name: TOKEN}]\n",
			"plugin: fetch\nnetwork:\n  allow: [{host: api.github.com}]\nfilesystem: [{host: /srv/d, guest: /data}]\nsecrets: [{name: TOKEN, from: env:T}]\n", `
match filesystem /data: mounted from /srv/d (ro) by filesystem[0]
match network api.github.com:443 (https): granted by network.allow[0]
match plugin name: the grant is for fetch
match secrets TOKEN: granted from env:T`},
		{"nothing granted", "capabilities:\n  network: [{host: api.github.com, ports: [443, 8443]}]\n  filesystem: [{guest: /data, mode: rw}]\n  secrets: [{name: TOKEN}]\n",
			"", `
not-granted filesystem /data: requested (rw) but not mounted; the plugin will not find it
not-granted network api.github.com:443 (https): requested but not granted, so it will be refused; no rule covers this host
not-granted network api.github.com:8443 (https): requested but not granted, so it will be refused; no rule covers this host
not-granted secrets TOKEN: requested but not granted; the plugin will not receive it`},
		{"over-grant", "",
			"network:\n  allow: [{host: example.org}]\nfilesystem: [{host: /srv/d, guest: /data, mode: rw}]\nsecrets: [{name: TOKEN, from: env:T}]\n", `
over-grant filesystem /data: mounted from /srv/d (rw) by filesystem[0] but not requested
over-grant network example.org:443 (https): granted by network.allow[0] but not requested
over-grant secrets TOKEN: granted from env:T by secrets[0] but not requested`},
		{"wildcard grant covers concrete request", "capabilities:\n  network: [{host: api.github.com}, {host: uploads.github.com}]\n",
			"network:\n  allow: [{host: '*.github.com'}]\n", `
over-grant network *.github.com: wildcard granted by network.allow[0]; the plugin asks only for api.github.com, uploads.github.com
match network api.github.com:443 (https): granted by network.allow[0]
match network uploads.github.com:443 (https): granted by network.allow[0]`},
		{"wildcard request needs wildcard grant", "capabilities:\n  network: [{host: '*.s3.amazonaws.com'}]\n",
			"network:\n  allow: [{host: bucket.s3.amazonaws.com}, {host: '*.amazonaws.com'}]\n", `
over-grant network *.amazonaws.com: wildcard granted by network.allow[1]; the plugin asks only for *.s3.amazonaws.com
match network *.s3.amazonaws.com:443 (https): granted by network.allow[1]
over-grant network bucket.s3.amazonaws.com:443 (https): granted by network.allow[0] but not requested`},
		{"wildcard does not cover its apex", "capabilities:\n  network: [{host: github.com}]\n",
			"network:\n  allow: [{host: '*.github.com'}]\n", `
over-grant network *.github.com:443 (https): granted by network.allow[0] but not requested
not-granted network github.com:443 (https): requested but not granted, so it will be refused; no rule covers this host`},
		{"port and scheme coverage", "capabilities:\n  network: [{host: a.com, ports: [80, 443], schemes: [http, https]}]\n",
			"network:\n  allow: [{host: a.com, ports: [443, 8443]}]\n", `
not-granted network a.com:443 (http): requested but not granted, so it will be refused; network.allow[0] allows only a.com:443,8443 (https)
match network a.com:443 (https): granted by network.allow[0]
not-granted network a.com:80 (http): requested but not granted, so it will be refused; network.allow[0] allows only a.com:443,8443 (https)
not-granted network a.com:80 (https): requested but not granted, so it will be refused; network.allow[0] allows only a.com:443,8443 (https)
over-grant network a.com:8443 (https): granted by network.allow[0] but not requested`},
		{"mount modes", "capabilities:\n  filesystem: [{guest: /in}, {guest: /out, mode: rw}, {guest: /data/cache}]\n",
			"filesystem:\n  - {host: /srv/in, guest: /in, mode: rw}\n  - {host: /srv/out, guest: /out}\n  - {host: /srv/data, guest: /data}\n", `
over-grant filesystem /data: mounted from /srv/data (ro) by filesystem[2]; the plugin asks only for /data/cache
match filesystem /data/cache: inside /data, mounted from /srv/data (ro) by filesystem[2]
over-grant filesystem /in: requested ro but mounted from /srv/in (rw) by filesystem[0]
not-granted filesystem /out: requested rw but mounted from /srv/out (ro) by filesystem[1]; writes will fail`},
		{"limits", "limits: {memory: 128MiB, timeout: 5s, output: 2GiB, taskTimeout: 1m}\n",
			"limits: {timeout: 10s, output: 1GiB}\n", `
not-granted limits memory: the plugin asks for 128MiB but gets 64MiB (the default); calls needing more will fail
not-granted limits output: the plugin asks for 2GiB but gets 16MiB (the host ceiling); calls needing more will fail
match limits taskTimeout: the plugin asks for 1m and gets 10m (the default)
match limits timeout: the plugin asks for 5s and gets 10s (set by the grant)`},
		{"plugin name mismatch", "", "plugin: other\n", `
mismatch plugin name: the grant is for plugin other but the manifest names fetch; the grant applies only to a plugin installed as other`},
		{"no manifest", "-", "network:\n  allow: [{host: a.com}]\nfilesystem: [{host: /srv, guest: /srv}]\nsecrets: [{name: K, from: 'file:/k'}]\n", `
unstated filesystem /srv: mounted from /srv (ro) by filesystem[0]
unstated network a.com:443 (https): granted by network.allow[0]
unstated plugin manifest: the plugin embeds no manifest, so nothing was requested to compare with
unstated secrets K: granted from file:/k by secrets[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *Manifest
			if tt.manifest != "-" {
				m = mustManifest(t, tt.manifest)
			}
			g := mustGrant(t, tt.grant)
			got := Diff(m, g).String()
			want := strings.TrimPrefix(tt.want, "\n")
			if want != "" {
				want += "\n"
			}
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestDiffOverGrantPrivateNetworkIsShown(t *testing.T) {
	// Kept separate: describeRule marks private-network rules, so a
	// reviewer sees it in the over-grant line.
	g := mustGrant(t, "network:\n  allow: [{host: 10.0.0.1, privateNetwork: allow}]\n")
	got := Diff(mustManifest(t, ""), g).String()
	want := "over-grant network 10.0.0.1:443 (https, private network): granted by network.allow[0] but not requested\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiffReportJSONAndCounts(t *testing.T) {
	m := mustManifest(t, "capabilities:\n  secrets: [{name: A}, {name: B}]\n")
	g := mustGrant(t, "secrets: [{name: A, from: env:A}, {name: C, from: env:C}]\n")
	r := Diff(m, g)
	if r.Count(StatusMatch) != 1 || r.Count(StatusNotGranted) != 1 || r.Count(StatusOverGrant) != 1 {
		t.Errorf("counts: %+v", r)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"plugin":"fetch","items":[` +
		`{"status":"match","capability":"secrets","subject":"A","message":"granted from env:A"},` +
		`{"status":"not-granted","capability":"secrets","subject":"B","message":"requested but not granted; the plugin will not receive it"},` +
		`{"status":"over-grant","capability":"secrets","subject":"C","message":"granted from env:C by secrets[1] but not requested"}]}`
	if string(js) != want {
		t.Errorf("got\n%s\nwant\n%s", js, want)
	}
	empty, _ := json.Marshal(Diff(nil, nil))
	if string(empty) != `{"items":[{"status":"unstated","capability":"plugin","subject":"manifest","message":"the plugin embeds no manifest, so nothing was requested to compare with"}]}` {
		t.Errorf("nil, nil: %s", empty)
	}
}

func TestDiffIsStable(t *testing.T) {
	m := mustManifest(t, "capabilities:\n  network: [{host: b.com}, {host: a.com}, {host: c.com, ports: [1, 2, 3]}]\n")
	g := mustGrant(t, "network:\n  allow: [{host: c.com, ports: [3, 2]}, {host: a.com}]\n")
	first := Diff(m, g).String()
	for range 20 {
		if again := Diff(m, g).String(); again != first {
			t.Fatalf("unstable:\n%s\n%s", first, again)
		}
	}
}

func TestDescribeDenial(t *testing.T) {
	tests := []struct {
		plugin, host string
		port         int
		scheme       string
		allowed      []netguard.Rule
		want         string
	}{
		{"fetch", "api.github.com", 443, "https", nil,
			"plugin fetch asked for api.github.com:443 over https; the grant allows no hosts"},
		{"fetch", "api.github.com", 443, "https",
			[]netguard.Rule{{Host: "example.com", Ports: []int{443}, Schemes: []string{"https"}}},
			"plugin fetch asked for api.github.com:443 over https; the grant allows: example.com:443 (https)"},
		{"fetch", "10.0.0.1", 8080, "http",
			[]netguard.Rule{
				{Host: "*.example.com", Ports: []int{80, 443}, Schemes: []string{"http", "https"}},
				{Host: "::1", Ports: []int{8080}, Schemes: []string{"http"}, PrivateNetwork: "allow"},
			},
			"plugin fetch asked for 10.0.0.1:8080 over http; the grant allows: *.example.com:80,443 (http, https), [::1]:8080 (http, private network)"},
		{"", "::1", 0, "", nil, "the plugin asked for [::1]; the grant allows no hosts"},
		{"evil\nplugin", "a.com\r\nINFO forged", 443, "https", nil,
			`plugin "evil\nplugin" asked for "a.com\r\nINFO forged:443" over https; the grant allows no hosts`},
	}
	for _, tt := range tests {
		if got := DescribeDenial(tt.plugin, tt.host, tt.port, tt.scheme, tt.allowed); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestHostCovers(t *testing.T) {
	tests := []struct {
		grant, req string
		want       bool
	}{
		{"a.com", "a.com", true},
		{"a.com", "b.a.com", false},
		{"*.a.com", "b.a.com", true},
		{"*.a.com", "c.b.a.com", true},
		{"*.a.com", "a.com", false},
		{"*.a.com", "ba.com", false},
		{"*.a.com", "*.a.com", true},
		{"*.a.com", "*.b.a.com", true},
		{"*.b.a.com", "*.a.com", false},
		{"b.a.com", "*.a.com", false},
		{"127.0.0.1", "127.0.0.1", true},
	}
	for _, tt := range tests {
		if got := hostCovers(tt.grant, tt.req); got != tt.want {
			t.Errorf("hostCovers(%q, %q) = %v", tt.grant, tt.req, got)
		}
	}
}
