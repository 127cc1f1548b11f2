package signing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/wardenmcp/warden/registry/signing"
)

const (
	ghIssuer = "https://token.actions.githubusercontent.com"
	acmeWF   = "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.0.0"
)

var (
	artifact = []byte("\x00asm\x01\x00\x00\x00 the hello plugin")
	other    = []byte("\x00asm\x01\x00\x00\x00 another plugin")
)

// acmeExt are the Fulcio extensions of a GitHub Actions run of acme/hello.
var acmeExt = certificate.Extensions{
	BuildSignerURI:      acmeWF,
	BuildConfigURI:      acmeWF,
	SourceRepositoryURI: "https://github.com/acme/hello",
	SourceRepositoryRef: "refs/tags/v1.0.0",
	BuildTrigger:        "push",
	RunnerEnvironment:   "github-hosted",
}

// newVerifier parses a YAML trust list and builds a verifier over fs's
// trusted root.
func newVerifier(t *testing.T, fs *fakeSigstore, policyYAML string, opts ...signing.Option) *signing.Verifier {
	t.Helper()
	p, err := signing.ParsePolicy([]byte(policyYAML))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	if fs != nil {
		opts = append([]signing.Option{signing.WithTrustedRootFile(fs.rootPath)}, opts...)
	}
	v, err := signing.NewVerifier(p, opts...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestKeylessVirtualSigstore(t *testing.T) {
	fs := newFakeSigstore(t, false)
	v := newVerifier(t, fs, `
- plugins: [hello]
  keyless: {issuer: https://issuer.example, identity: dev@acme.example}
`)
	b := fs.signVirtual(t, artifact, "dev@acme.example", "https://issuer.example")
	ev, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
	if err != nil {
		t.Fatalf("VerifyBlob: %v", err)
	}
	if ev.Kind != "keyless" || ev.Signer != "dev@acme.example" || ev.Issuer != "https://issuer.example" || ev.Policy != "trust[0]" {
		t.Errorf("evidence = %+v", ev)
	}
	if !strings.HasPrefix(ev.Digest, "sha256:") || len(ev.Digest) != 71 {
		t.Errorf("digest = %q", ev.Digest)
	}
	if len(ev.Timestamps) != 2 { // the log's integrated time and the TSA's
		t.Errorf("timestamps = %v, want 2", ev.Timestamps)
	}
	for _, ts := range ev.Timestamps {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("timestamp %q: %v", ts, err)
		}
	}

	// The same signature by another identity or issuer is refused.
	for _, tc := range []struct{ identity, issuer, want string }{
		{"mallory@acme.example", "https://issuer.example", "want identity dev@acme.example"},
		{"dev@acme.example", "https://evil.example", "want issuer https://issuer.example"},
	} {
		b := fs.signVirtual(t, artifact, tc.identity, tc.issuer)
		_, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
		if !errors.Is(err, signing.ErrUntrusted) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: err = %v, want ErrUntrusted with %q", tc.identity, tc.issuer, err, tc.want)
		}
		wantWho := fmt.Sprintf("signature by %s (issuer %s) does not match the trust policy for plugin \"hello\"", tc.identity, tc.issuer)
		if err != nil && !strings.Contains(err.Error(), wantWho) {
			t.Errorf("err = %v, want it to contain %q", err, wantWho)
		}
	}
}

