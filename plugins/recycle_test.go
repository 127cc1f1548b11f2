package plugins_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

// loadCounter loads the counter test plugin in a runtime of its own, made
// with opts.
func loadCounter(t *testing.T, opts ...plugins.Option) *plugins.Plugin {
	t.Helper()
	ctx := context.Background()
	rt, err := plugins.NewRuntime(ctx, append([]plugins.Option{plugins.WithCacheDir(testutil.CompileCacheDir(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	p, err := rt.Load(ctx, "counter", testutil.ReadPlugin(t, "./plugins/testdata/counter"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// callUntilReused calls tool until n calls ran in recycled instances (or
// fails after many calls), checks each answer with check, and returns how
// many calls it made.
func callUntilReused(t *testing.T, p *plugins.Plugin, tool string, sb *plugins.Sandbox, n int, check func(i int, reused bool, got string)) int {
	t.Helper()
	reused := 0
	for i := 0; i < 2000; i++ {
		res, err := p.Call(context.Background(), tool, nil, sb)
		if err != nil {
			t.Fatalf("call %d of %s: %v", i, tool, err)
		}
		check(i, res.Stats.Reused, text(t, res))
		if res.Stats.Reused {
			if reused++; reused == n {
				return i + 1
			}
		}
		if i%10 == 9 {
			time.Sleep(time.Millisecond) // let resets finish
		}
	}
	t.Fatalf("%s: only %d of 2000 calls ran in a recycled instance; want %d", tool, reused, n)
	return 0
}

// TestRecycledInstancesAreFresh checks that a recycled instance is, to the
// guest, a new one: a global counter is 1, crypto/rand and the Go runtime's
// own generators give new values, in every call.
func TestRecycledInstancesAreFresh(t *testing.T) {
	p := load(t, "./plugins/testdata/counter", "counter")
	callUntilReused(t, p, "count", nil, 50, func(i int, reused bool, got string) {
		if got != "1" {
			t.Fatalf("call %d (reused: %v): count = %s, want 1", i, reused, got)
		}
	})
	for _, tool := range []string{"random", "runtime-random"} {
		seen := map[string]int{}
		callUntilReused(t, p, tool, nil, 50, func(i int, reused bool, got string) {
			if j, dup := seen[got]; dup {
				t.Fatalf("%s: calls %d and %d (reused: %v) both got %s", tool, j, i, reused, got)
			}
			seen[got] = i
		})
	}
}

// TestRecycleChecksDescriptors checks that an instance whose call closed
// its stdout is not recycled: every later call can write to stdout.
func TestRecycleChecksDescriptors(t *testing.T) {
	ctx := context.Background()
	p := loadCounter(t, plugins.WithPrewarm(0))
	callUntilReused(t, p, "write-stdout", nil, 3, func(int, bool, string) {})
	for i := 0; i < 20; i++ {
		res, err := p.Call(ctx, "close-stdout", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, res); got != "<nil>" {
			t.Fatalf("close-stdout = %q, want <nil>", got)
		}
		time.Sleep(2 * time.Millisecond)
		res, err = p.Call(ctx, "write-stdout", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, res); got != "ok" {
			t.Fatalf("after close-stdout, write-stdout = %q (reused: %v): a closed descriptor survived the call", got, res.Stats.Reused)
		}
	}
}

// TestRecycleAfterGrowth checks that an instance whose memory grew is not
// recycled, and that calls go on from the image.
func TestRecycleAfterGrowth(t *testing.T) {
	p := load(t, "./plugins/testdata/counter", "counter")
	sb := &plugins.Sandbox{Limits: capabilities.Limits{Memory: 128 << 20}}
	for i := 0; i < 5; i++ {
		res, err := p.Call(context.Background(), "grow", nil, sb)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, res); got != "1" {
			t.Fatalf("grow call %d (reused: %v) = %s, want 1", i, res.Stats.Reused, got)
		}
		if res.Stats.Reused && i > 0 {
			// Only an instance whose last call did not grow may be reused;
			// every call here grows.
			t.Fatalf("grow call %d ran in a recycled instance although every earlier call grew the memory", i)
		}
	}
	callUntilReused(t, p, "count", sb, 5, func(i int, reused bool, got string) {
		if got != "1" {
			t.Fatalf("count call %d after growth = %s, want 1", i, got)
		}
	})
}

// TestRecyclingOff checks that WithRecycling(false) gives every call a new
// instance.
func TestRecyclingOff(t *testing.T) {
	ctx := context.Background()
	p := loadCounter(t, plugins.WithRecycling(false))
	for i := 0; i < 30; i++ {
		res, err := p.Call(ctx, "count", json.RawMessage(`{}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Reused || text(t, res) != "1" {
			t.Fatalf("call %d: reused %v, count %s; want a new instance and 1", i, res.Stats.Reused, text(t, res))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloseWithRecycledInstances checks that closing a plugin whose pool
// holds reset instances, and calls finishing after it, end cleanly.
func TestCloseWithRecycledInstances(t *testing.T) {
	ctx := context.Background()
	p := loadCounter(t, plugins.WithPrewarm(2))
	callUntilReused(t, p, "count", nil, 3, func(int, bool, string) {})
	time.Sleep(20 * time.Millisecond) // resets finish: the pool holds ready instances
	done := make(chan error, 1)
	go func() { done <- p.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Plugin.Close did not return")
	}
}
