package plugins_test

import (
	"context"
	goruntime "runtime"
	"strings"

	"encoding/json"
	"fmt"
	"github.com/wardenmcp/warden/capabilities"
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
// throwaway instance), cold and from a warm on-disk cache, which holds the
// compiled code and the rewritten module.
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

// BenchmarkScale reports how a call grows with the work: the argument's
// size (hello.echo of 1 KiB to 1 MiB), the module's size (a 25 KB
// AssemblyScript plugin against a 2 MB Go one, in BenchmarkCall) and the
// number of plugins loaded in the runtime (each loaded plugin's own cost is
// reported as heap-MiB/plugin: its image and instance bookkeeping).
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	p := load(b, "./examples/hello", "hello")
	sb := &plugins.Sandbox{Limits: capabilities.Limits{Output: 8 << 20, Memory: 256 << 20}}
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20} {
		args, _ := json.Marshal(map[string]string{"text": strings.Repeat("a", n)})
		b.Run(fmt.Sprintf("argument=%dKiB", n>>10), func(b *testing.B) {
			var peak int64
			b.SetBytes(int64(n))
			for b.Loop() {
				res, err := p.Call(ctx, "echo", args, sb)
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, res.Stats.MemoryBytes)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
	wasm := testutil.ReadPlugin(b, "./examples/hello")
	for _, count := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("plugins=%d", count), func(b *testing.B) {
			rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(testutil.CompileCacheDir(b)))
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)
			var loaded []*plugins.Plugin
			for i := range count {
				m, err := rt.Load(ctx, fmt.Sprintf("hello%d", i), wasm)
				if err != nil {
					b.Fatal(err)
				}
				loaded = append(loaded, m)
			}
			goruntime.GC()
			goruntime.ReadMemStats(&after)
			args := json.RawMessage(`{"name":"Ada"}`)
			// Each plugin's first calls do one-time work (deciding whether
			// its instances can be recycled): not what is measured here.
			for _, m := range loaded {
				for range 3 {
					if _, err := m.Call(ctx, "greet", args, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
			i := 0
			for b.Loop() {
				if _, err := loaded[i%count].Call(ctx, "greet", args, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(count)/(1<<20), "heap-MiB/plugin")
		})
	}
}
