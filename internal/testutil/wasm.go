// Package testutil builds Warden's example and test plugins for tests.
package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	built  = map[string]string{}
	outDir string
)

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		tb.Fatal("not inside the Warden module")
	}
	return filepath.Dir(gomod)
}

// BuildPlugin compiles the Go package at pkg (relative to the module root,
// e.g. "./examples/hello") with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared
// and returns the path of the .wasm file. Builds are shared by every test of
// the process; the Go build cache makes reruns fast.
func BuildPlugin(tb testing.TB, pkg string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if outDir == "" {
		// A fixed directory, so a rerun overwrites rather than accumulates.
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		outDir = filepath.Join(base, "warden-test-plugins")
		if err := os.MkdirAll(outDir, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	root := ModuleRoot(tb)
	out := filepath.Join(outDir, strings.NewReplacer("/", "_", ".", "_").Replace(strings.TrimPrefix(pkg, "./"))+".wasm")
	// Build to a private name and rename: test binaries of several packages
	// may build the same plugin at once.
	tmp, err := os.CreateTemp(outDir, "build-*.wasm")
	if err != nil {
		tb.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", tmp.Name(), pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("building plugin %s: %v\n%s", pkg, err, stderr.String())
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		tb.Fatal(err)
	}
	built[pkg] = out
	return out
}

// ReadPlugin builds pkg and returns the module's bytes.
func ReadPlugin(tb testing.TB, pkg string) []byte {
	tb.Helper()
	b, err := os.ReadFile(BuildPlugin(tb, pkg))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// CompileCacheDir is a compilation cache shared by the tests of every
// package in a run (and across runs): compiling a Go plugin is slow under
// the race detector, and wazero writes its cache files atomically, so
// concurrent test binaries can share it.
func CompileCacheDir(tb testing.TB) string {
	tb.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "warden-test-plugins", "wazero")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	return dir
}
