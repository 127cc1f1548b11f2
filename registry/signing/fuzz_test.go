package signing_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/registry/signing"
)

// FuzzParseBundle feeds arbitrary bytes to the bundle parser and to a full
// verification (key and keyless entries): nothing may panic, and only the
// seed bundles that are genuine may verify.
func FuzzParseBundle(f *testing.F) {
	fs := newFakeSigstore(f, false)
	dir := f.TempDir()
	priv, pub, err := signing.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dev.pub"), pub, 0o644); err != nil {
		f.Fatal(err)
	}
	p, err := signing.ParsePolicy([]byte(`
- plugins: [key]
  key: dev.pub
- plugins: [keyless]
  keyless: {issuer: https://token.actions.githubusercontent.com, identity: ` + acmeWF + `}
`))
	if err != nil {
		f.Fatal(err)
	}
	v, err := signing.NewVerifier(p, signing.WithBaseDir(dir), signing.WithTrustedRootFile(fs.rootPath))
	if err != nil {
		f.Fatal(err)
	}
	keyBundle, err := signing.SignBlob(priv, artifact)
	if err != nil {
		f.Fatal(err)
	}
	keylessBundle := fs.sign(f, artifact, leaf{identity: acmeWF, issuer: ghIssuer, ext: acmeExt})
	f.Add(keyBundle)
	f.Add(keylessBundle)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1"}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		perr := signing.ParseBundle(data)
		for _, name := range []string{"key", "keyless"} {
			ev, err := v.VerifyBlob(context.Background(), name, artifact, data)
			if err == nil {
				if ev == nil || ev.Digest != "sha256:"+sha(artifact) {
					t.Fatalf("verified with evidence %+v", ev)
				}
				continue
			}
			if perr != nil && !errors.Is(err, signing.ErrMalformedBundle) {
				t.Fatalf("parse error %v but VerifyBlob said %v", perr, err)
			}
		}
	})
}

// FuzzPolicy feeds arbitrary YAML to ParsePolicy: it must not panic, and a
// policy it accepts must survive a YAML round trip unchanged.
func FuzzPolicy(f *testing.F) {
	for _, s := range []string{
		`[{plugins: ["*"], keyless: {issuer: https://token.actions.githubusercontent.com, identityRegexp: '^https://github\.com/acme/.*$'}}]`,
		"- plugins: [hello]\n  key: keys/dev.pub\n  tlogThreshold: 1\n",
		`[{plugins: [a, "b*"], keyless: {issuerRegexp: "(x|y)", identity: z, github: {repository: a/b, ref: "refs/tags/*"}}}]`,
		`[{plugins: [x], key: k, keyless: {}}]`,
		`trust: 1`,
		`[{plugins: [x], keyless: {issuer: i, identityRegexp: "a{1000}{1000}"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := signing.ParsePolicy(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy accepted an invalid policy: %v", err)
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		p2, err := signing.ParsePolicy(out)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", out, err)
		}
		out2, _ := yaml.Marshal(p2)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the policy:\n%s\n%s", out, out2)
		}
		for _, name := range []string{"hello", "x", ""} {
			for _, i := range p.Select(name) {
				if i < 0 || i >= len(p.Entries) {
					t.Fatalf("Select(%q) returned %d", name, i)
				}
			}
		}
	})
}
