package ratelimit

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is how many buckets a Memory limiter keeps unless
// WithMaxKeys says otherwise.
const DefaultMaxKeys = 100_000

// sweepPerCall is how many of the least recently used buckets each Allow
// call examines for removal when they are full.
const sweepPerCall = 2

// Memory is a Limiter that keeps one token bucket per key in this
// process. It suits a single replica; several replicas each enforce their
// own limit (use Redis to share one).
//
// The number of buckets is bounded: buckets that have refilled completely
// carry no information and are dropped as Allow calls pass them, and when
// the bound is reached anyway the least recently used bucket is evicted,
// so callers with ever new keys cannot exhaust memory. Evicting a bucket
// that is not full forgets what its key owed, so the bound should exceed
// the number of keys active within one period.
type Memory struct {
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	closed  bool
	buckets map[string]*list.Element // of *bucket
	lru     *list.List               // front: most recently used
}

type bucket struct {
	key    string
	rate   Rate // the rate of the last call, which sweep judges fullness by
	tokens float64
	last   time.Time
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithMaxKeys bounds the number of buckets a Memory limiter keeps; values
// below 1 mean DefaultMaxKeys.
func WithMaxKeys(n int) MemoryOption {
	return func(m *Memory) {
		if n >= 1 {
			m.maxKeys = n
		}
	}
}

// WithClock replaces time.Now as the Memory limiter's clock, for tests.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) {
		if now != nil {
			m.now = now
		}
	}
}

// NewMemory returns an in-process Limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{
		now:     time.Now,
		maxKeys: DefaultMaxKeys,
		buckets: make(map[string]*list.Element),
		lru:     list.New(),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Allow takes one token from key's bucket if it has one. It never returns
// a Degraded Decision: its only errors are an invalid rate and ErrClosed.
func (m *Memory) Allow(_ context.Context, key string, r Rate) (Decision, error) {
	d := Decision{Backend: BackendMemory}
	if err := r.Validate(); err != nil {
		return d, fmt.Errorf("ratelimit: invalid rate %v: %w", r, err)
	}
	limit := float64(r.Limit)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return d, ErrClosed
	}
	now := m.now()
	var b *bucket
	if e, ok := m.buckets[key]; ok {
		m.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		b.refill(now, r)
		b.rate = r
	} else {
		for len(m.buckets) >= m.maxKeys {
			m.remove(m.lru.Back())
		}
		b = &bucket{key: key, rate: r, tokens: limit, last: now}
		m.buckets[key] = m.lru.PushFront(b)
	}

	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
		d.Remaining = int(math.Floor(b.tokens))
	} else {
		d.RetryAfter = retryAfter(b.tokens, r)
	}
	m.sweep(now)
	return d, nil
}

// refill adds the tokens earned since b.last, up to r.Limit. A clock that
// went backwards earns nothing.
func (b *bucket) refill(now time.Time, r Rate) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = snap(b.tokens + float64(elapsed)/r.interval())
		b.last = now
	}
	b.tokens = min(b.tokens, float64(r.Limit))
}

// snap rounds a token count that lies within 1e-9 of a whole number to it,
// so that floating-point error cannot deny a call whose token is due
// exactly now. bucket.lua does the same.
func snap(tokens float64) float64 {
	if w := math.Round(tokens); math.Abs(tokens-w) < 1e-9 {
		return w
	}
	return tokens
}

// retryAfter is the time until a bucket holding tokens (< 1) has one,
// rounded up to a whole microsecond as bucket.lua does.
func retryAfter(tokens float64, r Rate) time.Duration {
	us := (1 - tokens) * r.interval() / float64(time.Microsecond)
	return time.Duration(math.Ceil(us-1e-6)) * time.Microsecond
}

// sweep drops up to sweepPerCall least recently used buckets that are
// full by now. A missing bucket and a full one behave alike, so this loses
// nothing.
func (m *Memory) sweep(now time.Time) {
	for i := 0; i < sweepPerCall; i++ {
		e := m.lru.Back()
		if e == nil || e == m.lru.Front() {
			return
		}
		b := e.Value.(*bucket)
		if b.tokens+float64(now.Sub(b.last))/b.rate.interval() < float64(b.rate.Limit) {
			return
		}
		m.remove(e)
	}
}

func (m *Memory) remove(e *list.Element) {
	delete(m.buckets, e.Value.(*bucket).key)
	m.lru.Remove(e)
}

// Len returns the number of buckets the limiter holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}

// Close drops every bucket; Allow returns ErrClosed afterwards.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.buckets = nil
	m.lru.Init()
	return nil
}
