package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Now that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Durations of the tasks the conformance suite creates.
const (
	testTTL   = time.Hour
	testLease = 30 * time.Second
)

// newTask is a task of owner run by replica "r1", leased for testLease
// from now.
func newTask(owner string, now time.Time) Record {
	return Record{
		Owner:        owner,
		Tool:         "hello.greet",
		TTL:          testTTL,
		PollInterval: 2 * time.Second,
		Replica:      "r1",
		LeaseUntil:   now.Add(testLease),
	}
}

// testStore runs the conformance suite: what every Store must do. Each
// subtest calls newStore for an empty store whose clock is now.
func testStore(t *testing.T, newStore func(t *testing.T, now func() time.Time) Store) {
	ctx := context.Background()
	// setup returns an empty store and its clock.
	setup := func(t *testing.T) (Store, *fakeClock) {
		clk := newFakeClock()
		return newStore(t, clk.Now), clk
	}
	create := func(t *testing.T, s Store, rec Record, maxOpen int) Record {
		t.Helper()
		got, err := s.Create(ctx, rec, maxOpen)
		if err != nil {
			t.Fatalf("Create(%+v, %d): %v", rec, maxOpen, err)
		}
		return got
	}
	get := func(t *testing.T, s Store, owner, id string) Record {
		t.Helper()
		got, err := s.Get(ctx, owner, id)
		if err != nil {
			t.Fatalf("Get(%q, %q): %v", owner, id, err)
		}
		return got
	}

	t.Run("CreateGet", func(t *testing.T) {
		s, clk := setup(t)
		now := clk.Now()
		rec := newTask("alice", now)
		rec.StatusMessage = "starting"
		rec.Progress = &Progress{Progress: 1, Total: 10}
		rec.Status = Completed                        // ignored
		rec.Result = json.RawMessage(`{"ignored":1}`) // ignored
		got := create(t, s, rec, 0)
		want := Record{
			ID: got.ID, Owner: "alice", Tool: "hello.greet", Status: Working,
			StatusMessage: "starting", Progress: &Progress{Progress: 1, Total: 10},
			CreatedAt: now, UpdatedAt: now, TTL: testTTL, PollInterval: 2 * time.Second,
			Replica: "r1", LeaseUntil: now.Add(testLease),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Create returned\n%+v\nwant\n%+v", got, want)
		}
		if len(got.ID) != 26 {
			t.Errorf("Create gave the task id %q; want a NewID (26 characters)", got.ID)
		}
		if g := get(t, s, "alice", got.ID); !reflect.DeepEqual(g, want) {
			t.Errorf("Get returned\n%+v\nwant\n%+v", g, want)
		}

		rec = newTask("alice", now)
		rec.ID = "my-own.ID_1"
		if got := create(t, s, rec, 0); got.ID != rec.ID {
			t.Errorf("Create with id %q stored id %q", rec.ID, got.ID)
		}
		if _, err := s.Create(ctx, rec, 0); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("Create of an existing id: %v; want an error saying it already exists", err)
		}
	})

	t.Run("CreateInvalid", func(t *testing.T) {
		s, clk := setup(t)
		now := clk.Now()
		for _, tc := range []struct {
			name   string
			change func(*Record)
			msg    string
		}{
			{"no owner", func(r *Record) { r.Owner = "" }, "owner is empty"},
			{"no replica", func(r *Record) { r.Replica = "" }, "replica is empty"},
			{"no TTL", func(r *Record) { r.TTL = 0 }, "TTL is 0s"},
			{"negative poll", func(r *Record) { r.PollInterval = -time.Second }, "poll interval is -1s"},
			{"no lease", func(r *Record) { r.LeaseUntil = time.Time{} }, "lease is not set"},
			{"bad id", func(r *Record) { r.ID = "a b" }, `task id "a b" is not`},
			{"long id", func(r *Record) { r.ID = strings.Repeat("a", 129) }, "is not 1 to 128"},
			{"NaN progress", func(r *Record) { r.Progress = &Progress{Progress: math.NaN()} }, "not a finite number"},
		} {
			rec := newTask("alice", now)
			tc.change(&rec)
			if _, err := s.Create(ctx, rec, 0); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: Create: %v; want an error containing %q", tc.name, err, tc.msg)
			}
		}
		if recs, _, err := s.List(ctx, "alice", "", 0); err != nil || len(recs) != 0 {
			t.Errorf("List after failed Creates = %d records, %v; want none", len(recs), err)
		}
	})

	t.Run("ListPagination", func(t *testing.T) {
		s, clk := setup(t)
		// Some tasks are created at the same time: those are ordered by
		// ID, descending.
		var created []Record
		for i := range 10 {
			created = append(created, create(t, s, newTask("alice", clk.Now()), 0))
			if i%3 == 0 {
				clk.Advance(time.Millisecond)
			}
			// Another owner's tasks in between must not show.
			create(t, s, newTask("bob", clk.Now()), 0)
		}
		slices.SortFunc(created, func(a, b Record) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		var want []string // newest first
		for _, r := range created {
			want = append(want, r.ID)
		}
		// A finished task keeps its place, and shows without its result.
		if _, err := s.Finish(ctx, want[4], Completed, "", json.RawMessage(`"done"`)); err != nil {
			t.Fatal(err)
		}

		for _, limit := range []int{1, 3, 4, 10, 11, 0, 5000} {
			var got []string
			cur := ""
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("limit %d: more than %d pages", limit, pages)
				}
				recs, next, err := s.List(ctx, "alice", cur, limit)
				if err != nil {
					t.Fatalf("limit %d: List(cursor %q): %v", limit, cur, err)
				}
				if limit > 0 && len(recs) > limit {
					t.Fatalf("limit %d: List returned %d records", limit, len(recs))
				}
				for _, r := range recs {
					if r.Owner != "alice" {
						t.Errorf("limit %d: List of alice returned a task of %q", limit, r.Owner)
					}
					if r.Result != nil {
						t.Errorf("limit %d: List returned task %s with its result %s; want none", limit, r.ID, r.Result)
					}
					got = append(got, r.ID)
				}
				if next == "" {
					break
				}
				if len(recs) == 0 {
					t.Fatalf("limit %d: an empty page with a next cursor", limit)
				}
				cur = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: List pages gave\n%v\nwant (newest first)\n%v", limit, got, want)
			}
		}
		// A page that ends exactly at the last task has no next cursor.
		recs, next, err := s.List(ctx, "alice", "", len(want))
		if err != nil || len(recs) != len(want) || next != "" {
			t.Errorf("List(limit %d) = %d records, next %q, %v; want all, no next", len(want), len(recs), next, err)
		}
	})

	t.Run("ListCursorOfGoneTask", func(t *testing.T) {
		// A cursor is a position, not a task: it still places the next
		// page after its task has expired.
		s, clk := setup(t)
		a := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(time.Minute)
		b := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(time.Minute)
		short := newTask("alice", clk.Now())
		short.TTL = 5 * time.Minute
		c := create(t, s, short, 0)
		recs, next, err := s.List(ctx, "alice", "", 1)
		if err != nil || len(recs) != 1 || recs[0].ID != c.ID || next == "" {
			t.Fatalf("List = %v, %q, %v; want task c and a cursor", recs, next, err)
		}
		clk.Advance(10 * time.Minute)
		if _, err := s.Get(ctx, "alice", c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of task c past its TTL: %v; want ErrNotFound", err)
		}
		recs, next, err = s.List(ctx, "alice", next, 10)
		if err != nil || len(recs) != 2 || recs[0].ID != b.ID || recs[1].ID != a.ID || next != "" {
			t.Errorf("List after the cursor of an expired task = %v, %q, %v; want b, a and no next", recs, next, err)
		}
	})

	t.Run("InvalidCursor", func(t *testing.T) {
		s, _ := setup(t)
		for _, cur := range []string{"nope!", "MTIz", cursor{at: 1, id: "x"}.String() + "A"} {
			if _, _, err := s.List(ctx, "alice", cur, 0); !errors.Is(err, ErrInvalidCursor) {
				t.Errorf("List(cursor %q): %v; want ErrInvalidCursor", cur, err)
			}
		}
	})

	t.Run("OtherOwner", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		if _, err := s.Get(ctx, "mallory", rec.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get by another owner: %v; want ErrNotFound", err)
		}
		if got, err := s.Cancel(ctx, "mallory", rec.ID, "mine now"); !errors.Is(err, ErrNotFound) || got.ID != "" {
			t.Errorf("Cancel by another owner = %+v, %v; want no record, ErrNotFound", got, err)
		}
		if recs, next, err := s.List(ctx, "mallory", "", 0); err != nil || len(recs) != 0 || next != "" {
			t.Errorf("List of another owner = %v, %q, %v; want nothing", recs, next, err)
		}
		if got := get(t, s, "alice", rec.ID); got.Status != Working {
			t.Errorf("after another owner's Cancel, the task is %s; want working", got.Status)
		}
		for _, id := range []string{"", "nonexistent", "a b", strings.Repeat("x", 300)} {
			if _, err := s.Get(ctx, "alice", id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q): %v; want ErrNotFound", id, err)
			}
			if _, err := s.Cancel(ctx, "alice", id, ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("Cancel(%q): %v; want ErrNotFound", id, err)
			}
			if _, err := s.Finish(ctx, id, Completed, "", nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("Finish(%q): %v; want ErrNotFound", id, err)
			}
			if err := s.Report(ctx, id, Progress{Progress: 1}); !errors.Is(err, ErrNotFound) {
				t.Errorf("Report(%q): %v; want ErrNotFound", id, err)
			}
		}
	})

	t.Run("OpenLimit", func(t *testing.T) {
		s, clk := setup(t)
		now := clk.Now()
		a := create(t, s, newTask("alice", now), 3)
		b := create(t, s, newTask("alice", now), 3)
		c := create(t, s, newTask("alice", now), 3)
		if _, err := s.Create(ctx, newTask("alice", now), 3); !errors.Is(err, ErrTooManyOpen) {
			t.Fatalf("4th Create with at most 3 open: %v; want ErrTooManyOpen", err)
		}
		if _, err := s.Create(ctx, newTask("alice", now), 2); !errors.Is(err, ErrTooManyOpen) {
			t.Fatalf("Create with at most 2 open: %v; want ErrTooManyOpen", err)
		}
		// Other owners have their own count; no limit is no limit.
		create(t, s, newTask("bob", now), 1)
		create(t, s, newTask("alice", now), 0)
		create(t, s, newTask("alice", now), -1)

		// Each way a task ends frees its slot.
		fresh := func() {
			t.Helper()
			if _, err := s.Create(ctx, newTask("alice", clk.Now()), 5); !errors.Is(err, ErrTooManyOpen) {
				t.Fatalf("Create with 5 open: %v; want ErrTooManyOpen", err)
			}
		}
		fresh()
		if _, err := s.Finish(ctx, a.ID, Completed, "", nil); err != nil {
			t.Fatal(err)
		}
		d := create(t, s, newTask("alice", clk.Now()), 5)
		fresh()
		if _, err := s.Cancel(ctx, "alice", b.ID, "enough"); err != nil {
			t.Fatal(err)
		}
		create(t, s, newTask("alice", clk.Now()), 5)
		fresh()
		// All but c's lease are renewed; c's runs out, which fails it.
		clk.Advance(testLease - time.Second)
		var ids []string
		recs, _, err := s.List(ctx, "alice", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.ID != c.ID {
				ids = append(ids, r.ID)
			}
		}
		if _, err := s.Renew(ctx, "r1", ids, clk.Now().Add(testLease)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		e := create(t, s, newTask("alice", clk.Now()), 5)
		if got := get(t, s, "alice", c.ID); got.Status != Failed {
			t.Errorf("task c whose lease ran out is %s; want failed", got.Status)
		}
		fresh()
		// A task past its TTL frees its slot too.
		clk.Advance(testTTL - testLease)
		if _, err := s.Get(ctx, "alice", d.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of task d past its TTL: %v; want ErrNotFound", err)
		}
		if g := get(t, s, "alice", e.ID); g.Status != Failed {
			t.Errorf("task e, not renewed, is %s; want failed", g.Status)
		}
		for range 5 {
			create(t, s, newTask("alice", clk.Now()), 5)
		}
		fresh()
	})

	t.Run("ReportGet", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(time.Second)
		p := Progress{Progress: 3, Total: 7, Message: "fetching"}
		if err := s.Report(ctx, rec.ID, p); err != nil {
			t.Fatalf("Report: %v", err)
		}
		got := get(t, s, "alice", rec.ID)
		if got.Progress == nil || *got.Progress != p || !got.UpdatedAt.Equal(clk.Now()) || got.Status != Working {
			t.Errorf("Get after Report = progress %+v, updated %v, %s; want %+v, %v, working", got.Progress, got.UpdatedAt, got.Status, p, clk.Now())
		}
		if err := s.Report(ctx, rec.ID, Progress{Progress: math.Inf(1)}); err == nil || !strings.Contains(err.Error(), "finite") {
			t.Errorf("Report of +Inf: %v; want an error about finite numbers", err)
		}
		if _, err := s.Finish(ctx, rec.ID, Completed, "", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Report(ctx, rec.ID, p); !errors.Is(err, ErrTerminal) {
			t.Errorf("Report after Finish: %v; want ErrTerminal", err)
		}
	})

	t.Run("FinishThenCancel", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(time.Second)
		result := json.RawMessage(`{"content":[{"type":"text","text":"hi"}],"isError":true}`)
		got, err := s.Finish(ctx, rec.ID, Completed, "", result)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if got.Status != Completed || string(got.Result) != string(result) || !got.UpdatedAt.Equal(clk.Now()) {
			t.Errorf("Finish returned %s with %s at %v; want completed with %s at %v", got.Status, got.Result, got.UpdatedAt, result, clk.Now())
		}
		got, err = s.Cancel(ctx, "alice", rec.ID, "too late")
		if !errors.Is(err, ErrTerminal) || got.Status != Completed {
			t.Errorf("Cancel after Finish = %s, %v; want the completed record, ErrTerminal", got.Status, err)
		}
		if _, err := s.Finish(ctx, rec.ID, Failed, "again", nil); !errors.Is(err, ErrTerminal) {
			t.Errorf("second Finish: %v; want ErrTerminal", err)
		}
		got = get(t, s, "alice", rec.ID)
		if got.Status != Completed || string(got.Result) != string(result) || got.StatusMessage != "" {
			t.Errorf("Get = %s %q with %s; want completed with the result", got.Status, got.StatusMessage, got.Result)
		}
	})

	t.Run("CancelThenFinish", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		got, err := s.Cancel(ctx, "alice", rec.ID, "the user cancelled it")
		if err != nil || got.Status != Cancelled || got.StatusMessage != "the user cancelled it" {
			t.Fatalf("Cancel = %s %q, %v; want cancelled with the message", got.Status, got.StatusMessage, err)
		}
		got, err = s.Finish(ctx, rec.ID, Completed, "", json.RawMessage(`{}`))
		if !errors.Is(err, ErrTerminal) || got.Status != Cancelled {
			t.Errorf("Finish after Cancel = %s, %v; want the cancelled record, ErrTerminal", got.Status, err)
		}
		if _, err := s.Cancel(ctx, "alice", rec.ID, "again"); !errors.Is(err, ErrTerminal) {
			t.Errorf("second Cancel: %v; want ErrTerminal", err)
		}
		got = get(t, s, "alice", rec.ID)
		if got.Status != Cancelled || got.Result != nil || got.StatusMessage != "the user cancelled it" {
			t.Errorf("Get = %s %q with %s; want cancelled with the first message and no result", got.Status, got.StatusMessage, got.Result)
		}
	})

	t.Run("FinishInvalid", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		for _, tc := range []struct {
			status Status
			result json.RawMessage
			msg    string
		}{
			{Working, nil, `status "working"; want`},
			{InputRequired, nil, `status "input_required"; want`},
			{"done", nil, `status "done"; want`},
			{Completed, json.RawMessage(`{"a":`), "not valid JSON"},
		} {
			if _, err := s.Finish(ctx, rec.ID, tc.status, "", tc.result); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Finish(%q, %s): %v; want an error containing %q", tc.status, tc.result, err, tc.msg)
			}
		}
		if got := get(t, s, "alice", rec.ID); got.Status != Working {
			t.Errorf("after invalid Finishes the task is %s; want working", got.Status)
		}
		// Each end status is allowed, with or without a result.
		for _, st := range []Status{Completed, Failed, Cancelled} {
			rec := create(t, s, newTask("alice", clk.Now()), 0)
			got, err := s.Finish(ctx, rec.ID, st, "why", nil)
			if err != nil || got.Status != st || got.StatusMessage != "why" || got.Result != nil {
				t.Errorf("Finish(%s) = %s %q %s, %v", st, got.Status, got.StatusMessage, got.Result, err)
			}
		}
	})

	t.Run("RaceFinishCancel", func(t *testing.T) {
		s, clk := setup(t)
		for i := range 50 {
			rec := create(t, s, newTask("alice", clk.Now()), 0)
			var finishErr, cancelErr error
			var finished, cancelled Record
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				finished, finishErr = s.Finish(ctx, rec.ID, Completed, "", json.RawMessage(`"r"`))
			})
			wg.Go(func() {
				<-start
				cancelled, cancelErr = s.Cancel(ctx, "alice", rec.ID, "stop")
			})
			close(start)
			wg.Wait()
			got := get(t, s, "alice", rec.ID)
			switch {
			case finishErr == nil && errors.Is(cancelErr, ErrTerminal):
				if got.Status != Completed || cancelled.Status != Completed || finished.Status != Completed {
					t.Errorf("%d: Finish won but the task is %s (Cancel saw %s)", i, got.Status, cancelled.Status)
				}
			case cancelErr == nil && errors.Is(finishErr, ErrTerminal):
				if got.Status != Cancelled || finished.Status != Cancelled || got.Result != nil {
					t.Errorf("%d: Cancel won but the task is %s with %s (Finish saw %s)", i, got.Status, got.Result, finished.Status)
				}
			default:
				t.Errorf("%d: Finish: %v, Cancel: %v; want exactly one to win and the other ErrTerminal", i, finishErr, cancelErr)
			}
		}
	})

	t.Run("LeaseExpiryGet", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(testLease) // at the lease: still held
		if got := get(t, s, "alice", rec.ID); got.Status != Working {
			t.Fatalf("at the end of its lease the task is %s; want working", got.Status)
		}
		clk.Advance(time.Millisecond)
		failedAt := clk.Now()
		// Several readers at once all see the same failure.
		var wg sync.WaitGroup
		got := make([]Record, 8)
		for i := range got {
			wg.Go(func() { got[i] = get(t, s, "alice", rec.ID) })
		}
		wg.Wait()
		wantMsg := leaseMessage("r1", rec.LeaseUntil)
		for i, g := range got {
			if g.Status != Failed || g.StatusMessage != wantMsg || !g.UpdatedAt.Equal(failedAt) {
				t.Errorf("reader %d: Get = %s %q at %v; want failed %q at %v", i, g.Status, g.StatusMessage, g.UpdatedAt, wantMsg, failedAt)
			}
		}
		clk.Advance(time.Minute)
		if g := get(t, s, "alice", rec.ID); g.Status != Failed || !g.UpdatedAt.Equal(failedAt) {
			t.Errorf("a later Get = %s at %v; want failed at %v, unchanged", g.Status, g.UpdatedAt, failedAt)
		}
		// The lease ran out: the replica can no longer finish it.
		if _, err := s.Finish(ctx, rec.ID, Completed, "", nil); !errors.Is(err, ErrTerminal) {
			t.Errorf("Finish after the lease ran out: %v; want ErrTerminal", err)
		}
	})

	t.Run("LeaseExpiryFinal", func(t *testing.T) {
		// Nobody read the task before its replica came back: the lease
		// still ran out, whoever touches the task first.
		for _, op := range []string{"finish", "report", "cancel", "renew"} {
			t.Run(op, func(t *testing.T) {
				s, clk := setup(t)
				rec := create(t, s, newTask("alice", clk.Now()), 0)
				clk.Advance(testLease + time.Second)
				var err error
				switch op {
				case "finish":
					_, err = s.Finish(ctx, rec.ID, Completed, "", nil)
				case "report":
					err = s.Report(ctx, rec.ID, Progress{Progress: 1})
				case "cancel":
					_, err = s.Cancel(ctx, "alice", rec.ID, "")
				case "renew":
					var stop []string
					stop, err = s.Renew(ctx, "r1", []string{rec.ID}, clk.Now().Add(time.Minute))
					if err == nil && !slices.Equal(stop, []string{rec.ID}) {
						t.Errorf("Renew stop = %v; want the task", stop)
					}
				}
				if op != "renew" && !errors.Is(err, ErrTerminal) {
					t.Errorf("%s after the lease ran out: %v; want ErrTerminal", op, err)
				}
				if g := get(t, s, "alice", rec.ID); g.Status != Failed || g.StatusMessage != leaseMessage("r1", rec.LeaseUntil) {
					t.Errorf("Get = %s %q; want failed for the lease", g.Status, g.StatusMessage)
				}
			})
		}
	})

	t.Run("LeaseExpiryList", func(t *testing.T) {
		s, clk := setup(t)
		expired := create(t, s, newTask("alice", clk.Now()), 0)
		done := create(t, s, newTask("alice", clk.Now()), 0)
		if _, err := s.Finish(ctx, done.ID, Completed, "", nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		fresh := create(t, s, newTask("alice", clk.Now()), 0)
		clk.Advance(testLease)
		recs, _, err := s.List(ctx, "alice", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]Record{}
		for _, r := range recs {
			status[r.ID] = r
		}
		if r := status[expired.ID]; r.Status != Failed || r.StatusMessage != leaseMessage("r1", expired.LeaseUntil) || !r.UpdatedAt.Equal(clk.Now()) {
			t.Errorf("List shows the expired task as %s %q at %v; want failed for the lease at %v", r.Status, r.StatusMessage, r.UpdatedAt, clk.Now())
		}
		if r := status[done.ID]; r.Status != Completed {
			t.Errorf("List shows the completed task as %s", r.Status)
		}
		if r := status[fresh.ID]; r.Status != Working {
			t.Errorf("List shows the task still leased as %s; want working", r.Status)
		}
		if g := get(t, s, "alice", expired.ID); g.Status != Failed || !g.UpdatedAt.Equal(clk.Now()) {
			t.Errorf("Get after List = %s at %v; want failed as List stored it", g.Status, g.UpdatedAt)
		}
	})

	t.Run("Renew", func(t *testing.T) {
		s, clk := setup(t)
		now := clk.Now()
		running := create(t, s, newTask("alice", now), 0)
		cancelled := create(t, s, newTask("alice", now), 0)
		finished := create(t, s, newTask("bob", now), 0)
		other := newTask("alice", now)
		other.Replica = "r2"
		other = create(t, s, other, 0)
		short := newTask("alice", now)
		short.TTL = 10 * time.Second
		short = create(t, s, short, 0)
		if _, err := s.Cancel(ctx, "alice", cancelled.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, finished.ID, Failed, "timeout", nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(20 * time.Second) // short is past its TTL
		until := clk.Now().Add(time.Minute)
		ids := []string{running.ID, cancelled.ID, finished.ID, other.ID, short.ID, "never-was", "not valid!"}
		stop, err := s.Renew(ctx, "r1", ids, until)
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		slices.Sort(stop)
		want := []string{cancelled.ID, finished.ID, other.ID, short.ID, "never-was", "not valid!"}
		slices.Sort(want)
		if !slices.Equal(stop, want) {
			t.Errorf("Renew stop = %v; want %v", stop, want)
		}
		// The running task now holds its lease past the first one.
		clk.Advance(time.Minute - time.Second)
		g := get(t, s, "alice", running.ID)
		if g.Status != Working || !g.LeaseUntil.Equal(until) {
			t.Errorf("renewed task = %s leased until %v; want working until %v", g.Status, g.LeaseUntil, until)
		}
		if g := get(t, s, "alice", other.ID); g.Status != Failed || !strings.Contains(g.StatusMessage, `"r2"`) {
			t.Errorf("r2's task, not renewed = %s %q; want failed naming r2", g.Status, g.StatusMessage)
		}
		if stop, err := s.Renew(ctx, "r1", nil, until); err != nil || len(stop) != 0 {
			t.Errorf("Renew of no tasks = %v, %v", stop, err)
		}
		if _, err := s.Renew(ctx, "r1", []string{running.ID}, time.Time{}); err == nil {
			t.Error("Renew until the zero time succeeded; want an error")
		}
	})

	t.Run("TTLExpiry", func(t *testing.T) {
		s, clk := setup(t)
		rec := newTask("alice", clk.Now())
		rec.LeaseUntil = clk.Now().Add(2 * testTTL)
		rec = create(t, s, rec, 1)
		if _, err := s.Finish(ctx, rec.ID, Completed, "", json.RawMessage(`1`)); err != nil {
			t.Fatal(err)
		}
		running := newTask("alice", clk.Now())
		running.LeaseUntil = clk.Now().Add(2 * testTTL)
		running = create(t, s, running, 0)
		clk.Advance(testTTL - time.Millisecond)
		get(t, s, "alice", rec.ID)
		clk.Advance(time.Millisecond)
		for _, id := range []string{rec.ID, running.ID} {
			if _, err := s.Get(ctx, "alice", id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get past the TTL: %v; want ErrNotFound", err)
			}
			if _, err := s.Cancel(ctx, "alice", id, ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("Cancel past the TTL: %v; want ErrNotFound", err)
			}
			if _, err := s.Finish(ctx, id, Completed, "", nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("Finish past the TTL: %v; want ErrNotFound", err)
			}
		}
		if recs, _, err := s.List(ctx, "alice", "", 0); err != nil || len(recs) != 0 {
			t.Errorf("List past the TTL = %v, %v; want nothing", recs, err)
		}
		// The running task's slot is free again.
		create(t, s, newTask("alice", clk.Now()), 1)
	})

	t.Run("Copies", func(t *testing.T) {
		s, clk := setup(t)
		rec := newTask("alice", clk.Now())
		rec.Progress = &Progress{Progress: 1}
		got := create(t, s, rec, 0)
		rec.Progress.Progress = 99
		got.Progress.Progress = 98
		result := json.RawMessage(`"abc"`)
		fin, err := s.Finish(ctx, got.ID, Completed, "", result)
		if err != nil {
			t.Fatal(err)
		}
		result[1] = 'X'
		fin.Result[2] = 'Y'
		g := get(t, s, "alice", got.ID)
		if g.Progress.Progress != 1 || string(g.Result) != `"abc"` {
			t.Errorf("Get = progress %v, result %s; want 1 and \"abc\", unchanged by the caller", g.Progress.Progress, g.Result)
		}
		g.Result[1] = 'Z'
		if g := get(t, s, "alice", got.ID); string(g.Result) != `"abc"` {
			t.Errorf("Get after changing a returned result = %s", g.Result)
		}
	})

	t.Run("BigResult", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		result := json.RawMessage(fmt.Sprintf(`{"text":%q}`, strings.Repeat("x", 4<<20)))
		if _, err := s.Finish(ctx, rec.ID, Completed, "", result); err != nil {
			t.Fatal(err)
		}
		if g := get(t, s, "alice", rec.ID); string(g.Result) != string(result) {
			t.Errorf("Get returned a result of %d bytes; want the %d stored", len(g.Result), len(result))
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s, clk := setup(t)
		rec := create(t, s, newTask("alice", clk.Now()), 0)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Get(cctx, "alice", rec.ID); !errors.Is(err, context.Canceled) {
			t.Errorf("Get with a canceled context: %v; want context.Canceled", err)
		}
	})
}
