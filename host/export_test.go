package host

import (
	"time"

	"github.com/wardenmcp/warden/host/internal/tasks"
)

// UseTaskClock gives s a fresh in-memory task store whose clock is now, so
// that tests can run TTLs and leases out without waiting. Call it before
// any task starts.
func UseTaskClock(s *Server, now func() time.Time) {
	s.tasks.store = tasks.NewMemory(tasks.MemoryOptions{Now: now})
}
