package capabilities

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fetchManifestYAML = `apiVersion: warden.dev/v1
kind: Manifest
name: fetch
version: 0.1.0
description: Fetch a URL over HTTPS
capabilities:
  network:
    - host: example.com
      ports: [443]
      schemes: [https]
  filesystem:
    - guest: /data
      mode: ro
  secrets:
    - name: SIGNING_KEY
limits: {memory: 32MiB, timeout: 5s, output: 1MiB}
`

var fetchManifest = Manifest{
	APIVersion:  APIVersion,
	Kind:        KindManifest,
	Name:        "fetch",
	Version:     "0.1.0",
	Description: "Fetch a URL over HTTPS",
	Capabilities: Request{
		Network:    []NetworkRequest{{Host: "example.com", Ports: []int{443}, Schemes: []string{"https"}}},
		Filesystem: []MountRequest{{Guest: "/data", Mode: "ro"}},
		Secrets:    []SecretRequest{{Name: "SIGNING_KEY"}},
	},
	Limits: Limits{Memory: 32 << 20, Timeout: Duration(5 * time.Second), Output: 1 << 20},
}

const fetchManifestJSON = `{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"fetch","version":"0.1.0",` +
	`"description":"Fetch a URL over HTTPS","capabilities":{"network":[{"host":"example.com","ports":[443],"schemes":["https"]}],` +
	`"filesystem":[{"guest":"/data","mode":"ro"}],"secrets":[{"name":"SIGNING_KEY"}]},` +
	`"limits":{"memory":"32MiB","timeout":"5s","output":"1MiB"}}`

func TestParseManifestYAML(t *testing.T) {
	m, err := ParseManifestYAML("fetch.yaml", []byte(fetchManifestYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*m, fetchManifest) {
		t.Errorf("got  %+v\nwant %+v", *m, fetchManifest)
	}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(js) != fetchManifestJSON {
		t.Errorf("MarshalJSON:\n%s\nwant\n%s", js, fetchManifestJSON)
	}
	back, err := ParseManifestJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("JSON round trip:\n%+v\n%+v", back, m)
	}
}

