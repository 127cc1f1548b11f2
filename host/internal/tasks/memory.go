package tasks

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Now returns the current time; nil means time.Now. Tests set it to
	// run leases and TTLs out without waiting.
	Now func() time.Time
}

// Memory is a Store that keeps its records in this process: for a single
// replica, or for tests. Its records are gone when the process ends.
//
// A record past its TTL is removed when a method comes across it, and
// Create also removes every record whose TTL has run out, oldest first,
// from a queue ordered by expiry, so records of tasks nobody asks about
// again do not pile up.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	recs   map[string]*Record             // by ID
	owners map[string]map[string]struct{} // owner → IDs of their tasks
	expiry expiryQueue
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process Store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{
		now:    opts.Now,
		recs:   map[string]*Record{},
		owners: map[string]map[string]struct{}{},
	}
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, rec Record, maxOpen int) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec, err := prepare(rec)
	if err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	m.sweep(now)
	if m.lookup(rec.ID, now) != nil {
		return Record{}, fmt.Errorf("tasks: a task with id %q already exists", rec.ID)
	}
	if maxOpen > 0 {
		open := 0
		for id := range m.owners[rec.Owner] {
			if r := m.lookup(id, now); r != nil && !r.Status.Terminal() {
				open++
			}
		}
		if open >= maxOpen {
			return Record{}, fmt.Errorf("%w: %q has %d open tasks, the most allowed", ErrTooManyOpen, rec.Owner, open)
		}
	}
	rec.CreatedAt, rec.UpdatedAt = now, now
	r := &rec
	m.recs[r.ID] = r
	ids := m.owners[r.Owner]
	if ids == nil {
		ids = map[string]struct{}{}
		m.owners[r.Owner] = ids
	}
	ids[r.ID] = struct{}{}
	heap.Push(&m.expiry, expiryItem{at: r.CreatedAt.Add(r.TTL), id: r.ID})
	return clone(r, true), nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, owner, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id, micro(m.now()))
	if r == nil || r.Owner != owner {
		return Record{}, ErrNotFound
	}
	return clone(r, true), nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, owner, cur string, limit int) ([]Record, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var from *cursor
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return nil, "", err
		}
		from = &c
	}
	limit = pageSize(limit)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	var page []*Record
	for id := range m.owners[owner] {
		r := m.lookup(id, now)
		if r == nil || from != nil && !from.after(r.CreatedAt.UnixMicro(), r.ID) {
			continue
		}
		page = append(page, r)
	}
	slices.SortFunc(page, func(a, b *Record) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = cursor{at: last.CreatedAt.UnixMicro(), id: last.ID}.String()
	}
	recs := make([]Record, len(page))
	for i, r := range page {
		recs[i] = clone(r, false)
	}
	return recs, next, nil
}

// Report implements Store.
func (m *Memory) Report(ctx context.Context, id string, p Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkProgress(p); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	r := m.lookup(id, now)
	switch {
	case r == nil:
		return ErrNotFound
	case r.Status.Terminal():
		return fmt.Errorf("%w: task %s is %s", ErrTerminal, id, r.Status)
	}
	r.Progress = &p
	r.UpdatedAt = now
	return nil
}

// Finish implements Store.
func (m *Memory) Finish(ctx context.Context, id string, status Status, message string, result json.RawMessage) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := checkFinish(status, result); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	r := m.lookup(id, now)
	switch {
	case r == nil:
		return Record{}, ErrNotFound
	case r.Status.Terminal():
		return clone(r, true), fmt.Errorf("%w: task %s is already %s", ErrTerminal, id, r.Status)
	}
	r.Status, r.StatusMessage, r.UpdatedAt = status, message, now
	r.Result = bytes.Clone(result)
	return clone(r, true), nil
}

// Cancel implements Store.
func (m *Memory) Cancel(ctx context.Context, owner, id, message string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	r := m.lookup(id, now)
	switch {
	case r == nil || r.Owner != owner:
		return Record{}, ErrNotFound
	case r.Status.Terminal():
		return clone(r, true), fmt.Errorf("%w: task %s is already %s", ErrTerminal, id, r.Status)
	}
	r.Status, r.StatusMessage, r.UpdatedAt = Cancelled, message, now
	return clone(r, true), nil
}

// Renew implements Store.
func (m *Memory) Renew(ctx context.Context, replica string, ids []string, until time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if until.IsZero() {
		return nil, fmt.Errorf("tasks: renewing leases until the zero time; want when the renewed leases run out")
	}
	until = micro(until)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := micro(m.now())
	var stop []string
	for _, id := range ids {
		r := m.lookup(id, now)
		if r == nil || r.Status.Terminal() || r.Replica != replica {
			stop = append(stop, id)
			continue
		}
		r.LeaseUntil = until
	}
	return stop, nil
}

// Close implements Store. It holds no connections: the records stay, and
// the other methods keep working, so calls still running at shutdown can
// record how they ended.
func (m *Memory) Close() error { return nil }

// lookup returns task id as of now, or nil when there is none: removing it
// once its TTL is over, and failing it once its lease has run out (see
// Store). m.mu must be held.
func (m *Memory) lookup(id string, now time.Time) *Record {
	r := m.recs[id]
	if r == nil {
		return nil
	}
	if !now.Before(r.CreatedAt.Add(r.TTL)) {
		m.remove(r)
		return nil
	}
	if !r.Status.Terminal() && r.LeaseUntil.Before(now) {
		r.Status = Failed
		r.StatusMessage = leaseMessage(r.Replica, r.LeaseUntil)
		r.UpdatedAt = now
	}
	return r
}

// remove forgets r. m.mu must be held.
func (m *Memory) remove(r *Record) {
	delete(m.recs, r.ID)
	if ids := m.owners[r.Owner]; ids != nil {
		delete(ids, r.ID)
		if len(ids) == 0 {
			delete(m.owners, r.Owner)
		}
	}
}

// sweep removes the records whose TTL is over by now. Each record enters
// the queue once, so the work is paid for by the Create that queued it.
// m.mu must be held.
func (m *Memory) sweep(now time.Time) {
	for len(m.expiry) > 0 && !now.Before(m.expiry[0].at) {
		it := heap.Pop(&m.expiry).(expiryItem)
		// lookup removes the record if it is still there and expired.
		m.lookup(it.id, now)
	}
}

// clone copies r so that callers share no memory with the store; without
// withResult the copy has no Result.
func clone(r *Record, withResult bool) Record {
	c := *r
	if r.Progress != nil {
		p := *r.Progress
		c.Progress = &p
	}
	c.Result = nil
	if withResult {
		c.Result = bytes.Clone(r.Result)
	}
	return c
}

// expiryItem is when task id's TTL runs out.
type expiryItem struct {
	at time.Time
	id string
}

// expiryQueue is a min-heap of expiryItem by time (container/heap).
type expiryQueue []expiryItem

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(expiryItem)) }
func (q *expiryQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
