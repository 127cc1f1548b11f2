package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failure policies for RedisOptions.OnError.
const (
	// OnErrorClosed denies calls while Redis cannot be reached.
	OnErrorClosed = "closed"
	// OnErrorOpen allows calls while Redis cannot be reached.
	OnErrorOpen = "open"
)

// Defaults for RedisOptions.
const (
	DefaultKeyPrefix    = "warden:rl:"
	DefaultRedisTimeout = 200 * time.Millisecond
)

// degradedRetryAfter is the RetryAfter hint of a Degraded denial.
const degradedRetryAfter = time.Second

//go:embed bucket.lua
var bucketLua string

// bucketScript is loaded once per Redis server (EVALSHA, EVAL on NOSCRIPT).
var bucketScript = redis.NewScript(bucketLua)

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// Addr is the Redis server's host:port. Required.
	Addr string
	// Username and Password authenticate (AUTH); both may be empty.
	Username string
	Password string
	// DB is the database number (SELECT).
	DB int
	// KeyPrefix is put before every bucket key; "" means
	// DefaultKeyPrefix ("warden:rl:").
	KeyPrefix string
	// OnError is the failure policy while Redis cannot be reached or
	// fails: "closed" (the default, deny) or "open" (allow).
	OnError string
	// Timeout bounds each Allow's round trip to Redis, dialing included;
	// 0 means DefaultRedisTimeout.
	Timeout time.Duration
	// Logger receives one line when Redis becomes unavailable and one
	// when it recovers; nil means slog.Default().
	Logger *slog.Logger
}

// Redis is a Limiter that keeps its token buckets in Redis, so that every
// replica pointed at the same server enforces one shared limit. Each Allow
// runs one Lua script that refills and takes a token atomically, using the
// Redis server's clock; a bucket expires once it would be full again.
//
// While Redis cannot be reached, fails or does not answer within the
// timeout, Allow returns Degraded decisions by the OnError policy. One call
// at a time then tries Redis again, while the others are decided at once,
// so an unreachable Redis does not add its timeout to every call.
type Redis struct {
	client   *redis.Client
	addr     string
	prefix   string
	failOpen bool
	timeout  time.Duration
	log      *slog.Logger

	mu        sync.Mutex
	closed    bool
	down      bool      // the last round trip failed
	probing   bool      // while down, a call is trying Redis
	downSince time.Time // when down began
	lastErr   error     // the error that made or kept it down
	degraded  int       // Degraded decisions since down began
}

// NewRedis returns a Limiter backed by the Redis server at opts.Addr. It
// does not connect: an unreachable Redis shows in Allow's decisions, and
// in Ping.
//
// The first call also sends go-redis's own log lines, which are
// process-wide and come once per failed dial, to its Logger at debug
// level, so that an outage is logged by the limiter's transitions only.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Addr == "" {
		return nil, errors.New("ratelimit: redis address is empty")
	}
	var failOpen bool
	switch opts.OnError {
	case "", OnErrorClosed:
	case OnErrorOpen:
		failOpen = true
	default:
		return nil, fmt.Errorf("ratelimit: redis onError %q is not %q or %q", opts.OnError, OnErrorClosed, OnErrorOpen)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("ratelimit: redis timeout %v is negative", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.DB < 0 {
		return nil, fmt.Errorf("ratelimit: redis database %d is negative", opts.DB)
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	redisLogOnce.Do(func() { redis.SetLogger(debugLogger{opts.Logger}) })
	client := redis.NewClient(&redis.Options{
		Addr:                  opts.Addr,
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
		DialTimeout:           opts.Timeout,
		DialerRetries:         1,
		ReadTimeout:           opts.Timeout,
		WriteTimeout:          opts.Timeout,
		ContextTimeoutEnabled: true,
		// One retry, so that a pooled connection that died with a
		// restarted server does not cost a Degraded decision.
		MaxRetries:      1,
		MinRetryBackoff: time.Millisecond,
		MaxRetryBackoff: 10 * time.Millisecond,
		DisableIdentity: true,
	})
	return &Redis{
		client:   client,
		addr:     opts.Addr,
		prefix:   opts.KeyPrefix,
		failOpen: failOpen,
		timeout:  opts.Timeout,
		log:      opts.Logger,
	}, nil
}

// Allow takes one token from key's bucket in Redis if it has one. When
// Redis fails, it returns a Degraded Decision by the OnError policy along
// with the error.
func (l *Redis) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	d := Decision{Backend: BackendRedis}
	if err := r.Validate(); err != nil {
		return d, fmt.Errorf("ratelimit: invalid rate %v: %w", r, err)
	}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	try, probe, err := l.begin()
	if err != nil {
		return d, err
	}
	if !try {
		return l.degradedDecision(), l.downError()
	}

	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err := bucketScript.Run(rctx, l.client, []string{l.prefix + key}, r.Limit, r.Per.Microseconds()).Int64Slice()
	cancel()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("bucket script returned %d values, want 3", len(res))
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			l.end(probe, nil, false)
			return d, ctx.Err()
		}
		err = fmt.Errorf("ratelimit: redis %s: %w", l.addr, err)
		l.end(probe, err, true)
		return l.degradedDecision(), err
	}
	l.end(probe, nil, true)
	d.Allowed = res[0] == 1
	d.Remaining = int(res[1])
	d.RetryAfter = time.Duration(res[2]) * time.Microsecond
	return d, nil
}

