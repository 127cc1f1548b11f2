package capabilities_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/wardenmcp/warden/capabilities"
)

func ExampleParseGrant() {
	g, err := capabilities.ParseGrant("grants/github.yaml", []byte(`
apiVersion: warden.dev/v1
kind: Grant
plugin: github
network:
  allow:
    - host: API.GitHub.com
secrets:
  - name: GITHUB_TOKEN
    from: env:WARDEN_GITHUB_TOKEN
limits:
  memory: 32MiB
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := g.Network.Allow[0]
	fmt.Println(r.Host, r.Ports, r.Schemes, r.PrivateNetwork)
	fmt.Println(g.Secrets[0].Name, g.Secrets[0].Redacted())
	l := g.EffectiveLimits()
	fmt.Println(l.Memory, l.Timeout, l.Output)

	// Every problem is reported, with its file, line and field.
	_, err = capabilities.ParseGrant("grants/fetch.yaml", []byte(`
apiVersion: warden.dev/v1
kind: Grant
network:
  allow:
    - host: example.com
      schemes: [https, ftp]
    - host: https://api.github.com
`))
	fmt.Println(err)
	var fe *capabilities.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Line, fe.Field)
	}
	// Output:
	// api.github.com [443] [https] deny
	// GITHUB_TOKEN true
	// 32MiB 10s 1MiB
	// grants/fetch.yaml:7: network.allow[0].schemes[1]: "ftp" is not allowed (want http or https)
	// grants/fetch.yaml:8: network.allow[1].host: "https://api.github.com" is a URL (want a host name such as api.example.com, an IP address, or *.example.com; put the scheme in schemes)
	// 7 network.allow[0].schemes[1]
}

func ExampleDiff() {
	m, err := capabilities.ParseManifestYAML("fetch.manifest.yaml", []byte(`
apiVersion: warden.dev/v1
kind: Manifest
name: fetch
version: 0.1.0
capabilities:
  network:
    - host: example.com
    - host: api.github.com
  secrets:
    - name: SIGNING_KEY
limits: {memory: 32MiB}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := capabilities.ParseGrant("grants/fetch.yaml", []byte(`
apiVersion: warden.dev/v1
kind: Grant
plugin: fetch
network:
  allow:
    - host: example.com
    - host: "*.example.org"
filesystem:
  - {host: /srv/cache, guest: /cache, mode: rw}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(capabilities.Diff(m, g))
	// Output:
	// over-grant filesystem /cache: mounted from /srv/cache (rw) by filesystem[0] but not requested
	// match limits memory: the plugin asks for 32MiB and gets 64MiB (the default)
	// over-grant network *.example.org:443 (https): granted by network.allow[1] but not requested
	// not-granted network api.github.com:443 (https): requested but not granted, so it will be refused; no rule covers this host
	// match network example.com:443 (https): granted by network.allow[0]
	// match plugin name: the grant is for fetch
	// not-granted secrets SIGNING_KEY: requested but not granted; the plugin will not receive it
}

func ExampleLint() {
	g, err := capabilities.ParseGrant("grants/files.yaml", []byte(`apiVersion: warden.dev/v1
kind: Grant
filesystem:
  - host: /etc
    guest: /config
    mode: rw
limits: {memory: 64MiB, timeout: 10s, output: 1MiB}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	findings := capabilities.Lint(g)
	_ = capabilities.WriteFindings(os.Stdout, "grants/files.yaml", findings)
	fmt.Println("fail:", capabilities.HasErrors(findings))
	// Output:
	// grants/files.yaml: warning: plugin: not set, so this grant can be attached to any plugin; set plugin: to the plugin's name
	// grants/files.yaml:4: error: filesystem[0].host: /etc exposes /etc: host configuration, including password hashes and keys
	// grants/files.yaml:6: warning: filesystem[0].mode: rw: the plugin can create, change and delete files under /etc
	// fail: true
}

func ExampleDescribeDenial() {
	g, _ := capabilities.ParseGrant("", []byte("apiVersion: warden.dev/v1\nkind: Grant\nnetwork:\n  allow: [{host: example.com}]\n"))
	fmt.Println(capabilities.DescribeDenial("fetch", "api.github.com", 443, "https", nil))
	fmt.Println(capabilities.DescribeDenial("fetch", "api.github.com", 443, "https", g.Network.Allow))
	// Output:
	// plugin fetch asked for api.github.com:443 over https; the grant allows no hosts
	// plugin fetch asked for api.github.com:443 over https; the grant allows: example.com:443 (https)
}
