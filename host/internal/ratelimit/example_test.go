package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenmcp/warden/host/internal/ratelimit"
)

func ExampleMemory() {
	rate, err := ratelimit.ParseRate("3/m")
	if err != nil {
		panic(err)
	}
	limiter := ratelimit.NewMemory()
	defer limiter.Close()

	key := ratelimit.Key("alice@example.com", "hello.greet")
	for i := 0; i < 4; i++ {
		d, err := limiter.Allow(context.Background(), key, rate)
		if err != nil {
			panic(err)
		}
		fmt.Printf("call %d: allowed=%v remaining=%d retryAfter=%v\n", i+1, d.Allowed, d.Remaining, d.RetryAfter.Round(time.Second))
	}
	// Output:
	// call 1: allowed=true remaining=2 retryAfter=0s
	// call 2: allowed=true remaining=1 retryAfter=0s
	// call 3: allowed=true remaining=0 retryAfter=0s
	// call 4: allowed=false remaining=0 retryAfter=20s
}