func TestKeyless(t *testing.T) {
	fs := newFakeSigstore(t, false)
	const acmePolicy = `
- plugins: ["*"]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/acme/.*$'
`
	now := time.Now()
	cases := []struct {
		name     string
		policy   string
		plugin   string
		artifact []byte // what is verified (default: artifact)
		bundle   func() []byte
		kind     error // nil: must verify
		want     []string
	}{{
		name:   "good identity",
		policy: acmePolicy,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, ext: acmeExt}) },
	}, {
		name:   "wrong identity",
		policy: acmePolicy,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: "https://github.com/evil/x/.github/workflows/r.yml@refs/heads/main", issuer: ghIssuer})
		},
		kind: signing.ErrUntrusted,
		want: []string{`signature by https://github.com/evil/x/.github/workflows/r.yml@refs/heads/main (issuer https://token.actions.githubusercontent.com) does not match the trust policy for plugin "hello" (trust[0]): want identity matching ^https://github\.com/acme/.*$`},
	}, {
		name:   "wrong issuer",
		policy: acmePolicy,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: "https://accounts.example"}) },
		kind:   signing.ErrUntrusted,
		want:   []string{"want issuer https://token.actions.githubusercontent.com", "(issuer https://accounts.example)"},
	}, {
		name: "unanchored identity regexp is anchored",
		policy: `
- plugins: [hello]
  keyless: {issuer: https://issuer.example, identityRegexp: 'acme@example\.com'}
`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: "evil-acme@example.com", issuer: "https://issuer.example"})
		},
		kind: signing.ErrUntrusted,
		want: []string{`want identity matching ^(?:acme@example\.com)$`},
	}, {
		name: "unanchored identity regexp still matches the whole value",
		policy: `
- plugins: [hello]
  keyless: {issuer: https://issuer.example, identityRegexp: 'acme@example\.com'}
`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: "acme@example.com", issuer: "https://issuer.example"})
		},
	}, {
		name: "unanchored issuer regexp is anchored",
		policy: `
- plugins: [hello]
  keyless: {issuerRegexp: 'https://token\.actions\.githubusercontent\.com', identity: dev@acme.example}
`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: "dev@acme.example", issuer: "https://token.actions.githubusercontent.com.evil.example"})
		},
		kind: signing.ErrUntrusted,
		want: []string{`want issuer matching ^(?:https://token\.actions\.githubusercontent\.com)$`},
	}, {
		name: "GitHub claims satisfied",
		policy: `
- plugins: [hello]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/acme/.*$'
    github: {repository: Acme/Hello, workflowRef: "acme/hello/.github/workflows/release.yml@refs/tags/v*", ref: "refs/tags/*", trigger: push, runnerEnvironment: github-hosted}
`,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, ext: acmeExt}) },
	}, {
		name: "wrong GitHub repository",
		policy: `
- plugins: [hello]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/acme/.*$'
    github: {repository: acme/hello}
`,
		bundle: func() []byte {
			ext := acmeExt
			ext.SourceRepositoryURI = "https://github.com/acme/evil-fork"
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, ext: ext})
		},
		kind: signing.ErrUntrusted,
		want: []string{"want GitHub repository acme/hello, certificate has https://github.com/acme/evil-fork"},
	}, {
		name: "wrong workflow and ref",
		policy: `
- plugins: [hello]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/acme/.*$'
    github: {workflowRef: "acme/hello/.github/workflows/release.yml@refs/tags/*", ref: "refs/tags/*"}
`,
		bundle: func() []byte {
			ext := acmeExt
			ext.BuildSignerURI = "https://github.com/acme/hello/.github/workflows/debug.yml@refs/heads/main"
			ext.SourceRepositoryRef = "refs/heads/main"
			return fs.sign(t, artifact, leaf{identity: ext.BuildSignerURI, issuer: ghIssuer, ext: ext})
		},
		kind: signing.ErrUntrusted,
		want: []string{
			"want GitHub workflow https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/*, certificate has https://github.com/acme/hello/.github/workflows/debug.yml@refs/heads/main",
			"want git ref refs/tags/*, certificate has refs/heads/main",
		},
	}, {
		name:   "GitHub claims missing from a non-GitHub certificate",
		policy: `[{plugins: [hello], keyless: {issuer: https://issuer.example, identity: dev@acme.example, github: {repository: acme/hello}}}]`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: "dev@acme.example", issuer: "https://issuer.example"})
		},
		kind: signing.ErrUntrusted,
		want: []string{"want GitHub repository acme/hello, certificate has none"},
	}, {
		name:   "expired certificate without a timestamp",
		policy: acmePolicy,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, notBefore: now.Add(-30 * time.Minute), notAfter: now.Add(-20 * time.Minute), noTlog: true, noTSA: true})
		},
		kind: signing.ErrTransparency,
		want: []string{"want 1 transparency-log entry", "the certificate expired at"},
	}, {
		name:   "expired certificate without a timestamp, no log required",
		policy: `[{plugins: ["*"], tlogThreshold: 0, keyless: {issuer: https://token.actions.githubusercontent.com, identityRegexp: '^https://github\.com/acme/.*$'}}]`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, notBefore: now.Add(-30 * time.Minute), notAfter: now.Add(-20 * time.Minute), noTlog: true, noTSA: true})
		},
		kind: signing.ErrTransparency,
		want: []string{"want 1 verified timestamp", "the certificate expired at"},
	}, {
		name:   "expired certificate checked against the current time",
		policy: `[{plugins: ["*"], tlogThreshold: 0, timestampThreshold: 0, keyless: {issuer: https://token.actions.githubusercontent.com, identityRegexp: '^https://github\.com/acme/.*$'}}]`,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, notBefore: now.Add(-30 * time.Minute), notAfter: now.Add(-20 * time.Minute), noTlog: true, noTSA: true})
		},
		kind: signing.ErrUntrusted,
		want: []string{"the certificate was not issued by a certificate authority in the trusted root, or was not valid when it was used"},
	}, {
		name:   "expired certificate with a log timestamp from its validity",
		policy: acmePolicy,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, notBefore: now.Add(-30 * time.Minute), notAfter: now.Add(-20 * time.Minute), noTSA: true, integrated: now.Add(-25 * time.Minute)})
		},
	}, {
		name:   "log timestamp outside the certificate's validity",
		policy: acmePolicy,
		bundle: func() []byte {
			return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, notBefore: now.Add(-30 * time.Minute), notAfter: now.Add(-20 * time.Minute), noTSA: true, integrated: now.Add(-10 * time.Minute)})
		},
		kind: signing.ErrUntrusted,
		want: []string{"the certificate was not valid at the time the transparency log recorded the signature"},
	}, {
		name:   "TSA timestamp only, log not required",
		policy: `[{plugins: ["*"], tlogThreshold: 0, keyless: {issuer: https://token.actions.githubusercontent.com, identityRegexp: '^https://github\.com/acme/.*$'}}]`,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, noTlog: true}) },
	}, {
		name:   "TSA timestamp only, log required",
		policy: acmePolicy,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, noTlog: true}) },
		kind:   signing.ErrTransparency,
		want:   []string{"want 1 transparency-log entry verified against the trusted root (tlogThreshold)"},
	}, {
		name:   "two log entries required",
		policy: `[{plugins: ["*"], tlogThreshold: 2, keyless: {issuer: https://token.actions.githubusercontent.com, identityRegexp: '^https://github\.com/acme/.*$'}}]`,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}) },
		kind:   signing.ErrTransparency,
		want:   []string{"want 2 transparency-log entries"},
	}, {
		name:     "bundle of another artifact",
		policy:   acmePolicy,
		artifact: other,
		bundle:   func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}) },
		kind:     signing.ErrArtifactMismatch,
		want:     []string{"bundle is for sha256:" + sha(artifact) + ", not for this artifact sha256:" + sha(other)},
	}, {
		name:     "tampered bytes",
		policy:   acmePolicy,
		artifact: flip(artifact, 3),
		bundle:   func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}) },
		kind:     signing.ErrArtifactMismatch,
		want:     []string{"not for this artifact sha256:" + sha(flip(artifact, 3))},
	}, {
		name:   "tampered bundle: signature",
		policy: acmePolicy,
		bundle: func() []byte {
			return editBundle(t, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}), func(m map[string]any) {
				ms := m["messageSignature"].(map[string]any)
				ms["signature"] = flipB64(t, ms["signature"].(string), 10)
			})
		},
		kind: signing.ErrBadSignature,
		want: []string{"the signature does not verify with the certificate of " + acmeWF},
	}, {
		name:     "tampered bundle: digest rewritten for other bytes",
		policy:   acmePolicy,
		artifact: other,
		bundle: func() []byte {
			return editBundle(t, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}), func(m map[string]any) {
				m["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["digest"] = b64sha(other)
			})
		},
		kind: signing.ErrBadSignature,
		want: []string{"the artifact or the bundle was modified"},
	}, {
		name:   "tampered bundle: log entry",
		policy: acmePolicy,
		bundle: func() []byte {
			return editBundle(t, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, noTSA: true}), func(m map[string]any) {
				e := m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
				e["integratedTime"] = fmt.Sprint(now.Add(-time.Minute).Unix())
			})
		},
		kind: signing.ErrTransparency,
		want: []string{"transparency-log entry"},
	}, {
		name:   "tampered bundle: certificate",
		policy: acmePolicy,
		bundle: func() []byte {
			b := fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})
			return editBundle(t, b, func(m map[string]any) {
				c := m["verificationMaterial"].(map[string]any)["certificate"].(map[string]any)
				c["rawBytes"] = flipB64(t, c["rawBytes"].(string), 200)
			})
		},
		kind: signing.ErrMalformedBundle, // the flipped certificate no longer parses, or fails below
	}, {
		name:   "key-signed bundle for a keyless policy",
		policy: acmePolicy,
		bundle: func() []byte {
			priv, _, err := signing.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			b, err := signing.SignBlob(priv, artifact)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		kind: signing.ErrUntrusted,
		want: []string{"signed by key sha256:", `want a keyless signature by identity matching ^https://github\.com/acme/.*$ (issuer https://token.actions.githubusercontent.com)`},
	}, {
		name:   "no policy for the plugin",
		policy: `[{plugins: [other], keyless: {issuer: x, identity: y}}]`,
		bundle: func() []byte { return fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}) },
		kind:   signing.ErrNoPolicy,
		want:   []string{`no trust policy entry covers plugin "hello"`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, fs, tc.policy)
			art := artifact
			if tc.artifact != nil {
				art = tc.artifact
			}
			ev, err := v.VerifyBlob(context.Background(), "hello", art, tc.bundle())
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("VerifyBlob: %v", err)
				}
				if ev.Kind != "keyless" || ev.Signer == "" || ev.Digest != "sha256:"+sha(art) {
					t.Errorf("evidence = %+v", ev)
				}
				return
			}
			if err == nil {
				t.Fatalf("VerifyBlob succeeded, want %v", tc.kind)
			}
			t.Logf("refused: %v", err)
			if tc.kind == signing.ErrMalformedBundle && (errors.Is(err, signing.ErrBadSignature) || errors.Is(err, signing.ErrUntrusted)) {
				return // a tampered certificate may still parse
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("err = %v, want %v", err, tc.kind)
			}
			var ve *signing.VerificationError
			if !errors.As(err, &ve) || ve.Plugin != "hello" {
				t.Errorf("err = %#v, want a *VerificationError for hello", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestKeylessEvidence(t *testing.T) {
	fs := newFakeSigstore(t, false)
	v := newVerifier(t, fs, `
- plugins: ["*"]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identity: `+acmeWF+`
    github: {repository: acme/hello}
`)
	ev, err := v.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, ext: acmeExt}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"buildSignerURI":      acmeWF,
		"buildConfigURI":      acmeWF,
		"sourceRepositoryURI": "https://github.com/acme/hello",
		"sourceRepositoryRef": "refs/tags/v1.0.0",
		"buildTrigger":        "push",
		"runnerEnvironment":   "github-hosted",
	}
	got, _ := json.Marshal(ev.Extensions)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("extensions = %s, want %s", got, exp)
	}
	if ev.Signer != acmeWF || ev.Issuer != ghIssuer {
		t.Errorf("evidence = %+v", ev)
	}
}

