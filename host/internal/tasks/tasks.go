// Package tasks keeps the records of MCP tasks: long-running tool calls that
// outlive the HTTP request that started them. A record says who owns the
// task, how far it got, and how it ended; the Store holding it is either in
// this process (one replica) or in Redis (a fleet, where any replica answers
// for any task).
//
// The replica that runs a task holds a lease on it and renews it while the
// call runs. A task whose lease ran out while it was still working belongs to
// a replica that died or lost the store: the next reader marks it failed and
// says so, instead of reporting it as working forever.
//
// Two stores implement Store: Memory (NewMemory) for a single replica, and
// Redis (NewRedis) for a fleet. Both keep times to the microsecond, in UTC,
// and behave the same; one conformance suite tests both.
package tasks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Status is where a task is in its life.
type Status string

// The statuses of MCP tasks. Completed, Failed and Cancelled are terminal: a
// terminal task never changes again.
const (
	Working       Status = "working"
	InputRequired Status = "input_required"
	Completed     Status = "completed"
	Failed        Status = "failed"
	Cancelled     Status = "cancelled"
)

// Terminal reports whether s is an end state.
func (s Status) Terminal() bool { return s == Completed || s == Failed || s == Cancelled }

// Progress is the latest progress a running task reported.
type Progress struct {
	Progress float64 `json:"progress"`
	Total    float64 `json:"total,omitempty"` // 0: unknown
	Message  string  `json:"message,omitempty"`
}

