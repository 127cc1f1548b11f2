package tasks

import (
	"context"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	testStore(t, func(t *testing.T, now func() time.Time) Store {
		s := NewMemory(MemoryOptions{Now: now})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMemorySweep(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := NewMemory(MemoryOptions{Now: clk.Now})
	for i := range 100 {
		rec := newTask("alice", clk.Now())
		if i%2 == 0 {
			rec.Owner = "bob"
		}
		if _, err := s.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(testTTL)
	// Nobody asks about the 100 tasks again; the next Create drops them.
	if _, err := s.Create(ctx, newTask("carol", clk.Now()), 0); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) != 1 || len(s.owners) != 1 || len(s.expiry) != 1 {
		t.Errorf("after the sweep the store holds %d records of %d owners, %d queued; want 1 of 1, 1 queued", len(s.recs), len(s.owners), len(s.expiry))
	}
}

func TestMemoryRealClock(t *testing.T) {
	ctx := context.Background()
	s := NewMemory(MemoryOptions{})
	before := time.Now().Add(-time.Second)
	rec, err := s.Create(ctx, newTask("alice", time.Now()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CreatedAt.Before(before) || rec.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v; want about now (%v)", rec.CreatedAt, time.Now())
	}
	if rec.CreatedAt.Location() != time.UTC || rec.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("CreatedAt = %v; want UTC, whole microseconds", rec.CreatedAt)
	}
}
