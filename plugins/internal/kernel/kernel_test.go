package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

type capBudget struct{ left int64 }

func (b *capBudget) Grow(d int64) bool {
	if d > b.left {
		return false
	}
	b.left -= d
	return true
}

func TestAllocLoadStore(t *testing.T) {
	a := New(nil)
	off, err := a.Alloc(10)
	if err != nil || off == 0 {
		t.Fatalf("Alloc = %d, %v", off, err)
	}
	if a.Length(off) != 10 {
		t.Fatalf("Length = %d", a.Length(off))
	}
	if err := a.StoreU64(off, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if err := a.StoreU8(off+8, 9); err != nil {
		t.Fatal(err)
	}
	v, _ := a.LoadU64(off)
	b, _ := a.LoadU8(off + 8)
	if v != 0x0102030405060708 || b != 9 {
		t.Fatalf("loaded %x %d", v, b)
	}
	blk, _ := a.Block(off)
	if len(blk) != 10 || blk[0] != 8 {
		t.Fatalf("Block = % x", blk)
	}
	a.Free(off)
	if a.Length(off) != 0 {
		t.Fatal("freed block still has a length")
	}
	// A freed block of the same class is reused, zeroed.
	off2, _ := a.Alloc(12)
	if off2 != off {
		t.Fatalf("Alloc after Free = %d, want reuse of %d", off2, off)
	}
	if blk, _ := a.Block(off2); !bytes.Equal(blk, make([]byte, 12)) {
		t.Fatalf("reused block not zeroed: % x", blk)
	}
}

func TestBadAccess(t *testing.T) {
	a := New(nil)
	off, _ := a.Alloc(8)
	tests := []struct {
		name string
		err  error
	}{
		{"load at 0", func() error { _, err := a.LoadU8(0); return err }()},
		{"load past end", func() error { _, err := a.LoadU64(off + 12); return err }()},
		{"store past end", a.StoreU64(1<<40, 1)},
		{"overflowing range", func() error { _, err := a.Bytes(off, ^uint64(0)); return err }()},
		{"block that is not one", func() error { _, err := a.Block(off + 1); return err }()},
		{"input without input", func() error { _, err := a.InputLoadU8(0); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrBadAccess) {
			t.Errorf("%s: err = %v, want ErrBadAccess", tt.name, tt.err)
		}
	}
}

func TestBudget(t *testing.T) {
	a := New(&capBudget{left: 100})
	if _, err := a.Alloc(64); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Alloc(64); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("second Alloc err = %v, want ErrOutOfMemory", err)
	}
	if _, err := New(nil).Alloc(1 << 41); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("huge Alloc err = %v", err)
	}
}

func TestInput(t *testing.T) {
	a := New(nil)
	in := []byte("0123456789")
	if err := a.SetInput(in); err != nil {
		t.Fatal(err)
	}
	if a.InputLength() != 10 || a.InputOffset() == 0 {
		t.Fatalf("input length %d offset %d", a.InputLength(), a.InputOffset())
	}
	w, _ := a.InputLoadU64(8) // runs past the end: the rest reads as zero
	if w != uint64('8')|uint64('9')<<8 {
		t.Fatalf("InputLoadU64(8) = %x", w)
	}
	a.Free(a.InputOffset())
	a.Reset()
	if a.InputLength() != 10 {
		t.Fatal("the input was freed")
	}
}

// FuzzArena runs random operation sequences and checks the arena's
// invariants: no operation panics and live blocks never overlap.
func FuzzArena(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 2, 5})
	f.Add([]byte{0, 200, 0, 3, 3, 0, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		a := New(&capBudget{left: 1 << 20})
		var live []uint64
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%5, uint64(ops[i+1])
			switch op {
			case 0:
				n := arg * 7
				off, err := a.Alloc(n)
				if err != nil {
					continue
				}
				for _, o := range live {
					if l := a.Length(o); n > 0 && l > 0 && off < o+l && o < off+n {
						t.Fatalf("block %d+%d overlaps %d+%d", off, n, o, l)
					}
				}
				live = append(live, off)
			case 1:
				if len(live) > 0 {
					j := int(arg) % len(live)
					a.Free(live[j])
					live = append(live[:j], live[j+1:]...)
				}
			case 2:
				a.LoadU64(arg)
				a.StoreU64(arg, arg)
			case 3:
				a.Block(arg)
				a.Length(arg)
			case 4:
				var buf [8]byte
				binary.LittleEndian.PutUint64(buf[:], arg)
				if off, err := a.Write(buf[:]); err == nil {
					if got, _ := a.LoadU64(off); got != arg {
						t.Fatalf("Write then LoadU64 = %d, want %d", got, arg)
					}
					live = append(live, off)
				}
			}
		}
	})
}
