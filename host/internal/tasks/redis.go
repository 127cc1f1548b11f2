package tasks

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for RedisOptions.
const (
	DefaultKeyPrefix    = "warden:tasks:"
	DefaultRedisTimeout = 500 * time.Millisecond
)

//go:embed lua/*.lua
var luaFiles embed.FS

// The scripts of the Redis store, one per change, each with common.lua in
// front. Each is loaded once per Redis server (EVALSHA, EVAL on NOSCRIPT).
var (
	createScript = newScript("create.lua")
	getScript    = newScript("get.lua")
	listScript   = newScript("list.lua")
	reportScript = newScript("report.lua")
	finishScript = newScript("finish.lua")
	cancelScript = newScript("cancel.lua")
	renewScript  = newScript("renew.lua")
)

func newScript(name string) *redis.Script {
	common, err := luaFiles.ReadFile("lua/common.lua")
	if err != nil {
		panic(err)
	}
	body, err := luaFiles.ReadFile("lua/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(common) + "\n-- " + name + "\n" + string(body))
}

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// Addr is the Redis server's host:port. Required.
	Addr string
	// Username and Password authenticate (AUTH); both may be empty.
	Username string
	Password string
	// DB is the database number (SELECT).
	DB int
	// KeyPrefix is put before every key; "" means DefaultKeyPrefix
	// ("warden:tasks:").
	KeyPrefix string
	// Timeout bounds each method's round trip to Redis, dialing
	// included; 0 means DefaultRedisTimeout (500ms).
	Timeout time.Duration
	// Now returns the current time for timestamps, TTLs and leases; nil
	// means the Redis server's clock, which every replica shares, so that
	// replicas with skewed clocks agree on when a lease ran out. Tests set
	// it to run leases and TTLs out without waiting.
	Now func() time.Time
}

// Redis is a Store that keeps its records in Redis, so that any replica
// pointed at the same server answers for any task. Every method is one
// Lua script, run atomically by Redis. It needs a single Redis server (or
// a primary with replicas), not Redis Cluster: a script touches the keys
// of a task and of its owner, which Cluster would put on different nodes.
//
// Keys, under the prefix: "t:<id>" is a task (a hash, expiring after its
// TTL); "o:<owner>" orders an owner's tasks for List (a sorted set);
// "open:<owner>" holds the IDs of the owner's open tasks for Create's
// limit (a set). lua/common.lua describes them in full.
//
// A method that cannot reach Redis, or gets no answer within the timeout,
// returns an error wrapping ErrUnavailable. No method is retried: a
// script whose answer was lost may have run, and running it again would
// not be the same change (a second Create fails, a second Finish gets
// ErrTerminal).
type Redis struct {
	client  *redis.Client
	addr    string
	prefix  string
	timeout time.Duration
	now     func() time.Time
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store backed by the Redis server at opts.Addr. It does
// not connect: an unreachable Redis shows in the methods' errors, and in
// Ping.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Addr == "" {
		return nil, errors.New("tasks: redis address is empty; want host:port")
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("tasks: redis timeout %v is negative", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.DB < 0 {
		return nil, fmt.Errorf("tasks: redis database %d is negative", opts.DB)
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
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
		// See Redis: the scripts are not idempotent.
		MaxRetries:      -1,
		DisableIdentity: true,
	})
	return &Redis{
		client:  client,
		addr:    opts.Addr,
		prefix:  opts.KeyPrefix,
		timeout: opts.Timeout,
		now:     opts.Now,
	}, nil
}

// Create implements Store.
func (s *Redis) Create(ctx context.Context, rec Record, maxOpen int) (Record, error) {
	rec, err := prepare(rec)
	if err != nil {
		return Record{}, err
	}
	progress := ""
	if rec.Progress != nil {
		b, err := json.Marshal(rec.Progress)
		if err != nil {
			return Record{}, fmt.Errorf("tasks: encoding progress: %w", err)
		}
		progress = string(b)
	}
	v, err := s.run(ctx, "create", createScript,
		rec.ID, rec.Owner, max(maxOpen, 0), rec.Tool, rec.StatusMessage, progress,
		rec.TTL.Microseconds(), rec.PollInterval.Microseconds(), rec.Replica, rec.LeaseUntil.UnixMicro())
	if err != nil {
		return Record{}, err
	}
	code, rest, err := reply(v)
	if err != nil {
		return Record{}, err
	}
	switch code {
	case "ok":
		return recordAt(rest, 0)
	case "exists":
		return Record{}, fmt.Errorf("tasks: a task with id %q already exists", rec.ID)
	case "toomany":
		n := any("?")
		if len(rest) > 0 {
			n = rest[0]
		}
		return Record{}, fmt.Errorf("%w: %q has %v open tasks, the most allowed", ErrTooManyOpen, rec.Owner, n)
	}
	return Record{}, unexpected("create", code)
}

