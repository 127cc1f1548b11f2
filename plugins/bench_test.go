package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

// benchTools is one representative call per example plugin.
var benchTools = []struct {
	name, pkg, tool, args string
}{
	{"hello", "./examples/hello", "greet", `{"name":"Ada"}`},
	{"hash", "./examples/hash", "sha256", `{"text":"abc"}`},
	{"secrets", "./examples/secrets", "sign", `{"message":"hi"}`},
	{"files", "./examples/files", "list", `{"path":"/"}`},
}

// BenchmarkLoad measures Load (compile, checks, and listing the tools in a
// throwaway instance), cold and from a warm on-disk compilation cache.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	for _, bt := range benchTools[:2] {
		wasm := testutil.ReadPlugin(b, bt.pkg)
		b.Run(bt.name+"/cold", func(b *testing.B) {
			for b.Loop() {
				rt, err := plugins.NewRuntime(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Load(ctx, bt.name, wasm); err != nil {
					b.Fatal(err)
				}
				rt.Close(ctx)
			}
		})
		b.Run(bt.name+"/warm-cache", func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "cache")
			warm := func() {
				rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(dir))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Load(ctx, bt.name, wasm); err != nil {
					b.Fatal(err)
				}
				rt.Close(ctx)
			}
			warm()
			for b.Loop() {
				warm()
			}
		})
	}
}

// BenchmarkCall measures one tool call in a fresh instance: instantiation
// (from the memory image, or running the initialiser) plus the call. The
// shares are reported as instantiate-ns/op (which is less than the cost of
// an instance when one made ahead is ready) and execute-ns/op.
func BenchmarkCall(b *testing.B) {
	for _, bt := range benchTools {
		p := load(b, bt.pkg, bt.name)
		args := json.RawMessage(bt.args)
		b.Run(bt.name, func(b *testing.B) {
			var inst, exec time.Duration
			for b.Loop() {
				res, err := p.Call(context.Background(), bt.tool, args, nil)
				if err != nil {
					b.Fatal(err)
				}
				inst += res.Stats.Instantiate
				exec += res.Stats.Execute
			}
			b.ReportMetric(float64(inst.Nanoseconds())/float64(b.N), "instantiate-ns/op")
			b.ReportMetric(float64(exec.Nanoseconds())/float64(b.N), "execute-ns/op")
		})
	}
	b.Run("asplugin", func(b *testing.B) {
		p, err := runtime(b).Load(context.Background(), "asplugin", mustRead(b, filepath.Join("testdata", "asplugin", "plugin.wasm")))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := p.Call(context.Background(), "reverse", json.RawMessage(`{"text":"warden"}`), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCallParallel runs calls of the hello plugin on every CPU.
func BenchmarkCallParallel(b *testing.B) {
	p := load(b, "./examples/hello", "hello")
	args := json.RawMessage(`{"name":"Ada"}`)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Call(context.Background(), "greet", args, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPrewarm compares a call that instantiates its own instance with
// one served from instances made ahead (each still used once), with a
// pause between calls as a client with think time would leave.
func BenchmarkPrewarm(b *testing.B) {
	ctx := context.Background()
	wasm := testutil.ReadPlugin(b, "./examples/hello")
	args := json.RawMessage(`{"name":"Ada"}`)
	for _, n := range []int{0, 1, 2} {
		b.Run(fmt.Sprintf("prewarm=%d", n), func(b *testing.B) {
			rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(testutil.CompileCacheDir(b)), plugins.WithPrewarm(n))
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			p, err := rt.Load(ctx, "hello", wasm)
			if err != nil {
				b.Fatal(err)
			}
			p.Call(ctx, "greet", args, nil) // fills the pool
			var inCall time.Duration
			for b.Loop() {
				b.StopTimer()
				time.Sleep(20 * time.Millisecond) // think time: the pool refills
				b.StartTimer()
				start := time.Now()
				if _, err := p.Call(ctx, "greet", args, nil); err != nil {
					b.Fatal(err)
				}
				inCall += time.Since(start)
			}
			b.ReportMetric(float64(inCall.Microseconds())/float64(b.N), "call-µs")
		})
	}
}
