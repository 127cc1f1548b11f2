package plugins

import (
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wardenmcp/warden/internal/wasmbin"
)

// guestMemory backs an instance's linear memory and refuses to grow past
// the call's budget, so memory.grow fails in the guest instead of the host
// running out. The backing array grows geometrically (never past the
// budget), because the Go runtime grows its heap in small steps and copying
// the whole memory at every step is quadratic.
//
// An instance started from a memory image gets, when there is one, the
// array of an earlier instance of the same image (img.free): it is already
// in memory, so the copy of the image into it takes no page faults, and
// getting it changes no page table. Both are what made calls slow under
// concurrency here (RATIONALE.md).
type guestMemory struct {
	budget   *budget
	max      uint64
	buf      []byte
	size     uint64
	img      *image // the image the instance starts from, or nil
	recycled bool   // buf comes from img.free
}

var _ experimental.LinearMemory = (*guestMemory)(nil)

func (m *guestMemory) Reallocate(size uint64) []byte {
	if size <= m.size {
		return m.buf[:size]
	}
	if size > m.max || !m.budget.Grow(int64(size-m.size)) {
		return nil
	}
	if size > uint64(cap(m.buf)) {
		c := max(size, 2*uint64(cap(m.buf)))
		c = min(c, max(size, uint64(m.budget.limit)), m.max)
		nb := make([]byte, size, c)
		copy(nb, m.buf[:m.size])
		m.buf = nb
	}
	// A recycled array is zero past what its last instance used (putCopy),
	// so growing within it needs no clearing.
	m.buf = m.buf[:size]
	m.size = size
	return m.buf
}

// Free is wazero saying the instance is closed. It may come from another
// goroutine (Runtime.Close closes every instance) while the instance's
// owner still touches the memory, so the array is only given back when
// the owner calls release.
func (m *guestMemory) Free() {}

// release gives the memory back (to the image's free list, if any); the
// owning instance calls it after closing its module.
func (m *guestMemory) release() {
	buf, size, img := m.buf, m.size, m.img
	m.buf, m.size, m.img = nil, 0, nil
	if img != nil {
		img.put(buf, size) // also when buf is nil: put counts the array back
	}
}

// restore makes the memory's first len(img.mem) bytes those of img. The
// memory must already be img's size.
func (m *guestMemory) restore(img *image) {
	// The image's non-zero pages are copied; in a recycled array, which
	// the last instance may have written anywhere, the pages between them
	// are cleared too (a new array is zero already).
	from := 0
	for _, r := range img.runs {
		if m.recycled {
			clear(m.buf[from:r.from])
		}
		copy(m.buf[r.from:r.to], img.mem[r.from:r.to])
		from = r.to
	}
	if m.recycled {
		clear(m.buf[from:len(img.mem)])
	}
}

// restoreRegions makes the tracked regions whose bits are set in regions
// (wasmbin.TrackShift) those of img, each with the 15 bytes after it,
// where a store that started in the region may have reached. The memory
// must be img's size.
func (m *guestMemory) restoreRegions(img *image, regions uint64) {
	const size = 1 << wasmbin.TrackShift
	n := len(img.mem)
	for bit := 0; bit < 64; bit++ {
		if regions&(1<<bit) == 0 {
			continue
		}
		for from := bit * size; from < n; from += 64 * size {
			to := min(from+size+15, n)
			copy(m.buf[from:to], img.mem[from:to])
		}
	}
}

// allocator gives each instance a guestMemory under its budget and keeps it
// where the instance can reach it (to restore an image into it).
type allocator struct {
	budget *budget
	slot   **guestMemory
	img    *image // the image the instance starts from, or nil
}

func (a allocator) Allocate(_, maxBytes uint64) experimental.LinearMemory {
	m := &guestMemory{budget: a.budget, max: maxBytes, img: a.img}
	if buf := a.img.get(); buf != nil {
		m.buf, m.recycled = buf, true
	} else if a.img != nil {
		// Room for the image only: growing is rare (the SDK leaves heap
		// headroom in the image, and an instance that grew is not
		// recycled), while slack in every array is resident memory, since
		// the allocator zeroes a reused span whole.
		m.buf = make([]byte, 0, min(roundPages(uint64(len(a.img.mem))), maxBytes))
	}
	if a.slot != nil {
		*a.slot = m
	}
	return m
}

func roundPages(n uint64) uint64 { return (n + wasmPage - 1) / wasmPage * wasmPage }
