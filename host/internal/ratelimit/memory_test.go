package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustAllow(t *testing.T, l Limiter, key string, r Rate) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, r, err)
	}
	return d
}

func TestMemoryBurst(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	r := Rate{10, time.Minute}
	for i := 0; i < 10; i++ {
		d := mustAllow(t, m, "k", r)
		want := Decision{Allowed: true, Remaining: 9 - i, Backend: BackendMemory}
		if d != want {
			t.Fatalf("call %d: %+v, want %+v", i+1, d, want)
		}
	}
	d := mustAllow(t, m, "k", r)
	want := Decision{Allowed: false, RetryAfter: 6 * time.Second, Backend: BackendMemory}
	if d != want {
		t.Fatalf("call 11: %+v, want %+v", d, want)
	}
}

func TestMemoryRefill(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	r := Rate{10, time.Minute} // one token every 6s
	for i := 0; i < 10; i++ {
		mustAllow(t, m, "k", r)
	}
	clock.Advance(4 * time.Second)
	if d := mustAllow(t, m, "k", r); d.Allowed || d.RetryAfter != 2*time.Second {
		t.Fatalf("after 4s: %+v, want denied with RetryAfter 2s", d)
	}
	clock.Advance(2 * time.Second)
	if d := mustAllow(t, m, "k", r); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 6s: %+v, want allowed with 0 remaining", d)
	}
	if d := mustAllow(t, m, "k", r); d.Allowed {
		t.Fatalf("second call after 6s: %+v, want denied", d)
	}
	// Refill stops at the limit: an hour idle gives a burst of 10, not 600.
	clock.Advance(time.Hour)
	allowed := 0
	for i := 0; i < 20; i++ {
		if mustAllow(t, m, "k", r).Allowed {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("after an hour idle %d of 20 allowed, want 10", allowed)
	}
	// A clock that goes backwards earns nothing.
	clock.Advance(-time.Hour)
	if d := mustAllow(t, m, "k", r); d.Allowed {
		t.Fatalf("after the clock went back: %+v, want denied", d)
	}
}

func TestMemoryIndependentKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	r := Rate{2, time.Minute}
	for _, key := range []string{Key("alice", "a.x"), Key("alice", "a.y"), Key("bob", "a.x"), Key("alice", "a.*")} {
		for i := 0; i < 2; i++ {
			if d := mustAllow(t, m, key, r); !d.Allowed {
				t.Fatalf("%s call %d denied", key, i+1)
			}
		}
		if d := mustAllow(t, m, key, r); d.Allowed {
			t.Fatalf("%s call 3 allowed", key)
		}
	}
}

func TestMemoryMaxKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now), WithMaxKeys(100))
	r := Rate{5, time.Hour}
	for i := 0; i < 10_000; i++ {
		if d := mustAllow(t, m, fmt.Sprintf("random-subject-%d", i), r); !d.Allowed {
			t.Fatalf("new key %d denied", i)
		}
		if n := m.Len(); n > 100 {
			t.Fatalf("after %d keys the limiter holds %d buckets, want at most 100", i+1, n)
		}
	}
	// The most recently used buckets survive eviction.
	if d := mustAllow(t, m, "random-subject-9999", r); d.Remaining != 3 {
		t.Fatalf("recent bucket lost: %+v", d)
	}
}

func TestMemorySweepsFullBuckets(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	r := Rate{5, time.Minute}
	for i := 0; i < 50; i++ {
		mustAllow(t, m, fmt.Sprintf("idle-%d", i), r)
	}
	if m.Len() != 50 {
		t.Fatalf("%d buckets, want 50", m.Len())
	}
	clock.Advance(time.Minute) // every bucket is full again
	for i := 0; i < 30; i++ {
		mustAllow(t, m, "busy", r)
		clock.Advance(20 * time.Second)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("%d buckets after the idle ones refilled, want 1", n)
	}

	// A bucket of a slow rate is judged by its own rate, not by the
	// rate of the call that sweeps it.
	slow := Rate{1, time.Hour}
	mustAllow(t, m, "slow", slow)
	clock.Advance(time.Minute)
	for i := 0; i < 10; i++ {
		mustAllow(t, m, fmt.Sprintf("fast-%d", i), Rate{1000, time.Second})
	}
	if d := mustAllow(t, m, "slow", slow); d.Allowed {
		t.Fatalf("slow bucket was swept while empty: %+v", d)
	}
}

func TestMemoryRateChange(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	mustAllow(t, m, "k", Rate{100, time.Minute})
	// A lower limit caps the tokens the bucket already holds.
	if d := mustAllow(t, m, "k", Rate{3, time.Minute}); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("after lowering the limit: %+v, want allowed with 2 remaining", d)
	}
}

func TestMemoryErrors(t *testing.T) {
	m := NewMemory()
	if _, err := m.Allow(context.Background(), "k", Rate{}); err == nil {
		t.Fatal("zero rate accepted")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Allow(context.Background(), "k", Rate{1, time.Second}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Allow after Close: %v, want ErrClosed", err)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory()
	r := Rate{100, time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				d, err := m.Allow(context.Background(), "shared", r)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("%d of 400 concurrent calls allowed, want 100", n)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory()
	r := Rate{1000, time.Second}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = Key(fmt.Sprintf("subject-%d", i), "hello.greet")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := 0
		for pb.Next() {
			if _, err := m.Allow(ctx, keys[i%len(keys)], r); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
