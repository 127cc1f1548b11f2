package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/registry"
	"github.com/wardenmcp/warden/registry/signing"
)

// TestWithSigningVerifier runs the pipeline with the real sigstore-go
// verifier and a key pair: file install, push and install from a real
// registry, load, and a policy change that refuses the plugin at load.
func TestWithSigningVerifier(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	priv, pub, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, "dev.pub")
	os.WriteFile(pubPath, pub, 0o644)
	v, err := signing.NewVerifier(signing.Policy{Entries: []signing.Entry{{Plugins: []string{"hello"}, Key: pubPath}}})
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := wasmbin.SetCustomSection([]byte("\x00asm\x01\x00\x00\x00"), "warden.manifest",
		[]byte(`{"apiVersion":"warden.dev/v1","kind":"Manifest","name":"hello","version":"1.0.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "hello.wasm")
	os.WriteFile(src, wasm, 0o644)
	bundle, err := signing.SignBlob(priv, wasm)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(src+".sigstore.json", bundle, 0o644)

	store, err := registry.OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "warden.lock")
	listTools := func(context.Context, []byte) ([]json.RawMessage, error) {
		return []json.RawMessage{json.RawMessage(`{"name":"greet","description":"Say hello"}`)}, nil
	}
	opts := registry.InstallOptions{Verifier: v, Store: store, Lockfile: lockPath, ListTools: listTools}
	res, err := registry.Install(ctx, "hello", src, opts)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := signing.PublicKeyFingerprint(pub)
	if res.Entry.Kind != "key" || res.Entry.Signer != fp {
		t.Errorf("entry = %+v, want key signer %s", res.Entry, fp)
	}
	lock, err := registry.ReadLockfile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := registry.LoadVerified(ctx, "hello", lock, v, store); err != nil {
		t.Fatal(err)
	}

	// Another key in the policy: the stored signature no longer verifies.
	_, pub2, _ := signing.GenerateKey()
	pub2Path := filepath.Join(dir, "other.pub")
	os.WriteFile(pub2Path, pub2, 0o644)
	v2, err := signing.NewVerifier(signing.Policy{Entries: []signing.Entry{{Plugins: []string{"hello"}, Key: pub2Path}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := registry.LoadVerified(ctx, "hello", lock, v2, store); !errors.Is(err, registry.ErrVerification) {
		t.Fatalf("load under another key: %v", err)
	}
	// Another plugin name is not covered by the policy.
	if _, err := registry.Install(ctx, "other", src, opts); err == nil {
		t.Fatal("installed under a name the policy does not cover")
	}

	// Through a real registry.
	addr := testutil.StartRegistry(t)
	loop := registry.SourceOptions{InsecureLoopbackHTTP: true}
	ref := "oci://" + addr + "/plugins/hello:1.0.0"
	if _, err := registry.PushInstalled(ctx, "hello", ref, lock, store, &loop); err != nil {
		t.Fatal(err)
	}
	store2, _ := registry.OpenStore(filepath.Join(dir, "store2"))
	opts2 := opts
	opts2.Store, opts2.Lockfile, opts2.Source = store2, filepath.Join(dir, "warden2.lock"), loop
	if _, err := registry.Install(ctx, "hello", ref, opts2); err != nil {
		t.Fatal(err)
	}
}
