package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStoreGetMismatch(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	wasm := module(t, "", "", "x")
	d := Digest(wasm)
	rec := &Record{Digest: d, Size: int64(len(wasm)), Source: "test"}
	if err := s.put(rec, wasm, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Get(d); err != nil || string(b) != string(wasm) {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), "sha256", strings.TrimPrefix(d, "sha256:")+".wasm")
	os.WriteFile(p, []byte("evil"), 0o600)
	_, err = s.Get(d)
	want := "store file sha256/" + strings.TrimPrefix(d, "sha256:") + ".wasm has digest " + Digest([]byte("evil")) +
		"; it was stored as " + d + ": the store was modified"
	if err == nil || err.Error() != want || !errors.Is(err, ErrTampered) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	// Putting the module again repairs it.
	if err := s.put(rec, wasm, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("sha256:../../etc/passwd"); err == nil || !strings.Contains(err.Error(), "want a digest") {
		t.Fatalf("path in a digest: %v", err)
	}
	// The module cap applies to reads too.
	big := make([]byte, MaxModuleSize+1)
	os.WriteFile(p, big, 0o600)
	if _, err := s.Get(d); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized store file: %v", err)
	}
}

func TestStoreCrashLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	wasm := module(t, "", "", "x")
	d := Digest(wasm)
	hex := strings.TrimPrefix(d, "sha256:")
	// A writer died after writing half a module under its temporary name:
	// the final name does not exist, so the module is not in the store.
	tmp := filepath.Join(dir, "sha256", ".tmp-"+hex+".wasm-123")
	os.WriteFile(tmp, wasm[:4], 0o600)
	if s.Has(d) {
		t.Fatal("a temporary file counts as stored")
	}
	if _, err := s.Get(d); err == nil {
		t.Fatal("Get found a module only a temporary file holds")
	}
	// A fresh leftover is kept (its writer may be alive); an old one is
	// removed when the store is opened.
	if _, err := OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatal("a fresh temporary file was removed")
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(tmp, old, old)
	// Not while a writer holds the lock.
	unlock, err := s.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	OpenStore(dir)
	if _, err := os.Stat(tmp); err != nil {
		t.Fatal("cleanup ran while a writer held the lock")
	}
	unlock()
	OpenStore(dir)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("an old temporary file survived OpenStore")
	}
	// A crash between the module and its record: no record, not stored.
	os.WriteFile(filepath.Join(dir, "sha256", hex+".wasm"), wasm, 0o600)
	if s.Has(d) {
		t.Fatal("a module without its record counts as stored")
	}
}

func TestStoreRecordTampered(t *testing.T) {
	e := newEnv(t)
	wasm := module(t, "hello", "1.0.0", "")
	if _, err := Install(context.Background(), "hello", e.write(t, "h.wasm", wasm, "alice@example.com"), e.opts()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.store.Dir(), "sha256", strings.TrimPrefix(Digest(wasm), "sha256:")+".evidence.json")
	os.WriteFile(p, []byte(`{"digest":"sha256:`+strings.Repeat("0", 64)+`"}`), 0o600)
	if _, _, err := LoadVerified(context.Background(), "hello", e.lockfile(t), e.v, e.store); !errors.Is(err, ErrTampered) {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenStoreOnFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o600)
	if _, err := OpenStore(f); err == nil {
		t.Fatal("OpenStore on a file succeeded")
	}
	if _, err := OpenStore(""); err == nil {
		t.Fatal("OpenStore(\"\") succeeded")
	}
}
