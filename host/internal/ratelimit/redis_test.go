package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenmcp/warden/internal/testutil"
)

// logBuffer collects a limiter's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	l, err := NewRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// rawClient is a plain client for inspecting the limiter's keys.
func rawClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		opts RedisOptions
		msg  string
	}{
		{RedisOptions{}, "address is empty"},
		{RedisOptions{Addr: "127.0.0.1:1", OnError: "maybe"}, `onError "maybe" is not "closed" or "open"`},
		{RedisOptions{Addr: "127.0.0.1:1", Timeout: -time.Second}, "timeout -1s is negative"},
		{RedisOptions{Addr: "127.0.0.1:1", DB: -1}, "database -1 is negative"},
	} {
		if _, err := NewRedis(tc.opts); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("NewRedis(%+v) = %v, want an error containing %q", tc.opts, err, tc.msg)
		}
	}
	l, err := NewRedis(RedisOptions{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.prefix != DefaultKeyPrefix || l.failOpen || l.timeout != DefaultRedisTimeout {
		t.Errorf("defaults: prefix %q failOpen %v timeout %v", l.prefix, l.failOpen, l.timeout)
	}
	if _, err := l.Allow(context.Background(), "k", Rate{}); err == nil {
		t.Error("zero rate accepted")
	}
	l.Close()
	if _, err := l.Allow(context.Background(), "k", Rate{1, time.Second}); !errors.Is(err, ErrClosed) {
		t.Errorf("Allow after Close: %v, want ErrClosed", err)
	}
}

// TestRedisSharedLimit runs two limiters, as two replicas would, against
// one redis-server: together they allow exactly the limit.
func TestRedisSharedLimit(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	replicas := []*Redis{newTestRedis(t, RedisOptions{Addr: addr}), newTestRedis(t, RedisOptions{Addr: addr})}
	r := Rate{10, time.Minute}
	key := Key("alice", "hello.greet")

	var mu sync.Mutex
	remaining := map[int]int{}
	perReplica := make([]int, 2)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				n := (g + i) % 2
				d, err := replicas[n].Allow(context.Background(), key, r)
				if err != nil || d.Degraded || d.Backend != BackendRedis {
					t.Errorf("replica %d: %+v, %v", n, d, err)
					return
				}
				if d.Allowed {
					mu.Lock()
					remaining[d.Remaining]++
					perReplica[n]++
					mu.Unlock()
				} else if d.RetryAfter <= 0 || d.RetryAfter > 6*time.Second {
					t.Errorf("denied with RetryAfter %v, want (0, 6s]", d.RetryAfter)
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for rem, n := range remaining {
		total += n
		if n != 1 || rem < 0 || rem > 9 {
			t.Errorf("Remaining %d reported %d times", rem, n)
		}
	}
	if total != 10 {
		t.Fatalf("the two replicas allowed %d of 40 calls (per replica %v), want exactly 10", total, perReplica)
	}
	if perReplica[0] == 0 || perReplica[1] == 0 {
		t.Logf("one replica took every token: %v", perReplica)
	}
	// Another subject has its own bucket.
	if d := mustAllow(t, replicas[1], Key("bob", "hello.greet"), r); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("bob: %+v, want allowed with 9 remaining", d)
	}
}

func TestRedisRefill(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	a := newTestRedis(t, RedisOptions{Addr: addr})
	b := newTestRedis(t, RedisOptions{Addr: addr})
	r := Rate{20, time.Second} // one token every 50ms
	for i := 0; i < 20; i++ {
		if d := mustAllow(t, a, "k", r); !d.Allowed {
			t.Fatalf("call %d of the burst denied: %+v", i+1, d)
		}
	}
	d := mustAllow(t, b, "k", r)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 50*time.Millisecond {
		t.Fatalf("after the burst: %+v, want denied with RetryAfter in (0, 50ms]", d)
	}
	time.Sleep(d.RetryAfter + 5*time.Millisecond)
	if d := mustAllow(t, b, "k", r); !d.Allowed {
		t.Fatalf("after RetryAfter: %+v, want allowed", d)
	}
}

func TestRedisKeyExpiry(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	l := newTestRedis(t, RedisOptions{Addr: addr, KeyPrefix: "test:"})
	c := rawClient(t, addr)
	ctx := context.Background()
	r := Rate{10, time.Second} // one token every 100ms
	key := Key("carol:x", "hello.greet")
	redisKey := "test:" + key

	mustAllow(t, l, key, r)
	mustAllow(t, l, key, r)
	mustAllow(t, l, key, r)
	ttl, err := c.PTTL(ctx, redisKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Three tokens taken refill in 300ms; a little has passed since.
	if ttl <= 200*time.Millisecond || ttl > 300*time.Millisecond {
		t.Fatalf("PTTL %s = %v, want in (200ms, 300ms]", redisKey, ttl)
	}
	// Empty the bucket; denied calls write nothing and keep its expiry.
	for i := 0; i < 10; i++ {
		mustAllow(t, l, key, r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(ctx, redisKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after 5s", redisKey)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The expired bucket behaves as a full one.
	if d := mustAllow(t, l, key, r); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("after expiry: %+v, want allowed with 9 remaining", d)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != redisKey {
		t.Fatalf("keys in Redis: %q, want [%q]", keys, redisKey)
	}
}

// TestRedisScriptFlushed checks the EVAL fallback when the server has
// lost the script (NOSCRIPT), as after a restart or SCRIPT FLUSH.
func TestRedisScriptFlushed(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	l := newTestRedis(t, RedisOptions{Addr: addr})
	c := rawClient(t, addr)
	r := Rate{5, time.Minute}
	mustAllow(t, l, "k", r)
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if d := mustAllow(t, l, "k", r); !d.Allowed || d.Degraded || d.Remaining != 3 {
		t.Fatalf("after SCRIPT FLUSH: %+v, want allowed with 3 remaining", d)
	}
}

// TestRedisDown kills Redis under two limiters, one failing closed and one
// failing open, and starts it again.
func TestRedisDown(t *testing.T) {
	addr, stop := testutil.StartRedis(t)
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	closed := newTestRedis(t, RedisOptions{Addr: addr, OnError: OnErrorClosed, Logger: logger})
	open := newTestRedis(t, RedisOptions{Addr: addr, OnError: OnErrorOpen, Logger: logger})
	r := Rate{1000, time.Minute}
	ctx := context.Background()
	for _, l := range []*Redis{closed, open} {
		if d := mustAllow(t, l, l.policy(), r); !d.Allowed || d.Degraded {
			t.Fatalf("before the kill: %+v", d)
		}
	}

	stop()
	for i := 0; i < 25; i++ {
		d, err := closed.Allow(ctx, OnErrorClosed, r)
		if err == nil || d.Allowed || !d.Degraded || d.RetryAfter <= 0 || d.Backend != BackendRedis {
			t.Fatalf("closed, Redis down, call %d: %+v, %v; want denied, Degraded, RetryAfter > 0 and an error", i+1, d, err)
		}
		d, err = open.Allow(ctx, OnErrorOpen, r)
		if err == nil || !d.Allowed || !d.Degraded {
			t.Fatalf("open, Redis down, call %d: %+v, %v; want allowed, Degraded and an error", i+1, d, err)
		}
	}
	if err := closed.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis down")
	}
	if n := logs.count("rate limit backend unavailable"); n != 2 {
		t.Fatalf("%d 'unavailable' log lines, want one per limiter:\n%s", n, logs.String())
	}
	if n := logs.count("recovered"); n != 0 {
		t.Fatalf("'recovered' logged while down:\n%s", logs.String())
	}

	testutil.RestartRedis(t, addr)
	for _, l := range []*Redis{closed, open} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			d, err := l.Allow(ctx, l.policy(), r)
			if err == nil && !d.Degraded {
				// The restarted server is empty: a fresh bucket.
				if !d.Allowed || d.Remaining != 999 {
					t.Fatalf("after the restart (%s): %+v, want allowed with 999 remaining", l.policy(), d)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s limiter still degraded 10s after the restart: %+v, %v", l.policy(), d, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := closed.Ping(ctx); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	if n := logs.count("rate limit backend recovered"); n != 2 {
		t.Fatalf("%d 'recovered' log lines, want one per limiter:\n%s", n, logs.String())
	}
	if n := logs.count("rate limit backend unavailable"); n != 2 {
		t.Fatalf("%d 'unavailable' log lines, want still 2:\n%s", n, logs.String())
	}
}

// TestRedisTimeout points a limiter at a server that accepts connections
// and never answers: a call is decided after the timeout, and while one
// call waits for Redis the others are decided at once.
func TestRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-done; c.Close() }()
		}
	}()

	const timeout = 300 * time.Millisecond
	var logs logBuffer
	l := newTestRedis(t, RedisOptions{Addr: ln.Addr().String(), Timeout: timeout, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	r := Rate{10, time.Second}
	ctx := context.Background()

	start := time.Now()
	d, err := l.Allow(ctx, "k", r)
	if took := time.Since(start); took > 3*timeout {
		t.Fatalf("the first call took %v, want about the timeout %v", took, timeout)
	}
	if err == nil || d.Allowed || !d.Degraded {
		t.Fatalf("first call: %+v, %v; want a Degraded denial", d, err)
	}

	var probing atomic.Bool
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		probing.Store(true)
		l.Allow(ctx, "k", r)
	}()
	for !probing.Load() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the probe reach Redis
	start = time.Now()
	for i := 0; i < 10; i++ {
		if d, err := l.Allow(ctx, "k", r); err == nil || !d.Degraded {
			t.Fatalf("call during the probe: %+v, %v", d, err)
		}
	}
	if took := time.Since(start); took > timeout/2 {
		t.Fatalf("10 calls during the probe took %v, want them decided without waiting for Redis", took)
	}
	<-probeDone
	if n := logs.count("unavailable"); n != 1 {
		t.Fatalf("%d 'unavailable' log lines, want 1:\n%s", n, logs.String())
	}

	// A canceled caller says nothing about Redis.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Allow(cctx, "k", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestRedisAgreesWithMemory(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	for _, l := range []Limiter{NewMemory(), newTestRedis(t, RedisOptions{Addr: addr})} {
		r := Rate{4, time.Hour}
		var got []string
		for i := 0; i < 6; i++ {
			d := mustAllow(t, l, "k", r)
			got = append(got, fmt.Sprintf("%v/%d/%v", d.Allowed, d.Remaining, d.RetryAfter.Round(time.Minute)))
		}
		want := "true/3/0s true/2/0s true/1/0s true/0/0s false/0/15m0s false/0/15m0s"
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%T: %s, want %s", l, g, want)
		}
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	addr, _ := testutil.StartRedis(b)
	l := newTestRedis(b, RedisOptions{Addr: addr, Logger: slog.New(slog.DiscardHandler)})
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
			if _, err := l.Allow(ctx, keys[i%len(keys)], r); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
