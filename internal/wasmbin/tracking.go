package wasmbin

import (
	"fmt"
)

// Tracked is a module rewritten by AddWriteTracking so that the host can
// tell which parts of linear memory a call may have written.
type Tracked struct {
	// Module is the rewritten binary.
	Module []byte
	// Dirty is the export name of the mutable i64 global the rewrite
	// added. A store, memory.fill, memory.copy or memory.init to byte a
	// sets bit (a >> TrackShift) mod 64 before the function that ran it
	// returns. Bytes the host writes into memory (WASI results) are not
	// tracked: the host marks them itself.
	Dirty string
}

// TrackShift makes the tracked regions 64 KiB: bit i of Dirty stands for
// every region whose index is i modulo 64, so a store at a sets bit
// (a >> TrackShift) & 63. A store may run up to 15 bytes past its region's
// end into the next one (a 16-byte store at its last byte): whoever
// restores a region must restore those bytes too.
const TrackShift = 16

// DirtySuffix is the export name of Tracked.Dirty after the prefix.
const DirtySuffix = "dirty"

// AddWriteTracking rewrites b so that each call records, in a global the
// guest cannot set, the memory regions it may have written. The host can
// then restore only those regions after a call instead of all of memory.
//
// Every function gets an i64 local that collects the bits of its writes
// (OR-ing into a local is a register operation; the global is written only
// when the function returns, by any of return, a branch to its outermost
// label, a tail call or its final end). A function that ends by a trap or
// an exception does not write the global: the host must not trust Dirty
// after a call that failed. Before each store, the address and offset give
// the bit; memory.fill, memory.copy and memory.init call an added function
// that turns a destination and length into a mask of bits.
//
// It refuses, with an error wrapping ErrUnsupported, modules it cannot
// track soundly: atomic instructions, exception handling, several
// memories, memory64 offsets, or code that sets a global the module does
// not have (it would be Dirty once added); and an existing export whose
// name starts with prefix.
func AddWriteTracking(b []byte, prefix string) (*Tracked, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	var importedGlobals, definedGlobals uint32
	var imports []funcImport
	at := map[byte]int{}
	for i, s := range secs {
		if s.ID == 0 {
			continue
		}
		if _, dup := at[s.ID]; dup {
			return nil, fmt.Errorf("%w: two sections with ID %d", ErrMalformed, s.ID)
		}
		at[s.ID] = i
		switch s.ID {
		case secImport:
			if importedGlobals, _, imports, err = readImports(s.Payload); err != nil {
				return nil, fmt.Errorf("%w: import section: %v", ErrMalformed, err)
			}
		case secGlobal:
			r := &reader{b: s.Payload}
			if definedGlobals, err = r.u32(); err != nil {
				return nil, fmt.Errorf("%w: global section: %v", ErrMalformed, err)
			}
		}
	}
	dirty := uint64(importedGlobals) + uint64(definedGlobals)
	if dirty >= 1<<32-1 {
		return nil, fmt.Errorf("%w: the module declares %d globals", ErrMalformed, dirty)
	}
	payload := func(id byte) []byte {
		if i, ok := at[id]; ok {
			return secs[i].Payload
		}
		return nil
	}
	types, err := readTypes(payload(secType))
	if err != nil {
		return nil, err
	}
	funcTypes, err := readFunctionTypes(payload(secFunction))
	if err != nil {
		return nil, err
	}
	maskType := uint32(len(types))
	maskFunc := uint32(len(imports) + len(funcTypes))
	t := &tracker{dirty: uint32(dirty), mask: maskFunc}

	// The code: each body instrumented, then the mask function appended.
	var code []byte
	if ci, ok := at[secCode]; ok {
		r := &reader{b: secs[ci].Payload}
		n, err := r.count("function bodies", maxFunctions, 2)
		if err != nil {
			return nil, err
		}
		if int(n) != len(funcTypes) {
			return nil, fmt.Errorf("%w: %d functions declared but %d bodies", ErrMalformed, len(funcTypes), n)
		}
		code = make([]byte, 0, len(r.b)*3/2)
		code = appendUleb(code, n+1)
		for i := range n {
			size, err := r.u32()
			if err != nil || uint64(size) > uint64(len(r.b)-r.pos) {
				return nil, fmt.Errorf("%w: function body %d: its size (%d) is past the code section's end", ErrMalformed, i, size)
			}
			body := r.b[r.pos : r.pos+int(size)]
			r.pos += int(size)
			ft := funcTypes[i]
			if ft >= uint32(len(types)) {
				return nil, fmt.Errorf("%w: function %d has type %d; the module has %d types", ErrMalformed, i, ft, len(types))
			}
			nb, err := t.body(body, types[ft])
			if err != nil {
				return nil, fmt.Errorf("function body %d: %w", i, err)
			}
			code = appendUleb(code, uint32(len(nb)))
			code = append(code, nb...)
		}
		if r.pos != len(r.b) {
			return nil, fmt.Errorf("%w: %d bytes after the last function body", ErrMalformed, len(r.b)-r.pos)
		}
	} else {
		if len(funcTypes) != 0 {
			return nil, fmt.Errorf("%w: %d functions declared but no code section", ErrMalformed, len(funcTypes))
		}
		code = appendUleb(nil, 1)
	}
	code = appendUleb(code, uint32(len(maskBody)))
	code = append(code, maskBody...)

	typePayload := appendUleb(nil, maskType+1)
	if tp := payload(secType); tp != nil {
		r := &reader{b: tp}
		r.u32()
		typePayload = append(typePayload, tp[r.pos:]...)
	}
	typePayload = append(typePayload, 0x60, 2, 0x7f, 0x7f, 1, 0x7e) // (i32, i32) -> i64

	funcPayload := appendUleb(nil, uint32(len(funcTypes))+1)
	if fp := payload(secFunction); fp != nil {
		r := &reader{b: fp}
		r.u32()
		funcPayload = append(funcPayload, fp[r.pos:]...)
	}
	funcPayload = appendUleb(funcPayload, maskType)

	globalPayload := appendUleb(nil, definedGlobals+1)
	if gp := payload(secGlobal); gp != nil {
		r := &reader{b: gp}
		r.u32()
		globalPayload = append(globalPayload, gp[r.pos:]...)
	}
	globalPayload = append(globalPayload, 0x7e, 0x01, 0x42, 0x00, 0x0b) // mutable i64 = 0

	out := &Tracked{Dirty: prefix + DirtySuffix}
	exports := []byte{0}
	if ep := payload(secExport); ep != nil {
		exports = ep
	}
	exportPayload, _, err := addExports(exports, prefix, nil, map[string]uint32{out.Dirty: uint32(dirty)})
	if err != nil {
		return nil, err
	}

	replaced := map[byte][]byte{secType: typePayload, secFunction: funcPayload, secGlobal: globalPayload,
		secExport: exportPayload, secCode: code}
	m := make([]byte, 0, len(b)+len(code)+len(typePayload)+len(funcPayload)+len(globalPayload)+len(exportPayload))
	m = append(m, header...)
	put := func(id byte) {
		m = append(m, id)
		m = appendUleb(m, uint32(len(replaced[id])))
		m = append(m, replaced[id]...)
		delete(replaced, id)
	}
	// Sections keep their order; a replaced section the module lacked goes
	// where the order of sections puts it.
	for _, s := range secs {
		if s.ID != 0 {
			for _, id := range []byte{secType, secFunction, secGlobal, secExport, secCode} {
				if _, pending := replaced[id]; pending && sectionRank(id) < sectionRank(s.ID) {
					if _, has := at[id]; !has {
						put(id)
					}
				}
			}
		}
		if _, ok := replaced[s.ID]; ok && s.ID != 0 {
			put(s.ID)
			continue
		}
		m = append(m, b[s.Start:s.End]...)
	}
	for _, id := range []byte{secType, secFunction, secGlobal, secExport, secCode} {
		if _, pending := replaced[id]; pending {
			put(id)
		}
	}
	out.Module = m
	return out, nil
}

