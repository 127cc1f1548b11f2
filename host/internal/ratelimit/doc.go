// Package ratelimit limits how often a subject may call a tool: a token
// bucket per key, kept in memory for a single replica (Memory) or in Redis
// so that several replicas share one limit (Redis).
//
// A bucket holds at most Rate.Limit tokens and starts full; it refills
// continuously at Rate.Limit tokens per Rate.Per, and every allowed call
// takes one token. A Rate of 60/m therefore allows a burst of 60 calls and
// then one call a second.
//
// Keys name what is limited; build them with Key so that subjects and tool
// names containing separators cannot collide:
//
//	d, err := limiter.Allow(ctx, ratelimit.Key(subject, "hello.greet"), rate)   // per tool
//	d, err := limiter.Allow(ctx, ratelimit.Key(subject, "hello.*"), pluginRate) // per plugin
//
// Allow returns an error together with a usable Decision (Degraded set)
// when the backend failed and the limiter's failure policy decided; any
// other error means that no decision was made and the call must not run.
package ratelimit
