package plugins

import (
	"context"
	"sync/atomic"
)

// gate admits at most cap(slots) calls at once and lets at most maxWaiting
// more wait for a slot; anyone beyond that is turned away at once, so a
// burst costs a quick "busy" answer instead of memory.
type gate struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

func newGate(running, waiting int) *gate {
	return &gate{slots: make(chan struct{}, running), maxWaiting: int64(waiting)}
}

// enter waits for a slot. It returns errBusy when the queue is full, or the
// context's error when the caller gives up first.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	if g.waiting.Add(1) > g.maxWaiting {
		g.waiting.Add(-1)
		return ErrBusy
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) leave() { <-g.slots }