// begin reports whether this call should try Redis: always while it is
// up, and while it is down only when no other call is trying it (probe).
func (l *Redis) begin() (try, probe bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return false, false, ErrClosed
	case !l.down:
		return true, false, nil
	case l.probing:
		return false, false, nil
	}
	l.probing = true
	return true, true, nil
}

// end records the outcome of a round trip: err is nil when Redis
// answered. It logs the transitions between up and down. probe releases
// the slot begin gave; decided is false when the round trip said nothing
// about Redis (the caller canceled).
func (l *Redis) end(probe bool, err error, decided bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if probe {
		l.probing = false
	}
	switch {
	case !decided:
	case err != nil && !l.down:
		l.down, l.downSince, l.lastErr, l.degraded = true, time.Now(), err, 0
		l.log.Warn("rate limit backend unavailable; deciding by the failure policy",
			"backend", BackendRedis, "addr", l.addr, "onError", l.policy(), "error", err.Error())
	case err != nil:
		l.lastErr = err
	case l.down:
		l.log.Info("rate limit backend recovered",
			"backend", BackendRedis, "addr", l.addr,
			"downFor", time.Since(l.downSince).Round(time.Millisecond).String(),
			"degradedDecisions", l.degraded)
		l.down, l.lastErr, l.degraded = false, nil, 0
	}
}

func (l *Redis) policy() string {
	if l.failOpen {
		return OnErrorOpen
	}
	return OnErrorClosed
}

// degradedDecision counts and returns the failure policy's decision.
func (l *Redis) degradedDecision() Decision {
	l.mu.Lock()
	l.degraded++
	l.mu.Unlock()
	d := Decision{Backend: BackendRedis, Degraded: true, Allowed: l.failOpen}
	if !l.failOpen {
		d.RetryAfter = degradedRetryAfter
	}
	return d
}

// downError is the error of a call decided without trying Redis.
func (l *Redis) downError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr == nil {
		return fmt.Errorf("ratelimit: redis %s unavailable", l.addr)
	}
	return l.lastErr
}

// Ping checks that Redis answers within the timeout, for readiness
// checks. Its outcome also marks Redis up or down for Allow.
func (l *Redis) Ping(ctx context.Context) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	pctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	err := l.client.Ping(pctx).Err()
	if err != nil {
		err = fmt.Errorf("ratelimit: redis %s: %w", l.addr, err)
	}
	l.end(false, err, ctx.Err() == nil)
	return err
}

var redisLogOnce sync.Once

// debugLogger passes go-redis's log lines to a slog.Logger at debug level.
type debugLogger struct{ log *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, fmt.Sprintf(format, v...), "backend", BackendRedis)
}

// Close closes the connections to Redis; Allow returns ErrClosed
// afterwards.
func (l *Redis) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	return l.client.Close()
}