// funcType is what the tracker needs of a function type: its parameter
// count (the index of its first local).
type funcType struct{ params uint32 }

func readTypes(p []byte) ([]funcType, error) {
	if p == nil {
		return nil, nil
	}
	r := &reader{b: p}
	n, err := r.count("types", maxTypes, 3)
	if err != nil {
		return nil, err
	}
	out := make([]funcType, n)
	for i := range out {
		form, err := r.byte()
		if err != nil || form != 0x60 {
			return nil, fmt.Errorf("%w: type %d: want a function type (0x60)", ErrUnsupported, i)
		}
		k, err := r.count("parameters", maxParams, 1)
		if err != nil {
			return nil, err
		}
		out[i].params = k
		r.pos += int(k)
		k, err = r.count("results", maxResults, 1)
		if err != nil {
			return nil, err
		}
		r.pos += int(k)
	}
	return out, nil
}

func readFunctionTypes(p []byte) ([]uint32, error) {
	if p == nil {
		return nil, nil
	}
	r := &reader{b: p}
	n, err := r.count("functions", maxFunctions, 1)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		if out[i], err = r.u32(); err != nil {
			return nil, fmt.Errorf("%w: function %d: %v", ErrMalformed, i, err)
		}
	}
	return out, nil
}

// maskBody is the added function mask(dst, n i32) -> i64: the bits of the
// regions [dst, dst+n) touches, all of them when it spans 64 regions or
// more or wraps around.
var maskBody = []byte{
	1, 2, 0x7f, // locals 2 (first), 3 (count): i32
	0x20, 1, 0x45, 0x04, 0x7e, // if n == 0 (result i64)
	0x42, 0, // 0
	0x05,                                     // else
	0x20, 0, 0x41, TrackShift, 0x76, 0x21, 2, // first = dst >> shift
	0x20, 0, 0x20, 1, 0x6a, 0x41, 1, 0x6b, 0x41, TrackShift, 0x76, // (dst+n-1) >> shift
	0x20, 2, 0x6b, 0x41, 1, 0x6a, 0x21, 3, // count = last - first + 1
	0x20, 3, 0x41, 64, 0x4f, 0x04, 0x7e, // if count >= 64 (unsigned) (result i64)
	0x42, 0x7f, // -1
	0x05,                                        // else
	0x42, 1, 0x20, 3, 0xad, 0x86, 0x42, 1, 0x7d, // (1 << count) - 1
	0x20, 2, 0xad, 0x89, // rotl by first
	0x0b, 0x0b, 0x0b,
}