func TestManifestDefaultsAndMinimal(t *testing.T) {
	m, err := ParseManifestJSON([]byte(`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":"v1.2.3-rc.1+build.5",
		"capabilities":{"network":[{"host":"*.S3.amazonaws.com","schemes":["http","https"]}],"filesystem":[{"guest":"/out"}]},
		"limits":{"output":1000}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{APIVersion: APIVersion, Kind: KindManifest, Name: "x", Version: "v1.2.3-rc.1+build.5",
		Capabilities: Request{
			Network:    []NetworkRequest{{Host: "*.s3.amazonaws.com", Ports: []int{80, 443}, Schemes: []string{"http", "https"}}},
			Filesystem: []MountRequest{{Guest: "/out", Mode: "ro"}},
		},
		Limits: Limits{Output: 1000},
	}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
	js, _ := m.MarshalJSON()
	if strings.Contains(string(js), `"secrets"`) || strings.Contains(string(js), `"description"`) {
		t.Errorf("empty fields were written: %s", js)
	}
	var viaStd Manifest
	if err := json.Unmarshal(js, &viaStd); err != nil || !reflect.DeepEqual(viaStd, *m) {
		t.Errorf("json.Unmarshal: %v\n%+v", err, viaStd)
	}
	if err := json.Unmarshal([]byte(`{"name":"x"}`), &viaStd); err == nil {
		t.Error("json.Unmarshal accepted an invalid manifest")
	}
}

const mhdr = "apiVersion: warden.dev/v1\nkind: Manifest\nname: fetch\nversion: 0.1.0\n"

func TestParseManifestYAMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"missing everything", "description: x\n",
			"m.yaml:1: apiVersion: is required (want apiVersion: warden.dev/v1)\n" +
				"m.yaml:1: kind: is required (want kind: Manifest)\n" +
				"m.yaml:1: name: is required (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)\n" +
				"m.yaml:1: version: is required (want a semantic version such as 0.1.0)"},
		{"grant kind", "apiVersion: warden.dev/v1\nkind: Grant\nname: x\nversion: 1.0.0\n", `m.yaml:2: kind: "Grant" is not allowed here (want Manifest)`},
		{"name with dot", "apiVersion: warden.dev/v1\nkind: Manifest\nname: a.b\nversion: 1.0.0\n", `m.yaml:3: name: "a.b" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"name upper case", "apiVersion: warden.dev/v1\nkind: Manifest\nname: Fetch\nversion: 1.0.0\n", `m.yaml:3: name: "Fetch" is not a valid plugin name (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
		{"version two parts", "apiVersion: warden.dev/v1\nkind: Manifest\nname: x\nversion: 1.0\n", `m.yaml:4: version: "1.0" is not a semantic version (want MAJOR.MINOR.PATCH such as 0.1.0 or 1.2.3-rc.1)`},
		{"version leading zero", "apiVersion: warden.dev/v1\nkind: Manifest\nname: x\nversion: 01.0.0\n", `m.yaml:4: version: "01.0.0" is not a semantic version (want MAJOR.MINOR.PATCH such as 0.1.0 or 1.2.3-rc.1)`},
		{"description too long", mhdr + "description: " + strings.Repeat("x", 1025) + "\n", `m.yaml:5: description: is 1025 bytes long (want at most 1024)`},
		{"description escape", mhdr + "description: \"a\\x1b[31m\"\n", `m.yaml:5: description: "a\x1b[31m" contains the character U+001B, which is not allowed`},
		{"unknown capability", mhdr + "capabilities: {processes: []}\n", `m.yaml:5: capabilities.processes: unknown field (want network, filesystem or secrets)`},
		{"network privateNetwork", mhdr + "capabilities:\n  network:\n    - {host: a.com, privateNetwork: allow}\n", `m.yaml:7: capabilities.network[0].privateNetwork: unknown field (want host, ports or schemes)`},
		{"network bad scheme", mhdr + "capabilities:\n  network:\n    - {host: a.com, schemes: [wss]}\n", `m.yaml:7: capabilities.network[0].schemes[0]: "wss" is not allowed (want http or https)`},
		{"network repeated", mhdr + "capabilities:\n  network:\n    - {host: a.com}\n    - {host: a.com, ports: [443]}\n", `m.yaml:8: capabilities.network[1]: repeats capabilities.network[0]`},
		{"filesystem host", mhdr + "capabilities:\n  filesystem:\n    - {guest: /a, host: /srv}\n", `m.yaml:7: capabilities.filesystem[0].host: unknown field (want guest or mode)`},
		{"filesystem nested", mhdr + "capabilities:\n  filesystem:\n    - {guest: /a}\n    - {guest: /a/b}\n", `m.yaml:8: capabilities.filesystem[1].guest: "/a/b" and "/a" (capabilities.filesystem[0]) are nested; mounts must not overlap`},
		{"secret from", mhdr + "capabilities:\n  secrets:\n    - {name: K, from: env:K}\n", `m.yaml:7: capabilities.secrets[0].from: unknown field (want name)`},
		{"secret twice", mhdr + "capabilities:\n  secrets:\n    - {name: K}\n    - {name: K}\n", `m.yaml:8: capabilities.secrets[1].name: "K" is already granted by capabilities.secrets[0]`},
		{"limits bad", mhdr + "limits: {memory: 32M}\n", `m.yaml:5: limits.memory: "32M" has an ambiguous unit "M" (want KiB, MiB, GiB for powers of 1024 or kB, MB, GB for powers of 1000)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifestYAML("m.yaml", []byte(tt.doc))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
	if _, err := ParseManifestYAML("m.yaml", []byte(mhdr+"description: |\n  two\n  lines\n")); err != nil {
		t.Errorf("multi-line description: %v", err)
	}
}

func TestParseManifestJSONErrors(t *testing.T) {
	const head = `{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":"1.0.0"`
	tests := []struct{ name, doc, want string }{
		{"empty", "", "empty document"},
		{"not an object", `[1]`, `line 1: want a manifest (a mapping starting with apiVersion: warden.dev/v1 and kind: Manifest), found a list`},
		{"syntax", `{"name":}`, `line 1: invalid JSON: invalid character '}' looking for beginning of value`},
		{"truncated", `{"name":"x"`, `line 1: invalid JSON: unexpected end of input`},
		{"trailing data", head + `}{}`, `line 1: unexpected data after the JSON value`},
		{"trailing garbage", head + `} x`, `line 1: unexpected data after the JSON value`},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", `invalid UTF-8`},
		{"unknown field", head + `,"extra":1}`, `line 1: extra: unknown field (want apiVersion, kind, name, version, description, capabilities or limits)`},
		{"duplicate key", head + ",\n\"name\":\"y\"}", `line 2: name: set twice (first on line 1)`},
		{"number for string", `{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"x","version":1}`, `line 1: version: want a string, found a number`},
		{"string for port", head + `,"capabilities":{"network":[{"host":"a.com","ports":["443"]}]}}`, `line 1: capabilities.network[0].ports[0]: want a port number from 1 to 65535, found the string "443"`},
		{"float port", head + `,"capabilities":{"network":[{"host":"a.com","ports":[443.5]}]}}`, `line 1: capabilities.network[0].ports[0]: 443.5 is not allowed (want a port number from 1 to 65535)`},
		{"number duration", head + `,"limits":{"timeout":5}}`, `line 1: limits.timeout: want a duration such as 10s, found a number`},
		{"deep nesting", strings.Repeat("[", 100) + strings.Repeat("]", 100), `line 1: JSON nested too deeply`},
		{"too large", `{"description":"` + strings.Repeat("x", MaxManifestSize) + `"}`, `the manifest is larger than 64KiB`},
		{"null name", `{"apiVersion":"warden.dev/v1","kind":"Manifest","name":null,"version":"1.0.0"}`, `line 1: name: is required (want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifestJSON([]byte(tt.doc))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got\n%v\nwant\n%s", err, tt.want)
			}
			var fe *FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError list: %T", err)
			}
		})
	}
}

func TestParseManifestJSONPositions(t *testing.T) {
	doc := "{\n  \"apiVersion\": \"warden.dev/v1\",\n  \"kind\": \"Manifest\",\n  \"name\": \"x\",\n  \"version\": \"1.0.0\",\n" +
		"  \"capabilities\": {\n    \"network\": [\n      {\"host\": \"a.com\", \"schemes\": [\"ftp\"]}\n    ]\n  }\n}\n"
	_, err := ParseManifestJSON([]byte(doc))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatal(err)
	}
	if fe.Line != 8 || fe.Column != 37 || fe.Field != "capabilities.network[0].schemes[0]" {
		t.Errorf("got %+v", *fe)
	}
}
