package signing_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/registry/signing"
)

func TestParsePolicyErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"not a list", `plugins: [x]`, []string{"trust (line 1): must be a list of entries"}},
		{"no plugins", `
- key: k.pub`, []string{`trust[0].plugins (line 2): list the plugin names this entry covers, or "*" for all`}},
		{"empty pattern", `
- plugins: [""]
  key: k.pub`, []string{"trust[0].plugins[0] (line 2): empty plugin name"}},
		{"star in the middle", `
- plugins: ["a*b"]
  key: k.pub`, []string{`trust[0].plugins[0] (line 2): plugin pattern "a*b": "*" is only allowed at the end`}},
		{"neither keyless nor key", `
- plugins: [x]`, []string{"trust[0] (line 2): set keyless (issuer and identity) or key (a public key file)"}},
		{"both keyless and key", `
- plugins: [x]
  key: k.pub
  keyless: {issuer: i, identity: d}`, []string{"trust[0].key (line 3): set either keyless or key, not both"}},
		{"issuer and issuerRegexp", `
- plugins: [x]
  keyless:
    issuer: https://a
    issuerRegexp: https://.*
    identity: d`, []string{"trust[0].keyless.issuerRegexp (line 5): set issuer or issuerRegexp, not both"}},
		{"no issuer", `
- plugins: [x]
  keyless:
    identity: d`, []string{"trust[0].keyless (line 4): set issuer (exact OIDC issuer URL) or issuerRegexp"}},
		{"no identity", `
- plugins: [x]
  keyless: {issuer: i}`, []string{"trust[0].keyless (line 3): set identity (exact certificate identity) or identityRegexp"}},
		{"identity and identityRegexp", `
- plugins: [x]
  keyless: {issuer: i, identity: a, identityRegexp: b}`, []string{"trust[0].keyless.identityRegexp (line 3): set identity or identityRegexp, not both"}},
		{"invalid regexp", `
- plugins: [x]
  key: k.pub
- plugins: [y]
  keyless:
    issuer: i
    identityRegexp: '^https://github\.com/(acme$'`, []string{"trust[1].keyless.identityRegexp (line 7): invalid regexp: error parsing regexp: missing closing )"}},
		{"unknown field", `
- plugins: [x]
  keyless:
    issuer: i
    identityRegex: d`, []string{"trust[0].keyless.identityRegex (line 5): unknown field (known fields: issuer, issuerRegexp, identity, identityRegexp, github)"}},
		{"unknown github field", `
- plugins: [x]
  keyless:
    issuer: i
    identity: d
    github: {repo: acme/hello}`, []string{"trust[0].keyless.github.repo (line 6): unknown field"}},
		{"misspelt entry field", `
- plugins: [x]
  keys: k.pub`, []string{"trust[0].keys (line 3): unknown field"}},
		{"field given twice", `
- plugins: [x]
  key: a.pub
  key: b.pub`, []string{"trust[0].key (line 4)"}},
		{"wrong type", `
- plugins: x
  key: k.pub`, []string{"trust[0].plugins (line 2): cannot unmarshal !!str `x` into []string"}},
		{"negative threshold", `
- plugins: [x]
  key: k.pub
  tlogThreshold: -1`, []string{"trust[0].tlogThreshold (line 4): must be between 0 and 32, not -1"}},
		{"empty github", `
- plugins: [x]
  keyless: {issuer: i, identity: d, github: {}}`, []string{"trust[0].keyless.github (line 3): set at least one of repository"}},
		{"bad github repository", `
- plugins: [x]
  keyless: {issuer: i, identity: d, github: {repository: "https://github.com/acme/hello"}}`, []string{`trust[0].keyless.github.repository (line 3): must be "owner/name"`}},
		{"bad github server", `
- plugins: [x]
  keyless: {issuer: i, identity: d, github: {repository: a/b, serverURL: "http://ghe.example/x"}}`, []string{"trust[0].keyless.github.serverURL (line 3): must be an https URL"}},
		{"glob in trigger", `
- plugins: [x]
  keyless: {issuer: i, identity: d, github: {trigger: "pu*"}}`, []string{`trust[0].keyless.github.trigger (line 3): "*" is not allowed here`}},
		{"several problems at once", `
- plugins: []
  key: k.pub
- plugins: [y]
  keyless: {issuerRegexp: "(", identity: d}`, []string{"trust[0].plugins (line 2)", "trust[1].keyless.issuerRegexp (line 5): invalid regexp"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.ParsePolicy([]byte(tc.yaml))
			if err == nil {
				t.Fatal("ParsePolicy succeeded")
			}
			t.Logf("%v", err)
			var pe *signing.PolicyError
			if !errors.As(err, &pe) {
				t.Errorf("err = %T %v, want a *PolicyError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParsePolicyRoundTrip(t *testing.T) {
	one, zero := 1, 0
	const src = `
- plugins: ["*"]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/acme/.*$'
    github: {repository: acme/hello, workflowRef: "acme/hello/.github/workflows/release.yml@refs/tags/*"}
  tlogThreshold: 1
  timestampThreshold: 0
- plugins: [hello, "hel*"]
  key: keys/dev.pub
  trustedRoot: roots/private.json
`
	p, err := signing.ParsePolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []signing.Entry{{
		Plugins: []string{"*"},
		Keyless: &signing.Keyless{
			Issuer:         "https://token.actions.githubusercontent.com",
			IdentityRegexp: `^https://github\.com/acme/.*$`,
			GitHub:         &signing.GitHubClaims{Repository: "acme/hello", WorkflowRef: "acme/hello/.github/workflows/release.yml@refs/tags/*"},
		},
		Tlog:       &one,
		Timestamps: &zero,
	}, {
		Plugins:     []string{"hello", "hel*"},
		Key:         "keys/dev.pub",
		TrustedRoot: "roots/private.json",
	}}
	if got, _ := json.Marshal(p); string(got) != string(mustJSON(t, want)) {
		t.Errorf("parsed %s\nwant   %s", got, mustJSON(t, want))
	}

	// YAML and JSON both write the bare list, and read it back.
	y, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := signing.ParsePolicy(y)
	if err != nil {
		t.Fatalf("re-parsing %s: %v", y, err)
	}
	j, _ := json.Marshal(p2)
	var p3 signing.Policy
	if err := json.Unmarshal(j, &p3); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mustJSON(t, p3), mustJSON(t, p)) {
		t.Errorf("round trip changed the policy:\n%s\n%s", mustJSON(t, p3), mustJSON(t, p))
	}
	if err := json.Unmarshal([]byte(`[{"plugins":["x"],"key":"k","colour":"red"}]`), &p3); err == nil {
		t.Error("JSON with an unknown field parsed")
	}

	// As a field of a larger config, under the contract's key "trust".
	var cfg struct {
		Trust signing.Policy `yaml:"trust"`
	}
	if err := yaml.Unmarshal([]byte("trust:\n"+indent(src)), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Trust.Entries) != 2 || cfg.Trust.Entries[1].Key != "keys/dev.pub" {
		t.Errorf("trust = %+v", cfg.Trust)
	}
	if err := yaml.Unmarshal([]byte("trust:\n  - plugins: [x]\n    kee: y\n"), &cfg); err == nil || !strings.Contains(err.Error(), "trust[0].kee (line 3): unknown field") {
		t.Errorf("unknown field inside a config: %v", err)
	}
	// Empty.
	if p, err := signing.ParsePolicy(nil); err != nil || len(p.Entries) != 0 {
		t.Errorf("empty policy: %v, %v", p, err)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") + "\n"
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPolicySelect(t *testing.T) {
	p, err := signing.ParsePolicy([]byte(`
- {plugins: ["*"], key: a}
- {plugins: [hello], key: b}
- {plugins: ["he*"], key: c}
- {plugins: ["hel*", other], key: d}
- {plugins: [hello], key: e}
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]int{
		"hello": {1, 4},
		"help":  {3},
		"heat":  {2},
		"other": {3},
		"x":     {0},
		"":      {0},
	} {
		if got := p.Select(name); !reflect.DeepEqual(got, want) {
			t.Errorf("Select(%q) = %v, want %v", name, got, want)
		}
	}
	if got := (signing.Policy{}).Select("x"); got != nil {
		t.Errorf("empty policy selects %v", got)
	}
}

func TestNewVerifierFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, pub, _ := signing.GenerateKey()
	os.WriteFile(filepath.Join(dir, "good.pub"), pub, 0o644)
	os.WriteFile(filepath.Join(dir, "bad.pub"), []byte("not a key"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad-root.json"), []byte(`{"mediaType": "nope"}`), 0o644)
	cases := map[string]string{
		`[{plugins: [x], key: good.pub}, {plugins: [y], key: missing.pub}]`:                        "trust[1].key (line 1): open " + filepath.Join(dir, "missing.pub"),
		`[{plugins: [x], key: bad.pub}]`:                                                           "trust[0].key (line 1): bad.pub: no PEM block found",
		`[{plugins: [x], key: good.pub, trustedRoot: bad-root.json}]`:                              "trust[0].trustedRoot (line 1): trusted root " + filepath.Join(dir, "bad-root.json") + ": unsupported TrustedRoot media type",
		`[{plugins: [x], keyless: {issuer: i, identity: d}, trustedRoot: /nonexistent/root.json}]`: "trust[0].trustedRoot (line 1): trusted root: open /nonexistent/root.json",
	}
	for src, want := range cases {
		p, err := signing.ParsePolicy([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		_, err = signing.NewVerifier(p, signing.WithBaseDir(dir))
		var pe *signing.PolicyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\nerr = %v\nwant %q", src, err, want)
		}
	}
	// An absolute key path ignores the base directory.
	p, _ := signing.ParsePolicy([]byte(`[{plugins: [x], key: ` + filepath.Join(dir, "good.pub") + `}]`))
	if _, err := signing.NewVerifier(p, signing.WithBaseDir("/elsewhere")); err != nil {
		t.Error(err)
	}
	// A bad default trusted root fails at construction.
	if _, err := signing.NewVerifier(p, signing.WithTrustedRootFile(filepath.Join(dir, "bad-root.json"))); err == nil {
		t.Error("bad default trusted root accepted")
	}
	if _, err := signing.NewVerifier(p, signing.WithTrustedRootJSON([]byte("{"))); err == nil {
		t.Error("bad default trusted root JSON accepted")
	}
	// Validation errors come first.
	if _, err := signing.NewVerifier(signing.Policy{Entries: []signing.Entry{{Plugins: []string{"x"}}}}); err == nil {
		t.Error("invalid policy accepted")
	}
}