// tracker instruments function bodies.
type tracker struct {
	dirty uint32 // the Dirty global's index
	mask  uint32 // the mask function's index
	buf   []byte // the body being instrumented
}

// Scratch locals added to every function, after its own.
const (
	localAddr = iota // i32: a store's address, a bulk operation's destination
	localI32         // i32: a stored value, a bulk operation's second operand
	localLen         // i32: a bulk operation's length
	localAcc         // i64: the bits written so far
	localI64         // i64: a stored value
	localF32
	localF64
	localV128
	scratchLocals
)

var scratchDecls = []byte{5, 3, 0x7f, 2, 0x7e, 1, 0x7d, 1, 0x7c, 1, 0x7b}

// body returns body instrumented: its locals extended by the scratch
// locals, a mark before each memory write, a flush before each way out.
func (t *tracker) body(body []byte, ft funcType) ([]byte, error) {
	r := &reader{b: body}
	n, err := r.count("local declarations", maxLocals, 2)
	if err != nil {
		return nil, err
	}
	declStart := r.pos
	locals := uint64(ft.params)
	for range n {
		k, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("%w: local count: %v", ErrMalformed, err)
		}
		locals += uint64(k)
		if _, err := r.byte(); err != nil {
			return nil, fmt.Errorf("%w: local type: %v", ErrMalformed, err)
		}
	}
	if locals > maxLocals+maxParams {
		return nil, fmt.Errorf("%w: %d locals", ErrUnsupported, locals)
	}
	base := uint32(locals)
	out := t.buf[:0] // reused: the caller copies the body out before the next
	defer func() { t.buf = out }()
	out = appendUleb(out, n+uint32(scratchDecls[0]))
	out = append(out, body[declStart:r.pos]...)
	out = append(out, scratchDecls[1:]...)
	// The decoder's reader, for instructions the tracker passes through.
	var s codeScan
	local := func(op byte, i int) { out = append(out, op); out = appendUleb(out, base+uint32(i)) }
	flush := func() {
		out = append(out, 0x23)
		out = appendUleb(out, t.dirty)
		local(0x20, localAcc)
		out = append(out, 0x84, 0x24)
		out = appendUleb(out, t.dirty)
	}
	// mark ORs the bit of the store whose address and value are on the
	// stack into the accumulator, leaving them on the stack.
	mark := func(value int, offset uint64) {
		local(0x21, value)
		local(0x21, localAddr)
		local(0x20, localAcc)
		out = append(out, 0x42, 1)
		local(0x20, localAddr)
		if offset != 0 {
			out = append(out, 0x41)
			out = appendSleb(out, int64(int32(uint32(offset))))
			out = append(out, 0x6a)
		}
		out = append(out, 0x41, TrackShift, 0x76, 0xad, 0x86, 0x84)
		local(0x21, localAcc)
		local(0x20, localAddr)
		local(0x20, value)
	}
	markBulk := func() {
		local(0x21, localLen)
		local(0x21, localI32)
		local(0x21, localAddr)
		local(0x20, localAcc)
		local(0x20, localAddr)
		local(0x20, localLen)
		out = append(out, 0x10)
		out = appendUleb(out, t.mask)
		out = append(out, 0x84)
		local(0x21, localAcc)
		local(0x20, localAddr)
		local(0x20, localI32)
		local(0x20, localLen)
	}
	depth := 0
	b, pos, prev := body, r.pos, r.pos
	// emit copies the instructions up to at, before an insertion there.
	emit := func(at int) {
		out = append(out, b[prev:at]...)
		prev = at
	}
	for pos < len(b) {
		op := b[pos]
		// Instructions the tracker passes through, with one-byte
		// immediates, are skipped here; the rest are decoded below.
		switch k := opImm[op]; {
		case k == immNone && !trackedOps[op]:
			pos++
			continue
		case k >= immU32 && k <= immI64 && !trackedOps[op] && pos+1 < len(b) && b[pos+1] < 0x80:
			pos += 2
			continue
		case k == immMemarg && !trackedOps[op] && pos+2 < len(b) && b[pos+1] < 0x40 && b[pos+2] < 0x80:
			pos += 3
			continue
		}
		start := pos
		r.pos = pos + 1
		switch {
		case op >= 0x36 && op <= 0x3e: // stores
			offset, err := r.trackedMemarg()
			if err != nil {
				return nil, err
			}
			value := localI64
			switch op {
			case 0x36, 0x3a, 0x3b: // i32.store, i32.store8, i32.store16
				value = localI32
			case 0x38:
				value = localF32
			case 0x39:
				value = localF64
			}
			emit(start)
			mark(value, offset)
		case op == 0xfd:
			sub, err := r.fastU32()
			if err != nil {
				return nil, fmt.Errorf("%w: 0xfd at %d: %v", ErrMalformed, start, err)
			}
			if sub == 11 || sub >= 88 && sub <= 91 { // v128.store, store lane
				offset, err := r.trackedMemarg()
				if err != nil {
					return nil, err
				}
				if sub != 11 {
					if _, err := r.byte(); err != nil {
						return nil, fmt.Errorf("%w: lane at %d: %v", ErrMalformed, start, err)
					}
				}
				emit(start)
				mark(localV128, offset)
				break
			}
			r.pos = start + 1
			if err := s.instr(r, op, 0, start, 0); err != nil {
				return nil, err
			}
		case op == 0xfc:
			sub, err := r.fastU32()
			if err != nil {
				return nil, fmt.Errorf("%w: 0xfc at %d: %v", ErrMalformed, start, err)
			}
			imm := r.pos
			r.pos = start + 1
			if err := s.instr(r, op, 0, start, 0); err != nil {
				return nil, err
			}
			if sub == 8 || sub == 10 || sub == 11 { // memory.init, memory.copy, memory.fill
				// Their memory indices: after a data segment index for
				// memory.init, two for memory.copy, one for memory.fill.
				ir := &reader{b: b[:r.pos], pos: imm}
				if sub == 8 {
					ir.u32()
				}
				for ir.pos < len(ir.b) {
					if mem, err := ir.u32(); err != nil || mem != 0 {
						return nil, fmt.Errorf("%w: a bulk memory operation at %d on a memory other than 0", ErrUnsupported, start)
					}
				}
				emit(start)
				markBulk()
			}
		case op == 0xfe || op == 0x06 || op == 0x07 || op == 0x08 || op == 0x09 || op == 0x0a || op == 0x18 || op == 0x19 || op == 0x1f:
			return nil, fmt.Errorf("%w: opcode 0x%02x at %d (atomics or exception handling)", ErrUnsupported, op, start)
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
			depth++
			if err := s.instr(r, op, 0, start, 0); err != nil {
				return nil, err
			}
		case op == 0x0b: // end
			if depth == 0 {
				emit(start)
				flush()
			} else {
				depth--
			}
		case op == 0x0c || op == 0x0d: // br, br_if
			label, err := r.u32()
			if err != nil {
				return nil, fmt.Errorf("%w: label at %d: %v", ErrMalformed, start, err)
			}
			if int(label) >= depth {
				emit(start)
				flush()
			}
		case op == 0x0e: // br_table
			k, err := r.u32()
			exits := false
			for j := uint32(0); err == nil && j <= k; j++ {
				var label uint32
				if label, err = r.u32(); err == nil && int(label) >= depth {
					exits = true
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%w: br_table at %d: %v", ErrMalformed, start, err)
			}
			if exits {
				emit(start)
				flush()
			}
		case op == 0x24: // global.set: never of Dirty, which the module does not know
			idx, err := r.u32()
			if err != nil {
				return nil, fmt.Errorf("%w: global index at %d: %v", ErrMalformed, start, err)
			}
			if idx >= t.dirty {
				return nil, fmt.Errorf("%w: its code sets global %d, but the module has %d globals", ErrMalformed, idx, t.dirty)
			}
		case op == 0x0f: // return
			emit(start)
			flush()
		case op == 0x12 || op == 0x13: // return_call, return_call_indirect
			if err := s.instr(r, op, 0, start, 0); err != nil {
				return nil, err
			}
			emit(start)
			flush()
		default:
			if err := s.instr(r, op, 0, start, 0); err != nil {
				return nil, err
			}
		}
		pos = r.pos
	}
	out = append(out, b[prev:]...)
	return out, nil
}

