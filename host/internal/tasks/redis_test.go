package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenmcp/warden/internal/testutil"
)

// testTimeout is the Redis stores' timeout in tests that do not test it:
// generous, since the tests run under -race on loaded machines.
const testTimeout = 10 * time.Second

// prefixes makes a unique key prefix per store, so that tests sharing a
// server do not see each other's keys.
var prefixes atomic.Int64

func newTestRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = fmt.Sprintf("test%d:", prefixes.Add(1))
	}
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	s, err := NewRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a plain client for inspecting the store's keys.
func rawClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedis runs the conformance suite against Redis, with the store's
// clock overridden so that leases and TTLs run out without waiting.
func TestRedis(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	testStore(t, func(t *testing.T, now func() time.Time) Store {
		return newTestRedis(t, RedisOptions{Addr: addr, Now: now})
	})
}

func TestNewRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		opts RedisOptions
		msg  string
	}{
		{RedisOptions{}, "address is empty"},
		{RedisOptions{Addr: "127.0.0.1:1", Timeout: -time.Second}, "timeout -1s is negative"},
		{RedisOptions{Addr: "127.0.0.1:1", DB: -1}, "database -1 is negative"},
	} {
		if _, err := NewRedis(tc.opts); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("NewRedis(%+v) = %v; want an error containing %q", tc.opts, err, tc.msg)
		}
	}
	s, err := NewRedis(RedisOptions{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.prefix != DefaultKeyPrefix || s.timeout != DefaultRedisTimeout || s.now != nil {
		t.Errorf("NewRedis defaults: prefix %q, timeout %v, now set %v; want %q, %v, the server's clock", s.prefix, s.timeout, s.now != nil, DefaultKeyPrefix, DefaultRedisTimeout)
	}
}

// eventually calls f until it returns true or 5s have passed.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisServerTime uses the Redis server's clock, with short real
// leases and TTLs.
func TestRedisServerTime(t *testing.T) {
	ctx := context.Background()
	addr, _ := testutil.StartRedis(t)
	s := newTestRedis(t, RedisOptions{Addr: addr})
	raw := rawClient(t, addr)

	rec := newTask("alice", time.Now())
	rec.LeaseUntil = time.Now().Add(300 * time.Millisecond)
	rec.TTL = time.Minute
	rec, err := s.Create(ctx, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(rec.CreatedAt); d < -time.Minute || d > time.Minute {
		t.Errorf("CreatedAt = %v, %v from now; want the server's time, about now", rec.CreatedAt, d)
	}
	renewed := newTask("alice", time.Now())
	renewed.LeaseUntil = time.Now().Add(300 * time.Millisecond)
	renewed, err = s.Create(ctx, renewed, 0)
	if err != nil {
		t.Fatal(err)
	}
	if stop, err := s.Renew(ctx, "r1", []string{renewed.ID}, time.Now().Add(time.Minute)); err != nil || len(stop) != 0 {
		t.Fatalf("Renew = %v, %v; want nothing to stop", stop, err)
	}

	var got Record
	eventually(t, "the task whose lease runs out fails", func() bool {
		got, err = s.Get(ctx, "alice", rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == Failed
	})
	if want := leaseMessage("r1", rec.LeaseUntil); got.StatusMessage != want {
		t.Errorf("StatusMessage = %q; want %q", got.StatusMessage, want)
	}
	if got.UpdatedAt.Before(rec.LeaseUntil) {
		t.Errorf("failed at %v, before the lease ran out at %v", got.UpdatedAt, rec.LeaseUntil)
	}
	if g, err := s.Get(ctx, "alice", renewed.ID); err != nil || g.Status != Working {
		t.Errorf("the renewed task = %s, %v; want working", g.Status, err)
	}

	short := newTask("alice", time.Now())
	short.TTL = time.Second
	short, err = s.Create(ctx, short, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pttl := raw.PTTL(ctx, s.prefix+"t:"+short.ID).Val(); pttl <= 0 || pttl > time.Second {
		t.Errorf("PTTL of the task key = %v; want (0, 1s]", pttl)
	}
	eventually(t, "the task past its TTL is gone", func() bool {
		_, err := s.Get(ctx, "alice", short.ID)
		return errors.Is(err, ErrNotFound)
	})
}

// TestRedisKeys checks the key layout, and that the owner's keys stay
// bounded.
func TestRedisKeys(t *testing.T) {
	ctx := context.Background()
	addr, _ := testutil.StartRedis(t)
	raw := rawClient(t, addr)
	clk := newFakeClock()
	s := newTestRedis(t, RedisOptions{Addr: addr, Now: clk.Now, KeyPrefix: "keys:"})

	rec := newTask("alice@example.com", clk.Now())
	rec.Progress = &Progress{Progress: 1}
	rec, err := s.Create(ctx, rec, 2)
	if err != nil {
		t.Fatal(err)
	}
	task := "keys:t:" + rec.ID
	h := raw.HGetAll(ctx, task).Val()
	want := map[string]string{
		"id": rec.ID, "owner": "alice@example.com", "tool": "hello.greet", "status": "working",
		"progress": `{"progress":1}`,
		"created":  fmt.Sprint(clk.Now().UnixMicro()), "updated": fmt.Sprint(clk.Now().UnixMicro()),
		"ttl": fmt.Sprint(testTTL.Microseconds()), "poll": "2000000", "replica": "r1",
		"lease": fmt.Sprint(rec.LeaseUntil.UnixMicro()),
	}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("task hash =\n%v\nwant\n%v", h, want)
	}
	if pttl := raw.PTTL(ctx, task).Val(); pttl <= testTTL-time.Minute || pttl > testTTL {
		t.Errorf("PTTL %s = %v; want about %v", task, pttl, testTTL)
	}
	owner, open := "keys:o:alice@example.com", "keys:open:alice@example.com"
	if m := raw.ZRange(ctx, owner, 0, -1).Val(); len(m) != 1 || m[0] != member(rec.CreatedAt.UnixMicro(), rec.ID) {
		t.Errorf("ZRANGE %s = %q; want [%q]", owner, m, member(rec.CreatedAt.UnixMicro(), rec.ID))
	}
	if m := raw.SMembers(ctx, open).Val(); len(m) != 1 || m[0] != rec.ID {
		t.Errorf("SMEMBERS %s = %q; want [%q]", open, m, rec.ID)
	}
	for _, k := range []string{owner, open} {
		if pttl := raw.PTTL(ctx, k).Val(); pttl <= 0 || pttl > testTTL {
			t.Errorf("PTTL %s = %v; want (0, %v]", k, pttl, testTTL)
		}
	}
	if _, err := s.Finish(ctx, rec.ID, Completed, "", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if n := raw.SCard(ctx, open).Val(); n != 0 {
		t.Errorf("SCARD %s after Finish = %d; want 0", open, n)
	}
	if r := raw.HGet(ctx, task, "result").Val(); r != "{}" {
		t.Errorf("stored result = %q; want {}", r)
	}

	// Tasks whose lease ran out leave the open set when Create needs the
	// room, even if nobody read them.
	for range 2 {
		if _, err := s.Create(ctx, newTask("alice@example.com", clk.Now()), 2); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(testLease + time.Second)
	if _, err := s.Create(ctx, newTask("alice@example.com", clk.Now()), 2); err != nil {
		t.Fatalf("Create after the open tasks' leases ran out: %v", err)
	}
	if n := raw.SCard(ctx, open).Val(); n != 1 {
		t.Errorf("SCARD %s = %d; want 1", open, n)
	}

	// Members of expired tasks leave the owner's set as new tasks come.
	clk.Advance(testTTL)
	if _, err := s.Create(ctx, newTask("alice@example.com", clk.Now()), 2); err != nil {
		t.Fatal(err)
	}
	if n := raw.ZCard(ctx, owner).Val(); n != 1 {
		t.Errorf("ZCARD %s after the other tasks expired = %d; want 1", owner, n)
	}
}

// TestRedisLeaseMessageDates checks the Lua date formatting against Go's.
func TestRedisLeaseMessageDates(t *testing.T) {
	ctx := context.Background()
	addr, _ := testutil.StartRedis(t)
	var mu sync.Mutex
	var now time.Time
	s := newTestRedis(t, RedisOptions{Addr: addr, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	for _, lease := range []time.Time{
		time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 500000000, time.UTC),
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2100, 3, 1, 1, 2, 3, 0, time.UTC),
		time.Date(2400, 2, 29, 22, 33, 44, 0, time.UTC),
		time.Date(2026, 7, 14, 10, 0, 0, 0, time.FixedZone("X", -7*3600)),
	} {
		mu.Lock()
		now = lease.Add(-time.Minute)
		mu.Unlock()
		rec := newTask("alice", now)
		rec.LeaseUntil = lease
		rec, err := s.Create(ctx, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = lease.Add(time.Second)
		mu.Unlock()
		got, err := s.Get(ctx, "alice", rec.ID)
		if want := leaseMessage("r1", lease); err != nil || got.StatusMessage != want {
			t.Errorf("lease %v: Get = %q, %v; want %q", lease, got.StatusMessage, err, want)
		}
	}
}

// TestRedisTwoReplicas races two stores, as two replicas would, on the
// same tasks.
func TestRedisTwoReplicas(t *testing.T) {
	ctx := context.Background()
	addr, _ := testutil.StartRedis(t)
	a := newTestRedis(t, RedisOptions{Addr: addr, KeyPrefix: "two:"})
	b := newTestRedis(t, RedisOptions{Addr: addr, KeyPrefix: "two:"})
	for i := range 50 {
		rec, err := a.Create(ctx, newTask("alice", time.Now()), 0)
		if err != nil {
			t.Fatal(err)
		}
		var finishErr, cancelErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, finishErr = a.Finish(ctx, rec.ID, Completed, "", json.RawMessage(`1`))
		})
		wg.Go(func() {
			<-start
			_, cancelErr = b.Cancel(ctx, "alice", rec.ID, "stop")
		})
		close(start)
		wg.Wait()
		if (finishErr == nil) == (cancelErr == nil) || !errors.Is(finishErr, ErrTerminal) && !errors.Is(cancelErr, ErrTerminal) {
			t.Errorf("%d: Finish on a: %v, Cancel on b: %v; want exactly one to win and the other ErrTerminal", i, finishErr, cancelErr)
		}
	}

	// Readers on both replicas fail an expired lease once.
	rec := newTask("alice", time.Now())
	rec.LeaseUntil = time.Now().Add(-time.Second)
	rec, err := a.Create(ctx, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]Record, 10)
	for i := range got {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			r, err := s.Get(ctx, "alice", rec.ID)
			if err != nil {
				t.Error(err)
			}
			got[i] = r
		})
	}
	wg.Wait()
	for i, r := range got {
		if r.Status != Failed || !r.UpdatedAt.Equal(got[0].UpdatedAt) {
			t.Errorf("reader %d: %s at %v; want failed at %v like reader 0", i, r.Status, r.UpdatedAt, got[0].UpdatedAt)
		}
	}
}

// TestRedisUnavailable stops Redis under a store: every method fails with
// ErrUnavailable, naming the address, within about the timeout; after a
// restart the store works again.
func TestRedisUnavailable(t *testing.T) {
	ctx := context.Background()
	addr, stop := testutil.StartRedis(t)
	s := newTestRedis(t, RedisOptions{Addr: addr, Timeout: 200 * time.Millisecond})
	rec, err := s.Create(ctx, newTask("alice", time.Now()), 0)
	if err != nil {
		t.Fatal(err)
	}
	stop()

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := s.Create(ctx, newTask("alice", time.Now()), 0); return err }},
		{"Get", func() error { _, err := s.Get(ctx, "alice", rec.ID); return err }},
		{"List", func() error { _, _, err := s.List(ctx, "alice", "", 0); return err }},
		{"Report", func() error { return s.Report(ctx, rec.ID, Progress{Progress: 1}) }},
		{"Finish", func() error { _, err := s.Finish(ctx, rec.ID, Completed, "", nil); return err }},
		{"Cancel", func() error { _, err := s.Cancel(ctx, "alice", rec.ID, ""); return err }},
		{"Renew", func() error { _, err := s.Renew(ctx, "r1", []string{rec.ID}, time.Now()); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		start := time.Now()
		err := tc.call()
		took := time.Since(start)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s with Redis stopped: %v; want ErrUnavailable naming %s", tc.name, err, addr)
		}
		// Not a tight bound: the point is that it does not hang.
		if took > 5*time.Second {
			t.Errorf("%s with Redis stopped took %v; want about the 200ms timeout", tc.name, took)
		}
	}

	// A caller that gives up is not told Redis is unavailable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "alice", rec.ID); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Get with a canceled context: %v; want context.Canceled only", err)
	}

	// The restarted server is empty and has no scripts loaded.
	testutil.RestartRedis(t, addr)
	var got Record
	eventually(t, "Create after the restart", func() bool {
		got, err = s.Create(ctx, newTask("alice", time.Now()), 0)
		return err == nil
	})
	if _, err := s.Get(ctx, "alice", got.ID); err != nil {
		t.Errorf("Get after the restart: %v", err)
	}
	if _, err := s.Get(ctx, "alice", rec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a task from before the restart: %v; want ErrNotFound", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the restart: %v", err)
	}

	s.Close()
	if _, err := s.Get(ctx, "alice", got.ID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get after Close: %v; want ErrUnavailable", err)
	}
}