func TestKeylessCTLogRequired(t *testing.T) {
	fs := newFakeSigstore(t, true) // the root lists a CT log
	b := fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})
	v := newVerifier(t, fs, `[{plugins: ["*"], keyless: {issuer: https://token.actions.githubusercontent.com, identity: `+acmeWF+`}}]`)
	_, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
	if !errors.Is(err, signing.ErrTransparency) || !strings.Contains(err.Error(), "signed certificate timestamp") {
		t.Errorf("err = %v, want ErrTransparency about the missing SCT", err)
	}
	v = newVerifier(t, fs, `[{plugins: ["*"], ctlogThreshold: 0, keyless: {issuer: https://token.actions.githubusercontent.com, identity: `+acmeWF+`}}]`)
	if _, err := v.VerifyBlob(context.Background(), "hello", artifact, b); err != nil {
		t.Errorf("with ctlogThreshold 0: %v", err)
	}
}

func TestKeylessUntrustedRoot(t *testing.T) {
	signer := newFakeSigstore(t, false)
	verifier := newFakeSigstore(t, false) // another deployment
	v := newVerifier(t, verifier, `[{plugins: ["*"], tlogThreshold: 0, keyless: {issuer: https://token.actions.githubusercontent.com, identity: `+acmeWF+`}}]`)
	// Only the TSA: the log would fail first.
	_, err := v.VerifyBlob(context.Background(), "hello", artifact, signer.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer, noTlog: true}))
	if err == nil {
		t.Fatal("a bundle from another Sigstore deployment verified")
	}
	if !errors.Is(err, signing.ErrTransparency) && !errors.Is(err, signing.ErrUntrusted) {
		t.Errorf("err = %v", err)
	}
}

func TestKeylessEntryTrustedRoot(t *testing.T) {
	fs := newFakeSigstore(t, false)
	// The entry's own root wins over the default; the default here would be
	// the public-good root through TUF, which the test must never reach.
	p, err := signing.ParsePolicy([]byte(`[{plugins: ["*"], trustedRoot: ` + fs.rootPath + `, keyless: {issuer: https://token.actions.githubusercontent.com, identity: ` + acmeWF + `}}]`))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier(p, signing.WithTrustedRootSnapshot("/nonexistent/snapshot.json"), signing.WithTUFCache(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})); err != nil {
		t.Fatal(err)
	}
}