// Record is one task as the store keeps it.
type Record struct {
	// ID is the task ID clients use; unguessable (NewID).
	ID string `json:"id"`
	// Owner is the subject (token "sub", or "anonymous" without auth) that
	// created the task; only the owner may see or cancel it.
	Owner string `json:"owner"`
	// Tool is the served tool name ("<plugin>.<tool>").
	Tool   string `json:"tool"`
	Status Status `json:"status"`
	// StatusMessage says why a task failed or was cancelled, or what a
	// working task is doing.
	StatusMessage string    `json:"statusMessage,omitempty"`
	Progress      *Progress `json:"progress,omitempty"`
	// Result is the CallToolResult (JSON) of a completed task. A tool that
	// ran and reported an error (isError) is Completed with that result;
	// Failed is for calls that could not produce a result (timeout, trap,
	// a dead replica).
	Result json.RawMessage `json:"result,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// TTL is how long the record is kept after CreatedAt; after that it is
	// gone (Get answers ErrNotFound).
	TTL time.Duration `json:"ttl"`
	// PollInterval is the suggested time between two tasks/get.
	PollInterval time.Duration `json:"pollInterval"`
	// Replica names the process running the task; LeaseUntil is when its
	// claim runs out unless renewed.
	Replica    string    `json:"replica"`
	LeaseUntil time.Time `json:"leaseUntil"`
}

// Errors of the Store methods; test them with errors.Is.
var (
	// ErrNotFound: no such task for this owner (it never existed, it
	// expired, or another subject owns it: the three are not told apart).
	ErrNotFound = errors.New("tasks: no such task")
	// ErrTooManyOpen: the owner already has the most open tasks allowed.
	ErrTooManyOpen = errors.New("tasks: too many open tasks")
	// ErrTerminal: the task already ended and cannot be changed.
	ErrTerminal = errors.New("tasks: the task has already ended")
	// ErrUnavailable: the store cannot be reached.
	ErrUnavailable = errors.New("tasks: store unavailable")
	// ErrInvalidCursor: List was given a cursor that no List of this
	// store returned (a client made it up or mangled it).
	ErrInvalidCursor = errors.New("tasks: invalid cursor")
)

// Page sizes of List.
const (
	// DefaultListLimit is the page size of a List whose limit is <= 0.
	DefaultListLimit = 50
	// MaxListLimit is the largest page List returns; a larger limit is
	// lowered to it.
	MaxListLimit = 1000
)

// Store keeps task records. Every method is safe for concurrent use, and
// every change is atomic: two replicas racing to finish and to cancel the
// same task leave exactly one terminal state.
//
// A lease that has run out is final. Every method that touches a
// non-terminal task whose LeaseUntil has passed first marks it Failed (and
// stores that), so a task's outcome does not depend on who looked at it
// first: a replica that renews or finishes too late gets ErrTerminal (or
// the task in Renew's stop list), like any other reader sees Failed.
// InputRequired counts as running here, like Working.
//
// Records are returned as copies: changing one does not change the store.
type Store interface {
	// Create stores rec as a new Working task leased to rec.Replica until
	// rec.LeaseUntil, unless rec.Owner already has maxOpen or more
	// non-terminal tasks (ErrTooManyOpen; maxOpen <= 0 means no limit).
	// It sets CreatedAt and UpdatedAt and returns the stored record.
	//
	// An empty rec.ID gets a NewID; a given one must be 1 to 128 letters,
	// digits, '-', '_' or '.'. Owner and Replica must not be empty, TTL
	// must be positive and LeaseUntil set. Status is set to Working and
	// Result dropped; StatusMessage and Progress are kept.
	Create(ctx context.Context, rec Record, maxOpen int) (Record, error)

	// Get returns owner's task id. A Working task whose lease has run out
	// is first marked Failed ("the replica … running it stopped renewing
	// its lease …"), atomically, and returned as such.
	Get(ctx context.Context, owner, id string) (Record, error)

	// List returns owner's tasks, newest first, at most limit of them
	// (limit <= 0: a default page), starting after cursor ("" for the
	// first page); next is "" on the last page. Expired-lease tasks are
	// reported failed as in Get.
	//
	// The records of a page have no Result (it may be megabytes per task,
	// and tasks/list does not show it): Get one task for its result. A
	// cursor List did not return is ErrInvalidCursor; limit is at most
	// MaxListLimit.
	List(ctx context.Context, owner, cursor string, limit int) (recs []Record, next string, err error)

	// Report records progress of a Working task (ErrTerminal once it has
	// ended, ErrNotFound when it is gone).
	Report(ctx context.Context, id string, p Progress) error

	// Finish moves a Working task to status (Completed, Failed or
	// Cancelled) with message and result. It returns ErrTerminal when the
	// task had already ended (for example, it was cancelled meanwhile):
	// the first end wins; the record returned with ErrTerminal is the
	// one that won. A non-nil result must be valid JSON.
	Finish(ctx context.Context, id string, status Status, message string, result json.RawMessage) (Record, error)

	// Cancel moves owner's non-terminal task to Cancelled with message and
	// returns it; ErrTerminal (with the record) when it had already ended.
	Cancel(ctx context.Context, owner, id, message string) (Record, error)

	// Renew extends the leases of replica's tasks ids to until and
	// returns those of them that are no longer Working for this replica
	// (cancelled elsewhere, expired, or gone), so the runner can stop them.
	Renew(ctx context.Context, replica string, ids []string, until time.Time) (stop []string, err error)

	// Close releases the store's connections.
	Close() error
}

// idEncoding writes task IDs: the RFC 4648 base32 alphabet in lower case
// (IDs may end up in case-insensitive places, such as file names or
// hostnames of logs), without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new task ID: 128 bits from crypto/rand, written as 26
// characters of lower-case base32 without padding. The ID is all a client
// needs to poll a task, so it must be unguessable as well as unique; the
// owner check is a second line of defence, not the only one.
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error (since Go 1.24 it crashes
	// the program instead), so there is nothing to check.
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// maxIDLen bounds task IDs, which become part of Redis keys and cursors.
const maxIDLen = 128

// validID reports whether id may be a task ID: 1 to maxIDLen letters,
// digits, '-', '_' or '.'. NewID's IDs are; other IDs are accepted so that
// callers may bring their own, but nothing that needs quoting.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// micro is t as the stores keep it: UTC, truncated to the microsecond (the
// unit of the Redis store), without a monotonic clock reading.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// prepare checks rec for Create and returns it normalized: an ID, status
// Working, no result, times and durations to the microsecond.
func prepare(rec Record) (Record, error) {
	if rec.ID == "" {
		rec.ID = NewID()
	} else if !validID(rec.ID) {
		return Record{}, fmt.Errorf("tasks: task id %q is not 1 to %d letters, digits, '-', '_' or '.'", rec.ID, maxIDLen)
	}
	if rec.Owner == "" {
		return Record{}, errors.New("tasks: task owner is empty; want the subject that creates it")
	}
	if rec.Replica == "" {
		return Record{}, errors.New("tasks: task replica is empty; want the name of the process that runs it")
	}
	if rec.TTL < time.Microsecond {
		return Record{}, fmt.Errorf("tasks: task TTL is %v; want a positive duration", rec.TTL)
	}
	if rec.PollInterval < 0 {
		return Record{}, fmt.Errorf("tasks: task poll interval is %v; want zero or more", rec.PollInterval)
	}
	if rec.LeaseUntil.IsZero() {
		return Record{}, errors.New("tasks: task lease is not set; want LeaseUntil, when the replica's claim runs out unless renewed")
	}
	if rec.Progress != nil {
		if err := checkProgress(*rec.Progress); err != nil {
			return Record{}, err
		}
		p := *rec.Progress
		rec.Progress = &p
	}
	rec.Status = Working
	rec.Result = nil
	rec.TTL = rec.TTL.Truncate(time.Microsecond)
	rec.PollInterval = rec.PollInterval.Truncate(time.Microsecond)
	rec.LeaseUntil = micro(rec.LeaseUntil)
	return rec, nil
}

// checkProgress rejects numbers that JSON cannot carry.
func checkProgress(p Progress) error {
	for _, f := range []float64{p.Progress, p.Total} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("tasks: progress %v/%v is not a finite number", p.Progress, p.Total)
		}
	}
	return nil
}

// checkFinish checks Finish's arguments.
func checkFinish(status Status, result json.RawMessage) error {
	if !status.Terminal() {
		return fmt.Errorf("tasks: finishing a task with status %q; want %q, %q or %q", status, Completed, Failed, Cancelled)
	}
	if result != nil && !json.Valid(result) {
		return fmt.Errorf("tasks: the result of a finished task is not valid JSON (%d bytes)", len(result))
	}
	return nil
}

// pageSize is List's limit made a page size.
func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultListLimit
	case limit > MaxListLimit:
		return MaxListLimit
	}
	return limit
}

// leaseMessage is the StatusMessage of a task failed because replica's
// lease on it ran out at lease. The Redis scripts write the same words
// (common.lua); the replica is quoted verbatim, not Go-escaped, so that
// both stores agree.
func leaseMessage(replica string, lease time.Time) string {
	return `the replica "` + replica + `" running it stopped renewing its lease at ` +
		lease.UTC().Format(time.RFC3339) + `; it probably stopped or lost the task store`
}

// cursor is a position in an owner's list of tasks, newest first: the
// task created at (Unix microseconds) with ID id. A page starts with the
// task right after it, so a cursor stays valid when its task expires.
type cursor struct {
	at int64
	id string
}

// maxCursorLen bounds the cursors parseCursor reads: the longest one
// encodes 19 digits, a colon and a maxIDLen ID.
var maxCursorLen = base64.RawURLEncoding.EncodedLen(19 + 1 + maxIDLen)

// String encodes c as the opaque string clients pass back: base64url
// without padding of "<at>:<id>".
func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at, 10) + ":" + c.id))
}

// parseCursor decodes a cursor made by cursor.String. It accepts only the
// exact strings String makes, so a cursor cannot name a position two ways.
func parseCursor(s string) (cursor, error) {
	if len(s) > maxCursorLen {
		return cursor{}, fmt.Errorf("%w: it has %d characters; a cursor has at most %d", ErrInvalidCursor, len(s), maxCursorLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %q is not unpadded base64url: %v", ErrInvalidCursor, s, err)
	}
	at, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return cursor{}, fmt.Errorf("%w: %q has no ':' between time and task id", ErrInvalidCursor, s)
	}
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != at {
		return cursor{}, fmt.Errorf("%w: %q does not start with a time in microseconds", ErrInvalidCursor, s)
	}
	if !validID(id) {
		return cursor{}, fmt.Errorf("%w: %q does not end with a task id", ErrInvalidCursor, s)
	}
	c := cursor{at: n, id: id}
	// The decoder skips '\r' and '\n'; what it let through must still be
	// the one spelling String gives.
	if c.String() != s {
		return cursor{}, fmt.Errorf("%w: %q is not spelled as List spells cursors", ErrInvalidCursor, s)
	}
	return c, nil
}

// after reports whether a task created at (Unix µs) with ID id comes after
// c in newest-first order: it was created before, or at the same time with
// a smaller ID.
func (c cursor) after(at int64, id string) bool {
	return at < c.at || at == c.at && id < c.id
}
