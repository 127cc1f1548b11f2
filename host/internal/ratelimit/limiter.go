package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Backend names reported in Decision.Backend.
const (
	BackendMemory = "memory"
	BackendRedis  = "redis"
)

// ErrClosed is returned by Allow after Close.
var ErrClosed = errors.New("ratelimit: limiter closed")

// Decision is the outcome of one Allow call.
type Decision struct {
	// Allowed reports whether the call may run.
	Allowed bool
	// Remaining is the number of whole tokens left in the bucket after
	// this call: how many more calls would be allowed right now. It is 0
	// when the call was denied or the decision is Degraded.
	Remaining int
	// RetryAfter is how long to wait before a call with the same key may
	// be allowed; 0 when Allowed. For a Degraded denial it is a short hint.
	RetryAfter time.Duration
	// Backend names the limiter that decided: "memory" or "redis".
	Backend string
	// Degraded reports that the backend failed and the limiter's failure
	// policy (fail open or fail closed) decided instead of the bucket.
	Degraded bool
}

// Limiter decides whether a call with a key is within a rate.
type Limiter interface {
	// Allow takes one token from the bucket of key, which refills at r,
	// and reports whether there was one. A non-nil error with a Degraded
	// Decision means the backend failed and the failure policy decided;
	// the error is for logging. Any other error (an invalid rate, a
	// canceled context, a closed limiter) means no decision was made, and
	// the Decision is not Allowed.
	Allow(ctx context.Context, key string, r Rate) (Decision, error)
	// Close releases the limiter's resources; Allow fails afterwards.
	Close() error
}

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)
