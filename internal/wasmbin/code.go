package wasmbin

import (
	"errors"
	"fmt"
)

// CodeFacts is what ScanCode found in a module's function bodies.
type CodeFacts struct {
	// TableWrites: some function may change a table: table.set (0x26), or 0xFC
	// sub-opcodes 12 table.init, 13 elem.drop, 14 table.copy, 15 table.grow, 17 table.fill.
	TableWrites bool
	// SegmentOps: some function uses memory.init (0xFC 8) or data.drop (0xFC 9).
	SegmentOps bool
}

// ScanCode decodes every instruction of every function body of module b and
// reports whether any of them may change a table or use a passive data
// segment.
//
// The host reuses an instance only when it can reset all of its state, and
// neither tables nor the dropped state of element and data segments can be
// reset through the runtime's API: a module that may change them must not be
// reused. ScanCode must therefore never miss an instruction, and it refuses
// what it cannot decode rather than guess: an opcode, sub-opcode or type it
// does not know makes it return an error wrapping ErrUnsupported (the caller
// then treats the module as not reusable), and a body that is truncated, or
// whose instructions run past its end, an error wrapping ErrMalformed. It
// decodes instructions in sequence without checking block nesting, operand
// types or indices; that is the runtime's job, and an invalid module is never
// instantiated.
//
// Only instructions are looked at: whether a table the module imports or
// exports can be changed from outside is for the caller to check. A module
// without a code section has no facts and no error.
func ScanCode(b []byte) (CodeFacts, error) {
	var s codeScan
	_, err := s.scan(b)
	return s.facts, err
}

// codeScan is what one pass over a module's function bodies gathers.
type codeScan struct {
	facts CodeFacts
	// marks asks for checks and globalSets to be filled in.
	marks bool
	// checks are the offsets in the code section's payload where
	// AddInterruptChecks puts a check, in order: each body's first
	// instruction unless that is a loop, and the instruction after each
	// loop's block type.
	checks []int
	// globalSets is one more than the highest global index a global.set
	// names, 0 when there is none.
	globalSets uint64
}

// scan decodes every function body of module b. It returns the code
// section, nil when there is none.
func (s *codeScan) scan(b []byte) (*Section, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	var code *Section
	for i := range secs {
		if secs[i].ID != secCode {
			continue
		}
		if code != nil {
			return nil, fmt.Errorf("%w: a second code section at offset %d; want at most one", ErrMalformed, secs[i].Start)
		}
		code = &secs[i]
	}
	if code == nil {
		return nil, nil
	}
	base := code.End - len(code.Payload) // offset of the payload in b
	r := &reader{b: code.Payload}
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("%w: code section at offset %d: want a function count, found %v", ErrMalformed, base, err)
	}
	for i := uint32(0); i < n; i++ {
		at := r.pos
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("%w: function body %d at offset %d: want a body size, found %v", ErrMalformed, i, base+at, err)
		}
		if uint64(size) > uint64(len(r.b)-r.pos) {
			return nil, fmt.Errorf("%w: function body %d at offset %d is %d bytes but only %d remain in the code section", ErrMalformed, i, base+at, size, len(r.b)-r.pos)
		}
		body := &reader{b: r.b[r.pos : r.pos+int(size)]}
		if err := s.body(body, base, r.pos, i); err != nil {
			return nil, err
		}
		r.pos += int(size)
	}
	if r.pos != len(r.b) {
		return nil, fmt.Errorf("%w: code section: want its end at offset %d, after the last of %d function bodies, found %d more bytes", ErrMalformed, base+r.pos, n, len(r.b)-r.pos)
	}
	return code, nil
}

// Kinds of immediates that follow a one-byte opcode, as listed in opImm.
const (
	immUnknown   = iota // not an opcode ScanCode knows
	immNone             // no immediates
	immU32              // one index or depth
	immI32              // signed 32-bit LEB128
	immI64              // signed 64-bit LEB128 (the last of the one-LEB128 kinds)
	immMemarg           // alignment (and memory index), offset
	immBlockType        // block, loop, if
	immU32x2            // two indices
	immBrTable          // vec of label depths, then a default
	immSelectT          // vec of value types
	immF32              // 4 bytes
	immF64              // 8 bytes
	immRefNull          // heap type
	immTableSet         // table index; changes a table
	immPrefixFC         // bulk memory, tables, saturating truncation
	immPrefixFD         // SIMD
	immPrefixFE         // threads and atomics
)

