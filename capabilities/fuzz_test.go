package capabilities

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

func FuzzParseGrant(f *testing.F) {
	seeds := []string{
		"",
		hdr,
		hdr + "plugin: github\nnetwork:\n  allow:\n    - host: api.github.com\n      ports: [443]\n      schemes: [https]\n",
		hdr + "network:\n  allow:\n    - {host: '*.example.com', schemes: [http, https]}\n    - {host: 127.0.0.1, ports: [8080], privateNetwork: allow}\n",
		hdr + "network:\n  allow:\n    - {host: '[::1]'}\n    - {host: 'fe80::1%eth0'}\n    - {host: 'a.com:80'}\n",
		hdr + "filesystem:\n  - {host: /srv/reports, guest: /reports, mode: ro}\n  - {host: /srv/x, guest: /reports/x}\n",
		hdr + "secrets:\n  - {name: T, from: env:T, redactOutput: false}\n  - {name: K, from: 'file:/run/k'}\n",
		hdr + "limits: {memory: 64MiB, timeout: 10s, output: 1MiB, httpResponse: 10MB, httpTimeout: 250ms, taskTimeout: 2m}\n",
		hdr + "x: &a [1]\ny: *a\n",
		hdr + "---\n" + hdr,
		hdr + "<<: {plugin: a}\n",
		hdr + "plugin: !!binary aGk=\n",
		"{apiVersion: warden.dev/v1, kind: Grant, limits: {memory: 0.5KiB}}",
		"[1, [2, [3]]]",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGrant("f.yaml", data)
		if err != nil {
			var fe *FieldError
			if g != nil || !errors.As(err, &fe) {
				t.Fatalf("error %T %v with grant %v", err, err, g)
			}
			return
		}
		// A valid grant marshals to YAML that parses back to the same grant.
		out, err := yaml.Marshal(g)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		g2, err := ParseGrant("again.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of\n%s\nfailed: %v", out, err)
		}
		g.lines, g2.lines = nil, nil
		if !reflect.DeepEqual(g, g2) {
			t.Fatalf("round trip changed the grant:\n%+v\n%+v", g, g2)
		}
		_ = Lint(g)
		_ = Diff(nil, g).String()
	})
}

func FuzzParseManifestJSON(f *testing.F) {
	seeds := []string{
		fetchManifestJSON,
		`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":"1.0.0"}`,
		`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":"1.0.0","limits":{"memory":1000,"timeout":"1s"}}`,
		`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":"1.0.0","capabilities":{"network":[{"host":"*.a.com","ports":[1,65535],"schemes":["http"]}]}}`,
		`{"name":"x","name":"y"}`,
		`{"description":"\u202e\ud83d\ude00"}`,
		`[[[[[[]]]]]]`,
		`{"a":1}{}`,
		`"str"`,
		`null`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifestJSON(data)
		if err != nil {
			var fe *FieldError
			if m != nil || !errors.As(err, &fe) {
				t.Fatalf("error %T %v with manifest %v", err, err, m)
			}
			return
		}
		out, err := m.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		m2, err := ParseManifestJSON(out)
		if err != nil {
			t.Fatalf("re-parse of %s failed: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, m2)
		}
		out2, _ := m2.MarshalJSON()
		if !bytes.Equal(out, out2) {
			t.Fatalf("MarshalJSON is not stable:\n%s\n%s", out, out2)
		}
		// The YAML form must parse to the same manifest too.
		y, err := yaml.Marshal(m)
		if err != nil {
			t.Fatalf("yaml marshal: %v", err)
		}
		m3, err := ParseManifestYAML("m.yaml", y)
		if err != nil {
			t.Fatalf("yaml re-parse of\n%s\nfailed: %v", y, err)
		}
		if !reflect.DeepEqual(m, m3) {
			t.Fatalf("YAML round trip changed the manifest:\n%+v\n%+v", m, m3)
		}
		_ = Diff(m, nil).String()
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1", "64MiB", "512KiB", "1GiB", "1000000", "10MB", "1.5MiB", "0.1KiB",
		"64 MiB", "64M", "9223372036854775807", "9223372036854775808", "8EiB", ".5", "1.", "-1", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d; String %q parses to %d, %v", s, n, n.String(), back, err)
		}
	})
}
