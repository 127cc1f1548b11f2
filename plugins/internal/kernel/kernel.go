// Package kernel is the host-side memory that the Extism ABI gives every
// plugin instance: blocks addressed by 64-bit offsets, separate from the
// guest's linear memory, plus the call's input, output and error.
//
// Extism implements this as a Wasm module of its own ("the kernel"); Warden
// keeps it as a Go byte slice, which costs no instantiation and lets the
// bytes count against the call's memory budget.
package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Budget decides whether the arena may grow. Grow is called with the number
// of additional bytes wanted and reports whether they fit.
type Budget interface {
	Grow(delta int64) bool
}

// ErrOutOfMemory is returned (and wrapped) when an allocation does not fit
// in the call's memory budget.
var ErrOutOfMemory = errors.New("out of host memory")

// ErrBadAccess is wrapped by errors for reads or writes outside the arena.
var ErrBadAccess = errors.New("invalid host memory access")

const (
	base     = 8  // offsets below base are never handed out: 0 means "no block"
	minClass = 16 // smallest block capacity
	maxBlock = 1 << 40
)

type block struct {
	length   uint64
	capacity uint64
	live     bool
}

// Arena is one instance's host memory. It is not safe for concurrent use;
// a plugin instance runs one call on one goroutine.
type Arena struct {
	mem    []byte
	blocks map[uint64]*block
	free   map[uint64][]uint64 // capacity class -> offsets of freed blocks
	budget Budget
	input  uint64 // offset of the input block, 0 when there is none
}

// New returns an empty arena whose growth is checked against budget (nil
// means unlimited).
func New(budget Budget) *Arena {
	return &Arena{mem: make([]byte, base, 4096), blocks: map[uint64]*block{}, free: map[uint64][]uint64{}, budget: budget}
}

// Size is the number of bytes the arena holds.
func (a *Arena) Size() int { return len(a.mem) }

func class(n uint64) uint64 {
	if n <= minClass {
		return minClass
	}
	return 1 << bits.Len64(n-1)
}

// Alloc returns the offset of a new block of n bytes.
func (a *Arena) Alloc(n uint64) (uint64, error) {
	if n > maxBlock {
		return 0, fmt.Errorf("%w: allocation of %d bytes", ErrOutOfMemory, n)
	}
	c := class(n)
	if list := a.free[c]; len(list) > 0 {
		off := list[len(list)-1]
		a.free[c] = list[:len(list)-1]
		b := a.blocks[off]
		b.length, b.live = n, true
		clear(a.mem[off : off+c])
		return off, nil
	}
	off := uint64(len(a.mem))
	if a.budget != nil && !a.budget.Grow(int64(c)) {
		return 0, fmt.Errorf("%w: allocation of %d bytes", ErrOutOfMemory, n)
	}
	a.mem = append(a.mem, make([]byte, c)...)
	a.blocks[off] = &block{length: n, capacity: c, live: true}
	return off, nil
}

// Free releases the block at off for reuse. Freeing anything that is not a
// live block is ignored, as in Extism.
func (a *Arena) Free(off uint64) {
	b, ok := a.blocks[off]
	if !ok || !b.live || off == a.input {
		return
	}
	b.live = false
	a.free[b.capacity] = append(a.free[b.capacity], off)
}

// Length returns the length of the live block at off, or 0.
func (a *Arena) Length(off uint64) uint64 {
	if b, ok := a.blocks[off]; ok && b.live {
		return b.length
	}
	return 0
}

func (a *Arena) check(off, n uint64) error {
	if off < base || off+n < off || off+n > uint64(len(a.mem)) {
		return fmt.Errorf("%w: %d bytes at offset %d (arena holds %d bytes)", ErrBadAccess, n, off, len(a.mem))
	}
	return nil
}

// LoadU8 reads the byte at off.
func (a *Arena) LoadU8(off uint64) (byte, error) {
	if err := a.check(off, 1); err != nil {
		return 0, err
	}
	return a.mem[off], nil
}

// LoadU64 reads 8 little-endian bytes at off.
func (a *Arena) LoadU64(off uint64) (uint64, error) {
	if err := a.check(off, 8); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(a.mem[off:]), nil
}

// StoreU8 writes one byte at off.
func (a *Arena) StoreU8(off uint64, v byte) error {
	if err := a.check(off, 1); err != nil {
		return err
	}
	a.mem[off] = v
	return nil
}

// StoreU64 writes 8 little-endian bytes at off.
func (a *Arena) StoreU64(off, v uint64) error {
	if err := a.check(off, 8); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(a.mem[off:], v)
	return nil
}

// Bytes returns the n bytes at off without copying; the slice is valid
// until the next Alloc.
func (a *Arena) Bytes(off, n uint64) ([]byte, error) {
	if err := a.check(off, n); err != nil {
		return nil, err
	}
	return a.mem[off : off+n : off+n], nil
}

// Block returns the contents of the live block at off without copying, or an
// error when off is not a live block.
func (a *Arena) Block(off uint64) ([]byte, error) {
	b, ok := a.blocks[off]
	if !ok || !b.live {
		return nil, fmt.Errorf("%w: offset %d is not an allocated block", ErrBadAccess, off)
	}
	return a.mem[off : off+b.length : off+b.length], nil
}

// Write allocates a block holding a copy of p and returns its offset.
func (a *Arena) Write(p []byte) (uint64, error) {
	off, err := a.Alloc(uint64(len(p)))
	if err != nil {
		return 0, err
	}
	copy(a.mem[off:], p)
	return off, nil
}

// SetInput stores the call's input in a block of its own.
func (a *Arena) SetInput(p []byte) error {
	off, err := a.Write(p)
	if err != nil {
		return err
	}
	a.input = off
	return nil
}

// InputOffset is the offset of the input block (0 when there is no input).
func (a *Arena) InputOffset() uint64 { return a.input }

// InputLength is the input's length in bytes.
func (a *Arena) InputLength() uint64 { return a.Length(a.input) }

// InputLoadU8 reads byte i of the input.
func (a *Arena) InputLoadU8(i uint64) (byte, error) {
	if i >= a.InputLength() {
		return 0, fmt.Errorf("%w: input byte %d of %d", ErrBadAccess, i, a.InputLength())
	}
	return a.mem[a.input+i], nil
}

// InputLoadU64 reads 8 little-endian bytes of the input starting at i.
// Bytes past the end of the input read as zero, because PDKs read the
// input in 8-byte words and the last word may run past its end.
func (a *Arena) InputLoadU64(i uint64) (uint64, error) {
	n := a.InputLength()
	if i >= n {
		return 0, fmt.Errorf("%w: input bytes %d..%d of %d", ErrBadAccess, i, i+8, n)
	}
	var word [8]byte
	copy(word[:], a.mem[a.input+i:a.input+n])
	return binary.LittleEndian.Uint64(word[:]), nil
}

// Reset frees every block, as Extism's reset does; the input stays.
func (a *Arena) Reset() {
	for off, b := range a.blocks {
		if b.live && off != a.input {
			b.live = false
			a.free[b.capacity] = append(a.free[b.capacity], off)
		}
	}
}
