package plugins

import (
	"github.com/tetratelabs/wazero/experimental"
)

// guestMemory backs an instance's linear memory and refuses to grow past
// the call's budget, so memory.grow fails in the guest instead of the host
// running out.
//
// Where the platform allows (Linux), the memory is a private mapping
// reserved up to the budget: growing it copies nothing, untouched pages
// cost nothing, and Free gives the pages back to the system at once instead
// of leaving them to the Go garbage collector. A memory image (see image)
// is then mapped copy-on-write, so starting an instance from it costs a
// system call, not a copy. Elsewhere the memory is a Go slice that grows
// geometrically (the Go runtime grows its heap in small steps, and copying
// the whole memory at every step is quadratic).
type guestMemory struct {
	budget *budget
	max    uint64
	buf    []byte // heap: the backing array; mapped: the whole reservation
	size   uint64
	mapped bool
}

var _ experimental.LinearMemory = (*guestMemory)(nil)

func (m *guestMemory) Reallocate(size uint64) []byte {
	if size <= m.size {
		return m.buf[:size]
	}
	if size > m.max || !m.budget.Grow(int64(size-m.size)) {
		return nil
	}
	if m.mapped {
		if size > uint64(len(m.buf)) {
			m.budget.Grow(-int64(size - m.size))
			m.budget.refused = true
			return nil
		}
		m.size = size
		return m.buf[:size]
	}
	if size > uint64(cap(m.buf)) {
		c := max(size, 2*uint64(cap(m.buf)))
		c = min(c, max(size, uint64(m.budget.limit)), m.max)
		nb := make([]byte, size, c)
		copy(nb, m.buf[:m.size])
		m.buf = nb
	}
	m.buf = m.buf[:size]
	m.size = size
	return m.buf
}

// Free is wazero saying the instance is closed. It may come from another
// goroutine (Runtime.Close closes every instance) while the instance's
// owner still touches the memory, so the pages stay mapped until the owner
// calls release.
func (m *guestMemory) Free() {}

// release gives the memory back; the owning instance calls it after
// closing its module.
func (m *guestMemory) release() {
	buf, mapped := m.buf, m.mapped
	m.buf, m.size, m.mapped = nil, 0, false
	if mapped {
		release(buf)
	}
}

// restore makes the memory's first len(img.mem) bytes those of img. The
// memory must already be img's size.
func (m *guestMemory) restore(img *image) error {
	if m.mapped && img.file != nil {
		return img.file.mapInto(m.buf[:len(img.mem)])
	}
	for _, r := range img.runs {
		copy(m.buf[r.from:r.to], img.mem[r.from:r.to])
	}
	return nil
}

// allocator gives each instance a guestMemory under its budget and keeps it
// where the instance can reach it (to restore an image into it).
type allocator struct {
	budget *budget
	slot   **guestMemory
}

func (a allocator) Allocate(_, maxBytes uint64) experimental.LinearMemory {
	m := &guestMemory{budget: a.budget, max: maxBytes}
	if n := min(maxBytes, roundPages(uint64(a.budget.limit))); n > 0 {
		if buf, err := reserve(n); err == nil {
			m.buf, m.mapped = buf, true
		}
	}
	if a.slot != nil {
		*a.slot = m
	}
	return m
}

func roundPages(n uint64) uint64 { return (n + wasmPage - 1) / wasmPage * wasmPage }