// opImm maps each one-byte opcode to the kind of its immediates.
var opImm = func() (t [256]uint8) {
	set := func(kind uint8, ops ...byte) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	setRange := func(kind uint8, lo, hi byte) {
		for op := int(lo); op <= int(hi); op++ {
			t[op] = kind
		}
	}
	// unreachable, nop, else, throw_ref, end, return, drop, select,
	// ref.is_null.
	set(immNone, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1)
	setRange(immNone, 0x45, 0xc4) // numeric instructions, sign extension
	set(immBlockType, 0x02, 0x03, 0x04)
	// throw, br, br_if, call, return_call, local.get/set/tee,
	// global.get/set, table.get, memory.size/grow, ref.func.
	set(immU32, 0x08, 0x0c, 0x0d, 0x10, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x3f, 0x40, 0xd2)
	set(immU32x2, 0x11, 0x13) // call_indirect, return_call_indirect
	set(immBrTable, 0x0e)
	set(immSelectT, 0x1c)
	setRange(immMemarg, 0x28, 0x3e) // loads and stores
	set(immI32, 0x41)
	set(immI64, 0x42)
	set(immF32, 0x43)
	set(immF64, 0x44)
	set(immRefNull, 0xd0)
	set(immTableSet, 0x26)
	set(immPrefixFC, 0xfc)
	set(immPrefixFD, 0xfd)
	set(immPrefixFE, 0xfe)
	return t
}()

// isValType reports whether c is a value type of one byte: i32, i64, f32,
// f64, v128, funcref or externref.
func isValType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

// body decodes one function body, r holding exactly its bytes, which
// start at offset off of the code section's payload, itself at offset base
// of the module; fn is the body's index in the code section.
func (s *codeScan) body(r *reader, base, off int, fn uint32) error {
	base += off // offsets in errors are the module's
	n, err := r.u32()
	if err != nil {
		return fmt.Errorf("%w: function body %d at offset %d: want a count of local declarations, found %v", ErrMalformed, fn, base, err)
	}
	for i := uint32(0); i < n; i++ {
		if _, err := r.u32(); err != nil {
			return fmt.Errorf("%w: function body %d: local declaration %d at offset %d: want a count, found %v", ErrMalformed, fn, i, base+r.pos, err)
		}
		at := r.pos
		t, err := r.byte()
		if err != nil {
			return fmt.Errorf("%w: function body %d: local declaration %d at offset %d: want a value type, found the end of the body", ErrMalformed, fn, i, base+at)
		}
		if !isValType(t) {
			return fmt.Errorf("%w: function body %d: local declaration %d at offset %d: want a one-byte value type, found 0x%02x", ErrUnsupported, fn, i, base+at, t)
		}
	}
	b, pos := r.b, r.pos
	if s.marks && (pos >= len(b) || b[pos] != opLoop) {
		s.checks = append(s.checks, off+pos)
	}
	for pos < len(b) {
		op := b[pos]
		// The commonest instructions, with their commonest immediates (of
		// one byte), are decoded here; instr does the rest.
		switch k := opImm[op]; {
		case k == immNone:
			pos++
			continue
		case k >= immU32 && k <= immI64 && pos+1 < len(b) && b[pos+1] < 0x80:
			if op == opGlobalSet {
				s.globalSets = max(s.globalSets, uint64(b[pos+1])+1)
			}
			pos += 2
			continue
		case k == immMemarg && pos+2 < len(b) && b[pos+1] < 0x40 && b[pos+2] < 0x80:
			pos += 3
			continue
		}
		r.pos = pos + 1
		if err := s.instr(r, op, base, pos, fn); err != nil {
			return err
		}
		pos = r.pos
		if op == opLoop && s.marks {
			s.checks = append(s.checks, off+pos)
		}
	}
	return nil
}

// Opcodes the scan looks for.
const (
	opLoop      = 0x03
	opGlobalSet = 0x24
)

