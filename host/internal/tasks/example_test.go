package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardenmcp/warden/host/internal/tasks"
)

func ExampleMemory() {
	ctx := context.Background()
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	store := tasks.NewMemory(tasks.MemoryOptions{Now: func() time.Time { return now }})
	defer store.Close()

	// A replica starts a task for alice, leased to it for 30 seconds.
	rec, err := store.Create(ctx, tasks.Record{
		Owner:        "alice",
		Tool:         "github.search",
		TTL:          time.Hour,
		PollInterval: 2 * time.Second,
		Replica:      "warden-1",
		LeaseUntil:   now.Add(30 * time.Second),
	}, 10)
	if err != nil {
		panic(err)
	}
	store.Report(ctx, rec.ID, tasks.Progress{Progress: 1, Total: 2, Message: "searching"})
	got, _ := store.Get(ctx, "alice", rec.ID)
	fmt.Println(got.Status, got.Progress.Message)

	// Only alice sees it.
	_, err = store.Get(ctx, "mallory", rec.ID)
	fmt.Println(errors.Is(err, tasks.ErrNotFound))

	// The call ends; a cancel that comes after is too late.
	store.Finish(ctx, rec.ID, tasks.Completed, "", json.RawMessage(`{"content":[]}`))
	got, err = store.Cancel(ctx, "alice", rec.ID, "never mind")
	fmt.Println(got.Status, errors.Is(err, tasks.ErrTerminal))

	// A task whose replica stops renewing its lease is failed by the next
	// reader.
	rec, _ = store.Create(ctx, tasks.Record{
		Owner: "alice", Tool: "github.search", TTL: time.Hour,
		Replica: "warden-2", LeaseUntil: now.Add(30 * time.Second),
	}, 10)
	now = now.Add(time.Minute)
	got, _ = store.Get(ctx, "alice", rec.ID)
	fmt.Println(got.Status)
	fmt.Println(got.StatusMessage)
	// Output:
	// working searching
	// true
	// completed true
	// failed
	// the replica "warden-2" running it stopped renewing its lease at 2031-05-06T07:08:39Z; it probably stopped or lost the task store
}
