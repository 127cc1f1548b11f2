package plugins

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/internal/wasmbin"
)

// TestRewrittenRoundTrip checks that an entry of the rewrite cache gives
// back exactly what the rewrite made, for a Go module (tracking and a
// snapshot rewrite, tens of thousands of data segments) and for an
// AssemblyScript one (no initialiser, so no snapshot rewrite), under each
// runtime configuration.
func TestRewrittenRoundTrip(t *testing.T) {
	hello := testutil.ReadPlugin(t, "./examples/hello")
	as, err := os.ReadFile(filepath.Join("testdata", "asplugin", "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		rt   *Runtime
	}{
		{"hello", hello, &Runtime{}},
		{"hello/no-recycling", hello, &Runtime{noRecycle: true}},
		{"hello/no-images", hello, &Runtime{noRecycle: true, noImages: true}},
		{"asplugin", as, &Runtime{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := tc.rt.rewrite(tc.wasm)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRewritten(encodeRewritten(want))
			if err != nil {
				t.Fatal(err)
			}
			if !sameRewrite(got, want) {
				t.Errorf("the decoded entry differs from the rewrite:\n got flag %q start %q count %d dirty %q prep %v\nwant flag %q start %q count %d dirty %q prep %v",
					got.flag, got.start, got.count, got.dirty, got.prep != nil, want.flag, want.start, want.count, want.dirty, want.prep != nil)
			}
		})
	}
}

// TestDecodeRewrittenRefusesDamage checks that truncations and flipped
// bytes all over an entry are refused rather than decoded into something
// else.
func TestDecodeRewrittenRefusesDamage(t *testing.T) {
	rw, err := (&Runtime{}).rewrite(mustReadFile(t, filepath.Join("testdata", "asplugin", "plugin.wasm")))
	if err != nil {
		t.Fatal(err)
	}
	entry := encodeRewritten(rw)
	// Every byte of the header and tables, then a sample of the rest.
	step := func(i int) int { return 1 + i/256*97 }
	for n := 0; n < len(entry); n += step(n) {
		if _, err := decodeRewritten(entry[:n]); err == nil {
			t.Fatalf("an entry cut to %d of %d bytes was accepted", n, len(entry))
		}
	}
	for i := 0; i < len(entry); i += step(i) {
		bad := bytes.Clone(entry)
		bad[i] ^= 0x20
		if _, err := decodeRewritten(bad); err == nil {
			t.Fatalf("an entry with byte %d flipped was accepted", i)
		}
	}
}

// TestRewriteCache checks the cache through Load: a second runtime on the
// same directory reads the entry instead of rewriting, a runtime with other
// options writes its own, and a damaged entry is reported, ignored and
// replaced, the load succeeding all along.
func TestRewriteCache(t *testing.T) {
	ctx := context.Background()
	wasm := testutil.ReadPlugin(t, "./examples/hello")
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	load := func(opts ...Option) *Plugin {
		t.Helper()
		rt, err := NewRuntime(ctx, append([]Option{WithCacheDir(dir), WithLogger(logger), WithPrewarm(0)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		p, err := rt.Load(ctx, "hello", wasm)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Call(ctx, "greet", []byte(`{"name":"Ada"}`), nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	entries := func() []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(dir, "warden-rewrite", "*", "*"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	// A module that rewrites but is then refused leaves no entry.
	rt, err := NewRuntime(ctx, WithCacheDir(dir), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	if _, err := rt.Load(ctx, "empty", []byte("\x00asm\x01\x00\x00\x00")); err == nil {
		t.Fatal("a module without entry points was loaded")
	}
	if files := entries(); len(files) != 0 {
		t.Fatalf("a refused module left %v in the rewrite cache", files)
	}

	first := load()
	files := entries()
	if len(files) != 1 {
		t.Fatalf("after one load the rewrite cache holds %v; want one entry", files)
	}
	if strings.Contains(logs.String(), "read from the rewrite cache") {
		t.Fatalf("the first load claims a cache hit:\n%s", logs.String())
	}
	logs.Reset()
	second := load()
	if !strings.Contains(logs.String(), "read from the rewrite cache") {
		t.Fatalf("the second load did not read the cache:\n%s", logs.String())
	}
	if first.flag != second.flag || first.dirty != second.dirty || first.countGlobal != second.countGlobal || (first.snap == nil) != (second.snap == nil) {
		t.Errorf("the cached rewrite differs: flag %q/%q dirty %q/%q count %q/%q", first.flag, second.flag, first.dirty, second.dirty, first.countGlobal, second.countGlobal)
	}

	load(WithRecycling(false))
	if n := len(entries()); n != 2 {
		t.Fatalf("a runtime without recycling shares the entry (%d entries); its rewrite differs", n)
	}

	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	load()
	if !strings.Contains(logs.String(), "damaged entry") {
		t.Fatalf("a damaged entry was not reported:\n%s", logs.String())
	}
	b, err = os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRewritten(b); err != nil {
		t.Fatalf("the damaged entry was not replaced: %v", err)
	}
}

// FuzzDecodeRewritten checks that no entry, however damaged, makes the
// decoder panic or return an entry with slices outside its input.
func FuzzDecodeRewritten(f *testing.F) {
	// Small seeds: the decoder does not look into the module, and the
	// fuzzer mutates small inputs far faster.
	rw := &rewritten{module: []byte("\x00asm\x01\x00\x00\x00"), flag: "f", start: "s", count: 3, noTracking: "why"}
	f.Add(encodeRewritten(rw))
	rw.prep = &wasmbin.Prepared{Module: rw.module, Globals: []string{"g0"}, Exports: []string{"_initialize"}, FDProbe: "p",
		Data: []wasmbin.DataSegment{{Offset: 8, Bytes: []byte("abc")}, {Offset: 1024}}}
	f.Add(encodeRewritten(rw))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The checksum would turn away almost every input; fix it up so
		// that the fuzzer reaches the header and the tables.
		if len(b) >= len(rewriteFormat)+4 && bytes.HasPrefix(b, []byte(rewriteFormat)) {
			b = bytes.Clone(b)
			body := len(rewriteFormat) + 4
			putChecksum(b[len(rewriteFormat):], b[body:])
		}
		got, err := decodeRewritten(b)
		if err != nil {
			return
		}
		if again, err := decodeRewritten(encodeRewritten(got)); err != nil || !sameRewrite(again, got) {
			t.Fatalf("a decoded entry does not survive encoding again: %v", err)
		}
	})
}

// sameRewrite reports whether a and b are the same rewrite (an empty slice
// and nil alike).
func sameRewrite(a, b *rewritten) bool {
	if !bytes.Equal(a.module, b.module) || a.flag != b.flag || a.start != b.start || a.count != b.count ||
		a.dirty != b.dirty || a.noTracking != b.noTracking || a.noSnapshot != b.noSnapshot || (a.prep == nil) != (b.prep == nil) {
		return false
	}
	if a.prep == nil {
		return true
	}
	p, q := a.prep, b.prep
	if !bytes.Equal(p.Module, q.Module) || !slices.Equal(p.Globals, q.Globals) || !slices.Equal(p.Exports, q.Exports) ||
		p.FDProbe != q.FDProbe || len(p.Data) != len(q.Data) {
		return false
	}
	for i := range p.Data {
		if p.Data[i].Offset != q.Data[i].Offset || !bytes.Equal(p.Data[i].Bytes, q.Data[i].Bytes) {
			return false
		}
	}
	return true
}

func mustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
