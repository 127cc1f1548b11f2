package signing_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/registry/signing"
)

// cosignBinary finds cosign: $COSIGN if set, else cosign on $PATH. Install
// it with `go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5` or
// `go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3` (both build
// with Go 1.26 from the module proxy).
func cosignBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COSIGN"); p != "" {
		return p
	}
	p, err := exec.LookPath("cosign")
	if err != nil && os.Getenv("WARDEN_REQUIRE_COSIGN") != "" {
		t.Fatal("WARDEN_REQUIRE_COSIGN is set but cosign was not found (set $COSIGN or put cosign on $PATH)")
	}
	if err != nil {
		t.Skip("cosign not found (set $COSIGN or put cosign on $PATH; install: go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3)")
	}
	return p
}

// runCosign runs cosign offline in dir with the key password set.
func runCosign(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=correct horse", "COSIGN_YES=true", "TUF_ROOT="+filepath.Join(dir, "tuf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCosignInterop checks that a bundle made by `cosign sign-blob --key`
// verifies with cosign.pub under a key entry, and that cosign verifies a
// bundle SignBlob made with cosign's (encrypted) key. Everything is offline:
// no transparency log upload, no TUF.
func TestCosignInterop(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	runCosign(t, bin, dir, "generate-key-pair")
	module := filepath.Join(dir, "hello.wasm")
	if err := os.WriteFile(module, artifact, 0o644); err != nil {
		t.Fatal(err)
	}
	// Both cosign v2 and v3 sign offline with a signing config that lists
	// no transparency log or timestamp authority; v2 also with
	// --tlog-upload=false, which v3 refuses.
	runCosign(t, bin, dir, "signing-config", "create", "--out", "offline-signing-config.json")
	bundles := map[string][]string{
		"signing config": {"sign-blob", "--key", "cosign.key", "--bundle", "hello.wasm.sigstore.json",
			"--signing-config", "offline-signing-config.json", "--yes", "hello.wasm"},
	}
	if version := runCosign(t, bin, dir, "version"); strings.Contains(version, "GitVersion:    v2.") {
		bundles["--tlog-upload=false"] = []string{"sign-blob", "--key", "cosign.key", "--new-bundle-format", "--bundle", "hello.wasm.sigstore.json",
			"--tlog-upload=false", "--yes", "hello.wasm"}
	}
	v := newVerifier(t, nil, `[{plugins: [hello], key: cosign.pub}]`, signing.WithBaseDir(dir))
	pub, _ := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	fp, _ := signing.PublicKeyFingerprint(pub)
	for how, args := range bundles {
		runCosign(t, bin, dir, args...)
		b, err := os.ReadFile(filepath.Join(dir, "hello.wasm.sigstore.json"))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
		if err != nil {
			t.Fatalf("cosign bundle (%s) %s: %v", how, b, err)
		}
		if ev.Signer != fp {
			t.Errorf("signer %s, want %s", ev.Signer, fp)
		}
		if _, err := v.VerifyBlob(context.Background(), "hello", other, b); err == nil {
			t.Errorf("cosign bundle (%s) verified for other bytes", how)
		}
	}

	// The other way round: SignBlob with cosign's encrypted key, checked by
	// cosign verify-blob (which wants a trusted root even with
	// --insecure-ignore-tlog; an empty one will do for a key).
	priv, _ := os.ReadFile(filepath.Join(dir, "cosign.key"))
	ours, err := signing.SignBlob(priv, artifact, signing.WithPassword([]byte("correct horse")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ours.sigstore.json"), ours, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty_root.json"), []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runCosign(t, bin, dir, "verify-blob", "--key", "cosign.pub", "--bundle", "ours.sigstore.json", "--new-bundle-format",
		"--insecure-ignore-tlog", "--trusted-root", "empty_root.json", "hello.wasm")
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("cosign verify-blob: %s", out)
	}
}