// Get implements Store.
func (s *Redis) Get(ctx context.Context, owner, id string) (Record, error) {
	if !validID(id) {
		return Record{}, ErrNotFound
	}
	code, rest, err := s.call(ctx, "get", getScript, owner, id)
	if err != nil {
		return Record{}, err
	}
	switch code {
	case "ok":
		return recordAt(rest, 0)
	case "notfound":
		return Record{}, ErrNotFound
	}
	return Record{}, unexpected("get", code)
}

// List implements Store.
func (s *Redis) List(ctx context.Context, owner, cur string, limit int) ([]Record, string, error) {
	from := "+"
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return nil, "", err
		}
		from = "(" + member(c.at, c.id)
	}
	limit = pageSize(limit)
	// One more than the page, to know whether there is a next one.
	v, err := s.run(ctx, "list", listScript, owner, from, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, "", fmt.Errorf("tasks: redis answered list with %T; want an array of tasks", v)
	}
	recs := make([]Record, len(items))
	for i := range items {
		if recs[i], err = recordAt(items, i); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		next = cursor{at: last.CreatedAt.UnixMicro(), id: last.ID}.String()
	}
	return recs, next, nil
}

// member is the entry of task id, created at at (Unix µs), in the sorted
// set of its owner's tasks; common.lua makes the same.
func member(at int64, id string) string { return fmt.Sprintf("%019d:%s", at, id) }

// Report implements Store.
func (s *Redis) Report(ctx context.Context, id string, p Progress) error {
	if err := checkProgress(p); err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("tasks: encoding progress: %w", err)
	}
	code, rest, err := s.call(ctx, "report", reportScript, id, string(b))
	if err != nil {
		return err
	}
	switch code {
	case "ok":
		return nil
	case "notfound":
		return ErrNotFound
	case "terminal":
		status := any("ended")
		if len(rest) > 0 {
			status = rest[0]
		}
		return fmt.Errorf("%w: task %s is %v", ErrTerminal, id, status)
	}
	return unexpected("report", code)
}

// Finish implements Store.
func (s *Redis) Finish(ctx context.Context, id string, status Status, message string, result json.RawMessage) (Record, error) {
	if err := checkFinish(status, result); err != nil {
		return Record{}, err
	}
	if !validID(id) {
		return Record{}, ErrNotFound
	}
	hasResult := "0"
	if result != nil {
		hasResult = "1"
	}
	code, rest, err := s.call(ctx, "finish", finishScript, id, string(status), message, hasResult, []byte(result))
	if err != nil {
		return Record{}, err
	}
	switch code {
	case "ok":
		rec, err := recordAt(rest, 0)
		if err != nil {
			return Record{}, err
		}
		// The script does not send back the result it was just given,
		// which may be megabytes.
		rec.Result = append(json.RawMessage(nil), result...)
		return rec, nil
	case "terminal":
		rec, err := recordAt(rest, 0)
		if err != nil {
			return Record{}, err
		}
		return rec, fmt.Errorf("%w: task %s is already %s", ErrTerminal, id, rec.Status)
	case "notfound":
		return Record{}, ErrNotFound
	}
	return Record{}, unexpected("finish", code)
}

// Cancel implements Store.
func (s *Redis) Cancel(ctx context.Context, owner, id, message string) (Record, error) {
	if !validID(id) {
		return Record{}, ErrNotFound
	}
	code, rest, err := s.call(ctx, "cancel", cancelScript, owner, id, message)
	if err != nil {
		return Record{}, err
	}
	switch code {
	case "ok":
		return recordAt(rest, 0)
	case "terminal":
		rec, err := recordAt(rest, 0)
		if err != nil {
			return Record{}, err
		}
		return rec, fmt.Errorf("%w: task %s is already %s", ErrTerminal, id, rec.Status)
	case "notfound":
		return Record{}, ErrNotFound
	}
	return Record{}, unexpected("cancel", code)
}

