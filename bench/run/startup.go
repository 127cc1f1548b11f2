package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/plugins"
)

// moduleRoot is the Warden checkout bench/run builds the plugins from.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			root := filepath.Dir(gomod)
			if _, err := os.Stat(filepath.Join(root, "examples", "hello", "main.go")); err == nil {
				return root, nil
			}
		}
	}
	return "", fmt.Errorf("run it from a Warden checkout (it builds ./examples/hello with the Go toolchain): go run ./bench/run")
}

// buildPlugin compiles the Go package pkg of root to out with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
func buildPlugin(ctx context.Context, root, pkg, out string) error {
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return os.Rename(tmp, out)
}

// benchSection is the custom section that makes each start-up copy of hello
// a distinct module (its own compilation, its own cache entry), as ten
// different plugins would be.
const benchSection = "warden.bench"

// startupModules returns n copies of wasm, named hello00…, each made distinct
// by a custom section unless same is true.
func startupModules(wasm []byte, n int, same bool) (names []string, mods [][]byte, err error) {
	for i := range n {
		name := fmt.Sprintf("hello%02d", i)
		m := wasm
		if !same {
			if m, err = wasmbin.SetCustomSection(wasm, benchSection, []byte(name)); err != nil {
				return nil, nil, err
			}
		}
		names = append(names, name)
		mods = append(mods, m)
	}
	return names, mods, nil
}

// warmCache loads every module once into a runtime with the on-disk
// compilation cache, so that later runtimes find their machine code there.
func warmCache(ctx context.Context, cacheDir string, names []string, mods [][]byte) error {
	rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(cacheDir))
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	for i, m := range mods {
		p, err := rt.Load(ctx, names[i], m)
		if err != nil {
			return fmt.Errorf("loading %s: %w", names[i], err)
		}
		p.Close(ctx)
	}
	return nil
}

// startupOnce times a fresh host.Server becoming ready with the given
// modules: a new runtime on the (warm) on-disk compilation cache, every
// module loaded (compiled code read from the cache, checked, tools listed in
// a throwaway instance), the set swapped in, and /readyz answering 200.
// Signature verification, which warden serve adds, is not included.
func startupOnce(ctx context.Context, cacheDir string, names []string, mods [][]byte) (time.Duration, error) {
	t0 := time.Now()
	rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(cacheDir))
	if err != nil {
		return 0, err
	}
	defer rt.Close(context.Background())
	srv, err := host.New(host.Options{Runtime: rt})
	if err != nil {
		return 0, err
	}
	defer srv.Close(context.Background())
	// As warden serve does (internal/daemon): GOMAXPROCS loads at a time,
	// served in order.
	set := make([]*host.Plugin, len(mods))
	if err := inParallel(len(mods), func(i int) error {
		p, err := rt.Load(ctx, names[i], mods[i])
		if err != nil {
			return fmt.Errorf("loading %s: %w", names[i], err)
		}
		set[i] = &host.Plugin{Name: names[i], Module: p}
		return nil
	}); err != nil {
		return 0, err
	}
	if err := srv.Swap(set, nil); err != nil {
		return 0, err
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	elapsed := time.Since(t0)
	if rec.Code != http.StatusOK {
		return 0, fmt.Errorf("/readyz answered %d: %s", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return elapsed, nil
}

// startupResult is the start-up measurement.
type startupResult struct {
	Plugins  int             `json:"plugins"`
	Distinct bool            `json:"distinctModules"`
	Runs     []time.Duration `json:"runsNs"`
	Median   time.Duration   `json:"medianNs"`
	Min      time.Duration   `json:"minNs"`
}

func measureStartup(ctx context.Context, cacheDir string, wasm []byte, n, runs int, same bool) (*startupResult, error) {
	names, mods, err := startupModules(wasm, n, same)
	if err != nil {
		return nil, err
	}
	if err := warmCache(ctx, cacheDir, names, mods); err != nil {
		return nil, err
	}
	r := &startupResult{Plugins: n, Distinct: !same}
	for range max(1, runs) {
		d, err := startupOnce(ctx, cacheDir, names, mods)
		if err != nil {
			return nil, err
		}
		r.Runs = append(r.Runs, d)
	}
	sorted := slices.Clone(r.Runs)
	slices.Sort(sorted)
	r.Median, r.Min = sorted[len(sorted)/2], sorted[0]
	return r, nil
}

// floorResult is what wazero alone needs for the modules of the start-up
// measurement: a runtime on a warm compilation cache compiling each
// unmodified module (decode, validate, read the machine code), as many at a
// time as the start-up measurement loads. No start-up can be faster while
// every plugin is a distinct module that wazero must compile.
type floorResult struct {
	Runs   []time.Duration `json:"runsNs"`
	Median time.Duration   `json:"medianNs"`
}

func measureFloor(ctx context.Context, cacheDir string, wasm []byte, n, runs int) (*floorResult, error) {
	_, mods, err := startupModules(wasm, n, false)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, "floor")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	once := func() (time.Duration, error) {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return 0, err
		}
		defer cache.Close(ctx)
		t0 := time.Now()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
		defer rt.Close(ctx)
		err = inParallel(len(mods), func(i int) error {
			_, err := rt.CompileModule(ctx, mods[i])
			return err
		})
		return time.Since(t0), err
	}
	if _, err := once(); err != nil { // fills the cache
		return nil, err
	}
	r := &floorResult{}
	for range max(1, runs) {
		d, err := once()
		if err != nil {
			return nil, err
		}
		r.Runs = append(r.Runs, d)
	}
	sorted := slices.Clone(r.Runs)
	slices.Sort(sorted)
	r.Median = sorted[len(sorted)/2]
	return r, nil
}

// inParallel calls f(0) … f(n-1), GOMAXPROCS at a time, and joins their
// errors.
func inParallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