// instr decodes the immediates of opcode op, which is at offset at of
// function body fn (the body being at offset base of the module), r being
// just past it.
func (s *codeScan) instr(r *reader, op byte, base, at int, fn uint32) error {
	facts := &s.facts
	var err error
	switch opImm[op] {
	case immNone:
	case immU32:
		var idx uint32
		if idx, err = r.fastU32(); err == nil && op == opGlobalSet && uint64(idx) >= s.globalSets {
			s.globalSets = uint64(idx) + 1
		}
	case immMemarg:
		err = r.memarg()
	case immI32:
		err = r.skipLEB(32)
	case immBlockType:
		if r.pos < len(r.b) && (r.b[r.pos] == 0x40 || isValType(r.b[r.pos])) {
			r.pos++
			break
		}
		var idx int64
		if idx, err = r.sleb(33); err == nil && idx < 0 {
			return fmt.Errorf("%w: function body %d: opcode 0x%02x at offset %d: want a block type (0x40, a one-byte value type or a type index), found %d", ErrUnsupported, fn, op, base+at, idx)
		}
	case immU32x2:
		if _, err = r.fastU32(); err == nil {
			_, err = r.fastU32()
		}
	case immI64:
		err = r.skipLEB(64)
	case immF32:
		err = r.skip(4)
	case immF64:
		err = r.skip(8)
	case immBrTable:
		var k uint32
		k, err = r.fastU32()
		for j := uint32(0); err == nil && j <= k; j++ { // k targets, then the default
			_, err = r.fastU32()
		}
	case immSelectT:
		var k uint32
		k, err = r.fastU32()
		for j := uint32(0); err == nil && j < k; j++ {
			var t byte
			if t, err = r.byte(); err == nil && !isValType(t) {
				return fmt.Errorf("%w: function body %d: select at offset %d: want a one-byte value type, found 0x%02x", ErrUnsupported, fn, base+at, t)
			}
		}
	case immRefNull:
		var t byte
		if t, err = r.byte(); err == nil && t != 0x70 && t != 0x6f {
			return fmt.Errorf("%w: function body %d: ref.null at offset %d: want heap type func (0x70) or extern (0x6f), found 0x%02x", ErrUnsupported, fn, base+at, t)
		}
	case immTableSet:
		facts.TableWrites = true
		_, err = r.fastU32()
	case immPrefixFC:
		var sub uint32
		if sub, err = r.fastU32(); err != nil {
			break
		}
		switch sub {
		case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncation
		case 8: // memory.init
			facts.SegmentOps = true
			if _, err = r.fastU32(); err == nil {
				_, err = r.fastU32()
			}
		case 9: // data.drop
			facts.SegmentOps = true
			_, err = r.fastU32()
		case 10: // memory.copy
			if _, err = r.fastU32(); err == nil {
				_, err = r.fastU32()
			}
		case 11, 16: // memory.fill, table.size
			_, err = r.fastU32()
		case 12, 14: // table.init, table.copy
			facts.TableWrites = true
			if _, err = r.fastU32(); err == nil {
				_, err = r.fastU32()
			}
		case 13, 15, 17: // elem.drop, table.grow, table.fill
			facts.TableWrites = true
			_, err = r.fastU32()
		default:
			return fmt.Errorf("%w: function body %d: at offset %d: want a known 0xfc sub-opcode (0 to 17), found 0xfc %d", ErrUnsupported, fn, base+at, sub)
		}
	case immPrefixFD:
		var sub uint32
		if sub, err = r.fastU32(); err != nil {
			break
		}
		switch {
		case sub <= 11 || sub == 92 || sub == 93: // loads and stores
			err = r.memarg()
		case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
			err = r.skip(16)
		case sub >= 21 && sub <= 34: // extract and replace lane
			_, err = r.byte()
		case sub >= 84 && sub <= 91: // load and store lane
			if err = r.memarg(); err == nil {
				_, err = r.byte()
			}
		case sub <= 275:
		default:
			return fmt.Errorf("%w: function body %d: at offset %d: want a known 0xfd sub-opcode (0 to 275), found 0xfd %d", ErrUnsupported, fn, base+at, sub)
		}
	case immPrefixFE:
		var sub uint32
		if sub, err = r.fastU32(); err != nil {
			break
		}
		switch {
		case sub == 3: // atomic.fence
			_, err = r.byte()
		case sub <= 2 || sub >= 0x10 && sub <= 0x4e:
			err = r.memarg()
		default:
			return fmt.Errorf("%w: function body %d: at offset %d: want a known 0xfe sub-opcode (0 to 3 or 0x10 to 0x4e), found 0xfe 0x%02x", ErrUnsupported, fn, base+at, sub)
		}
	default:
		return fmt.Errorf("%w: function body %d: at offset %d: want an opcode ScanCode knows, found 0x%02x", ErrUnsupported, fn, base+at, op)
	}
	if err != nil {
		return fmt.Errorf("%w: function body %d: opcode 0x%02x at offset %d: want its immediates before the body's end at offset %d: %v", ErrMalformed, fn, op, base+at, base+len(r.b), err)
	}
	return nil
}

// fastU32 is u32 with a fast path for the common one-byte case.
func (r *reader) fastU32() (uint32, error) {
	if r.pos < len(r.b) {
		if c := r.b[r.pos]; c < 0x80 {
			r.pos++
			return uint32(c), nil
		}
	}
	return r.u32()
}

// skipLEB skips a LEB128, signed or not, of at most bits bits. It checks
// only its length: the value does not matter to ScanCode, and the runtime
// validates it.
func (r *reader) skipLEB(bits int) error {
	maxLen := (bits + 6) / 7
	for i, c := range r.b[r.pos:] {
		if c < 0x80 {
			r.pos += i + 1
			return nil
		}
		if i+1 == maxLen {
			return fmt.Errorf("LEB128 longer than %d bytes", maxLen)
		}
	}
	return errors.New("unexpected end")
}

// u64 reads an unsigned LEB128 of at most 64 bits.
func (r *reader) u64() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 && c > 0x01 {
			return 0, errors.New("LEB128 overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("LEB128 longer than 10 bytes")
}

// memarg skips a memory argument: an alignment whose bit 6 says a memory
// index follows, then an offset of up to 64 bits.
func (r *reader) memarg() error {
	align, err := r.fastU32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.fastU32(); err != nil {
			return err
		}
	}
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 {
		r.pos++
		return nil
	}
	_, err = r.u64()
	return err
}