// trackedOps are the one-byte opcodes the tracker looks at: stores,
// block structure, branches and ways out, and those it refuses.
var trackedOps = func() (t [256]bool) {
	for op := 0x36; op <= 0x3e; op++ {
		t[op] = true
	}
	for _, op := range []byte{0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0x12, 0x13, 0x18, 0x19, 0x1f, 0x24, 0xfc, 0xfd, 0xfe} {
		t[op] = true
	}
	return t
}()

// trackedMemarg reads a store's memory argument and returns its offset. It
// refuses a memory other than 0 and an offset past 32 bits (memory64).
func (r *reader) trackedMemarg() (uint64, error) {
	at := r.pos
	align, err := r.fastU32()
	if err != nil {
		return 0, fmt.Errorf("%w: memory argument at %d: %v", ErrMalformed, at, err)
	}
	if align&0x40 != 0 {
		return 0, fmt.Errorf("%w: a store at %d to a memory other than 0", ErrUnsupported, at)
	}
	offset, err := r.u64()
	if err != nil {
		return 0, fmt.Errorf("%w: memory argument at %d: %v", ErrMalformed, at, err)
	}
	if offset >= 1<<32 {
		return 0, fmt.Errorf("%w: a store at %d with a 64-bit offset", ErrUnsupported, at)
	}
	return offset, nil
}
