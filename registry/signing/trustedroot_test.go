package signing_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardenmcp/warden/registry/signing"
)

// stubTUF stands in for the TUF client: it serves data (or fails with err)
// and counts calls.
type stubTUF struct {
	data  []byte
	err   error
	calls atomic.Int32
	dirs  []string
}

func (s *stubTUF) fetch(_ context.Context, cacheDir string) ([]byte, error) {
	s.calls.Add(1)
	s.dirs = append(s.dirs, cacheDir)
	return s.data, s.err
}

const keylessAcme = `[{plugins: ["*"], keyless: {issuer: https://token.actions.githubusercontent.com, identity: ` + acmeWF + `}}]`

// defaultRootVerifier builds a verifier whose keyless entry uses the default
// root, with the given snapshot path and a stubbed TUF.
func defaultRootVerifier(t *testing.T, snapshot string, tuf *stubTUF) *signing.Verifier {
	t.Helper()
	p, err := signing.ParsePolicy([]byte(keylessAcme))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier(p, signing.WithTrustedRootSnapshot(snapshot), signing.WithTUFCache("/tuf-cache"))
	if err != nil {
		t.Fatal(err)
	}
	signing.SetRootFetcher(v, tuf.fetch)
	return v
}

func TestSnapshotPreferredOverTUF(t *testing.T) {
	fs := newFakeSigstore(t, false)
	tuf := &stubTUF{err: errors.New("offline")}
	v := defaultRootVerifier(t, fs.rootPath, tuf)
	for range 2 {
		if _, err := v.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})); err != nil {
			t.Fatal(err)
		}
	}
	if n := tuf.calls.Load(); n != 0 {
		t.Errorf("TUF fetched %d times despite the snapshot", n)
	}
}

func TestTUFWritesSnapshot(t *testing.T) {
	fs := newFakeSigstore(t, false)
	snap := filepath.Join(t.TempDir(), "store", "trusted_root.json")
	if err := os.MkdirAll(filepath.Dir(snap), 0o755); err != nil {
		t.Fatal(err)
	}
	tuf := &stubTUF{data: fs.rootJSON}
	v := defaultRootVerifier(t, snap, tuf)
	for range 2 {
		if _, err := v.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})); err != nil {
			t.Fatal(err)
		}
	}
	if n := tuf.calls.Load(); n != 1 || tuf.dirs[0] != "/tuf-cache" {
		t.Errorf("TUF calls %d (dirs %v), want 1 with the cache dir", n, tuf.dirs)
	}
	if got, err := os.ReadFile(snap); err != nil || !bytes.Equal(got, fs.rootJSON) {
		t.Errorf("snapshot not written: %v", err)
	}
	// A new verifier (a restart, now offline) uses the snapshot.
	tuf2 := &stubTUF{err: errors.New("offline")}
	v2 := defaultRootVerifier(t, snap, tuf2)
	if _, err := v2.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})); err != nil || tuf2.calls.Load() != 0 {
		t.Errorf("offline restart: %v (TUF calls %d)", err, tuf2.calls.Load())
	}
}

func TestNoTrustedRoot(t *testing.T) {
	fs := newFakeSigstore(t, false)
	dir := t.TempDir()
	snap := filepath.Join(dir, "trusted_root.json")
	tuf := &stubTUF{err: errors.New("dial tcp: no such host")}
	v := defaultRootVerifier(t, snap, tuf)
	b := fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})
	_, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
	var ve *signing.VerificationError
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("err = %v, want a plain error (not a refusal)", err)
	}
	for _, w := range []string{"trust[0]: no Sigstore trusted root", "dial tcp: no such host", "no snapshot at " + snap} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v\nwant %q", err, w)
		}
	}
	// The failure is not remembered: once TUF answers, it works.
	tuf.err, tuf.data = nil, fs.rootJSON
	if _, err := v.VerifyBlob(context.Background(), "hello", artifact, b); err != nil {
		t.Errorf("after TUF recovered: %v", err)
	}

	// A corrupt snapshot falls back to TUF, and is replaced.
	if err := os.WriteFile(snap, []byte("{corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	tuf3 := &stubTUF{data: fs.rootJSON}
	v3 := defaultRootVerifier(t, snap, tuf3)
	if _, err := v3.VerifyBlob(context.Background(), "hello", artifact, b); err != nil || tuf3.calls.Load() != 1 {
		t.Errorf("corrupt snapshot: %v (TUF calls %d)", err, tuf3.calls.Load())
	}
	if got, _ := os.ReadFile(snap); !bytes.Equal(got, fs.rootJSON) {
		t.Error("corrupt snapshot not replaced")
	}
	// A corrupt snapshot and no TUF: both problems are reported.
	os.WriteFile(snap, []byte("{corrupt"), 0o644)
	v4 := defaultRootVerifier(t, snap, &stubTUF{err: errors.New("offline")})
	if _, err := v4.VerifyBlob(context.Background(), "hello", artifact, b); err == nil ||
		!strings.Contains(err.Error(), "trusted root snapshot "+snap) || !strings.Contains(err.Error(), "offline") {
		t.Errorf("corrupt snapshot, offline: %v", err)
	}
}

func TestKeyEntriesNeedNoTrustedRoot(t *testing.T) {
	dir := t.TempDir()
	priv, _, _ := keyPair(t, dir, "dev")
	p, _ := signing.ParsePolicy([]byte(`[{plugins: ["*"], key: dev.pub}]`))
	v, err := signing.NewVerifier(p, signing.WithBaseDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	tuf := &stubTUF{err: errors.New("must not be called")}
	signing.SetRootFetcher(v, tuf.fetch)
	if _, err := v.VerifyBlob(context.Background(), "x", artifact, mustSign(t, priv, artifact)); err != nil || tuf.calls.Load() != 0 {
		t.Errorf("%v (TUF calls %d)", err, tuf.calls.Load())
	}
}

func TestSnapshotTrustedRoot(t *testing.T) {
	fs := newFakeSigstore(t, false)
	dst := filepath.Join(t.TempDir(), "new", "dir", "trusted_root.json")
	tuf := &stubTUF{data: fs.rootJSON}
	if err := signing.SnapshotTrustedRootWith(context.Background(), dst, "/cache", tuf.fetch); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, fs.rootJSON) {
		t.Error("snapshot not written")
	}
	// A root that does not parse is not written over the good one.
	tuf.data = []byte(`{"mediaType":"something else"}`)
	if err := signing.SnapshotTrustedRootWith(context.Background(), dst, "/cache", tuf.fetch); err == nil {
		t.Error("bad root accepted")
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, fs.rootJSON) {
		t.Error("good snapshot replaced by a bad one")
	}
	tuf.err = errors.New("offline")
	if err := signing.SnapshotTrustedRootWith(context.Background(), dst, "/cache", tuf.fetch); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("err = %v", err)
	}
}
