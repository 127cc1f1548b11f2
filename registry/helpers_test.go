package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wardenmcp/warden/internal/wasmbin"
)

// fakeVerifier stands in for the Sigstore verifier: a "bundle" is JSON
// naming the digest it signs and its signer, and the policy is a map of
// accepted signers to issuers.
type fakeVerifier struct {
	signers map[string]string // signer -> issuer
	calls   atomic.Int32
}

type fakeBundleJSON struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Signer    string `json:"signer"`
	Issuer    string `json:"issuer"`
}

func newFakeVerifier(signers ...string) *fakeVerifier {
	v := &fakeVerifier{signers: map[string]string{}}
	for _, s := range signers {
		v.signers[s] = "https://issuer.example"
	}
	return v
}

func fakeBundle(signed []byte, signer string) []byte {
	b, _ := json.Marshal(fakeBundleJSON{MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", Digest: Digest(signed), Signer: signer, Issuer: "https://issuer.example"})
	return b
}

func (v *fakeVerifier) VerifyBlob(ctx context.Context, name string, artifact, bundle []byte) (*Evidence, error) {
	v.calls.Add(1)
	var b fakeBundleJSON
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("bundle is not JSON: %v", err)
	}
	if got := Digest(artifact); b.Digest != got {
		return nil, fmt.Errorf("bundle signs %s; the artifact is %s", b.Digest, got)
	}
	issuer, ok := v.signers[b.Signer]
	if !ok || issuer != b.Issuer {
		return nil, fmt.Errorf("signed by %s (issuer %s); the policy for %q accepts none such", b.Signer, b.Issuer, name)
	}
	return &Evidence{Digest: b.Digest, Kind: "keyless", Signer: b.Signer, Issuer: b.Issuer, Policy: "test"}, nil
}

// module returns a minimal Wasm module; with a name it embeds a manifest
// with that name and version. extra makes modules differ.
func module(t testing.TB, name, version, extra string) []byte {
	t.Helper()
	b := []byte("\x00asm\x01\x00\x00\x00")
	var err error
	if extra != "" {
		if b, err = wasmbin.SetCustomSection(b, "extra", []byte(extra)); err != nil {
			t.Fatal(err)
		}
	}
	if name != "" {
		m := fmt.Sprintf(`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":%q,"version":%q}`, name, version)
		if b, err = wasmbin.SetCustomSection(b, "warden.manifest", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// toolsFor returns a ListTools function that answers defs.
func toolsFor(defs ...string) func(context.Context, []byte) ([]json.RawMessage, error) {
	return func(context.Context, []byte) ([]json.RawMessage, error) {
		out := make([]json.RawMessage, len(defs))
		for i, d := range defs {
			out[i] = json.RawMessage(d)
		}
		return out, nil
	}
}

const (
	greetTool = `{"name":"greet","description":"Say hello","inputSchema":{"type":"object","properties":{"name":{"type":"string"}}}}`
	hashTool  = `{"name":"hash","description":"Hash a string","inputSchema":{"type":"object"}}`
)

// env is a scratch store and lockfile.
type env struct {
	dir, lock string
	store     *Store
	v         *fakeVerifier
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, lock: filepath.Join(dir, "warden.lock"), store: s, v: newFakeVerifier("alice@example.com")}
}

// write puts a signed module (and its bundle, unless signer is empty) in
// the env's directory and returns its path.
func (e *env) write(t testing.TB, file string, wasm []byte, signer string) string {
	t.Helper()
	p := filepath.Join(e.dir, file)
	if err := os.WriteFile(p, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if signer != "" {
		if err := os.WriteFile(p+".sigstore.json", fakeBundle(wasm, signer), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (e *env) opts(tools ...string) InstallOptions {
	if len(tools) == 0 {
		tools = []string{greetTool}
	}
	return InstallOptions{Verifier: e.v, Store: e.store, Lockfile: e.lock, ListTools: toolsFor(tools...)}
}

func (e *env) lockfile(t testing.TB) *Lockfile {
	t.Helper()
	l, err := ReadLockfile(e.lock)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