// Renew implements Store.
func (s *Redis) Renew(ctx context.Context, replica string, ids []string, until time.Time) ([]string, error) {
	if until.IsZero() {
		return nil, fmt.Errorf("tasks: renewing leases until the zero time; want when the renewed leases run out")
	}
	var stop []string
	args := []any{replica, micro(until).UnixMicro()}
	for _, id := range ids {
		if validID(id) {
			args = append(args, id)
		} else {
			// No such task can exist; its key need not be looked at.
			stop = append(stop, id)
		}
	}
	if len(args) == 2 {
		return stop, nil
	}
	v, err := s.run(ctx, "renew", renewScript, args...)
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("tasks: redis answered renew with %T; want an array of task ids", v)
	}
	for _, it := range items {
		id, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("tasks: redis answered renew with a %T among the task ids", it)
		}
		stop = append(stop, id)
	}
	return stop, nil
}

// Ping checks that Redis answers within the timeout, for readiness checks.
func (s *Redis) Ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Ping(pctx).Err(); err != nil {
		return s.failed(ctx, "ping", err)
	}
	return nil
}

// Close closes the connections to Redis; the methods return ErrUnavailable
// afterwards.
func (s *Redis) Close() error { return s.client.Close() }

// run runs script with the prefix and the clock ahead of args, within the
// timeout.
func (s *Redis) run(ctx context.Context, op string, script *redis.Script, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := ""
	if s.now != nil {
		now = strconv.FormatInt(micro(s.now()).UnixMicro(), 10)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := script.Run(rctx, s.client, nil, append([]any{s.prefix, now}, args...)...).Result()
	if err != nil {
		return nil, s.failed(ctx, op, err)
	}
	return v, nil
}

// failed wraps the error of a round trip to Redis: ErrUnavailable, unless
// the caller's ctx ended first, which says nothing about Redis.
func (s *Redis) failed(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("tasks: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("%w: redis at %s failed to %s (timeout %v): %w", ErrUnavailable, s.addr, op, s.timeout, err)
}

// reply splits a script's answer {code, ...}.
// call runs a script and splits its reply into a status code and the rest.
func (s *Redis) call(ctx context.Context, op string, script *redis.Script, args ...any) (string, []any, error) {
	v, err := s.run(ctx, op, script, args...)
	if err != nil {
		return "", nil, err
	}
	return reply(v)
}

func reply(v any) (code string, rest []any, err error) {
	items, ok := v.([]any)
	if ok && len(items) > 0 {
		if code, ok := items[0].(string); ok {
			return code, items[1:], nil
		}
	}
	return "", nil, fmt.Errorf("tasks: redis answered with %T %.100v; want an array starting with a status word", v, v)
}

func unexpected(op, code string) error {
	return fmt.Errorf("tasks: redis answered %s with %q; want one of the words its script returns", op, code)
}

// recordAt decodes items[i], a task hash as a flat list of names and
// values.
func recordAt(items []any, i int) (Record, error) {
	if i >= len(items) {
		return Record{}, errors.New("tasks: redis answer has no task record")
	}
	flat, ok := items[i].([]any)
	if !ok || len(flat)%2 != 0 {
		return Record{}, fmt.Errorf("tasks: redis answered a task record as %T of %d items; want names and values", items[i], len(flat))
	}
	var r Record
	var bad []string
	micros := func(name, v string) int64 {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %q is not an integer", name, v))
		}
		return n
	}
	for j := 0; j < len(flat); j += 2 {
		name, _ := flat[j].(string)
		v, _ := flat[j+1].(string)
		switch name {
		case "id":
			r.ID = v
		case "owner":
			r.Owner = v
		case "tool":
			r.Tool = v
		case "status":
			r.Status = Status(v)
		case "msg":
			r.StatusMessage = v
		case "progress":
			var p Progress
			if err := json.Unmarshal([]byte(v), &p); err != nil {
				bad = append(bad, fmt.Sprintf("progress is not JSON: %v", err))
			}
			r.Progress = &p
		case "result":
			r.Result = json.RawMessage(v)
		case "created":
			r.CreatedAt = time.UnixMicro(micros(name, v)).UTC()
		case "updated":
			r.UpdatedAt = time.UnixMicro(micros(name, v)).UTC()
		case "ttl":
			r.TTL = time.Duration(micros(name, v)) * time.Microsecond
		case "poll":
			r.PollInterval = time.Duration(micros(name, v)) * time.Microsecond
		case "replica":
			r.Replica = v
		case "lease":
			r.LeaseUntil = time.UnixMicro(micros(name, v)).UTC()
		}
	}
	if r.ID == "" {
		bad = append(bad, "it has no id")
	}
	if len(bad) > 0 {
		return Record{}, fmt.Errorf("tasks: redis holds a broken task record %q: %v", r.ID, bad)
	}
	return r, nil
}
