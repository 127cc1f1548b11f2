package wasmbin

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Section IDs used here.
const (
	secType     = 1
	secImport   = 2
	secFunction = 3
	secGlobal   = 6
	secExport   = 7
	secCode     = 10
	secData     = 11
)

// Prepared is a module rewritten so that an instance of it can be started
// from a memory image instead of from its initialiser.
type Prepared struct {
	// Module is the rewritten binary: every mutable global is exported
	// under Globals[i], and every active data segment is an empty passive
	// one (its bytes are in Data, for whoever starts an instance without an
	// image).
	Module []byte
	// Globals are the export names of the module's mutable globals, in
	// index order.
	Globals []string
	// Data are the active data segments taken out of Module, in order.
	Data []DataSegment
	// Exports are the names the original module exports.
	Exports []string
	// FDProbe is the export name of a function the rewrite added, of type
	// (buf, unused i32) -> i32, that calls the module's own import of WASI
	// fd_fdstat_get for descriptors 0 to FDProbeCount-1: descriptor i's
	// 24-byte fdstat goes to buf+24*i and its errno, as a little-endian
	// u32, to buf+24*FDProbeCount+4*i; it returns 0. Through it the host
	// reads the guest's view of its descriptors after a call. Empty when the
	// module does not import fd_fdstat_get with its WASI type.
	FDProbe string
}

// FDProbeSuffix is the name FDProbe has after the prefix.
const FDProbeSuffix = "fdstat"

// FDProbeCount is the number of descriptors FDProbe reads, and
// FDProbeBytes the size of the buffer it fills.
const (
	FDProbeCount = 4
	FDProbeBytes = FDProbeCount * (24 + 4)
)

// DataSegment is an active data segment: bytes copied into memory 0 at
// Offset when an instance starts.
type DataSegment struct {
	Offset uint32
	Bytes  []byte
}

// ErrUnsupported is wrapped by the errors about modules that are
// well-formed but that a function here cannot handle: PrepareSnapshot's
// for modules that cannot be started from an image (for example, a data
// segment placed by a global's value), ScanCode's for instructions it does
// not know.
var ErrUnsupported = errors.New("unsupported module")

// PrepareSnapshot rewrites b for starting instances from a memory image:
// mutable globals are exported as prefix followed by their index (so their
// values can be read after the initialiser and set in a new instance), and
// active data segments become empty passive ones (the image already holds
// their bytes; copying them again at every instantiation would be wasted
// work).
//
// The code is not decoded or changed. It returns an error wrapping
// ErrMalformed for a binary it cannot parse and ErrUnsupported for one it
// cannot rewrite (v128 or reference-typed mutable globals, data segments
// whose offset is not a constant, an existing export starting with prefix).
func PrepareSnapshot(b []byte, prefix string) (*Prepared, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	var importedGlobals uint32
	var funcs []funcImport
	var mutable []uint32
	exportAt, dataAt, globalAt, typeAt, funcAt, codeAt := -1, -1, -1, -1, -1, -1
	hasDataCount := false
	for i, s := range secs {
		switch s.ID {
		case 12:
			hasDataCount = true
		case 8:
			// A start function runs inside instantiation, before anyone
			// could copy the data segments in or start from an image.
			return nil, fmt.Errorf("%w: the module has a start function", ErrUnsupported)
		case secImport:
			if importedGlobals, _, funcs, err = readImports(s.Payload); err != nil {
				return nil, fmt.Errorf("%w: import section: %v", ErrMalformed, err)
			}
		case secType:
			typeAt = i
		case secFunction:
			funcAt = i
		case secCode:
			codeAt = i
		case secGlobal:
			globalAt = i
		case secExport:
			exportAt = i
		case secData:
			dataAt = i
		}
	}
	if globalAt >= 0 {
		if mutable, err = mutableGlobals(secs[globalAt].Payload, importedGlobals); err != nil {
			return nil, err
		}
	}
	p := &Prepared{}
	globalExports := map[string]uint32{}
	for _, idx := range mutable {
		name := fmt.Sprintf("%s%d", prefix, idx)
		p.Globals = append(p.Globals, name)
		globalExports[name] = idx
	}

	// The fd probe: a function appended to the function and code sections
	// (so no index changes) and exported.
	var probe *probeFunc
	if typeAt >= 0 && funcAt >= 0 && codeAt >= 0 {
		if probe, err = newProbe(secs[typeAt].Payload, secs[funcAt].Payload, secs[codeAt].Payload, funcs); err != nil {
			return nil, err
		}
	}
	extra := map[string]uint32{}
	if probe != nil {
		p.FDProbe = prefix + FDProbeSuffix
		extra[p.FDProbe] = probe.index
	}

	var exportPayload []byte
	if exportAt >= 0 {
		exportPayload, p.Exports, err = addExports(secs[exportAt].Payload, prefix, extra, globalExports)
	} else {
		exportPayload, p.Exports, err = addExports([]byte{0}, prefix, extra, globalExports)
	}
	if err != nil {
		return nil, err
	}
	var dataPayload []byte
	if dataAt >= 0 {
		if dataPayload, p.Data, err = emptyDataSegments(secs[dataAt].Payload); err != nil {
			return nil, err
		}
		if !hasDataCount {
			// Without a data count section no instruction can name a data
			// segment, so the segments can go altogether: a Go module has
			// tens of thousands, and wazero keeps a slice entry per
			// segment in every instance.
			dataPayload = []byte{0}
		}
	}

	out := make([]byte, 0, len(b)+len(exportPayload))
	out = append(out, header...)
	wroteExports := false
	writeExports := func() {
		out = append(out, secExport)
		out = appendUleb(out, uint32(len(exportPayload)))
		out = append(out, exportPayload...)
		wroteExports = true
	}
	for i, s := range secs {
		// Without an export section, ours goes where the order of
		// sections puts it: before the first non-custom section after it.
		if exportAt < 0 && !wroteExports && s.ID != 0 && s.ID > secExport && s.ID != 12 && s.ID != 13 {
			writeExports()
		}
		switch {
		case i == exportAt:
			writeExports()
		case probe != nil && i == funcAt:
			out = append(out, secFunction)
			out = appendUleb(out, uint32(len(probe.functions)))
			out = append(out, probe.functions...)
		case probe != nil && i == codeAt:
			out = append(out, secCode)
			out = appendUleb(out, uint32(len(probe.code)))
			out = append(out, probe.code...)
		case i == dataAt:
			out = append(out, secData)
			out = appendUleb(out, uint32(len(dataPayload)))
			out = append(out, dataPayload...)
		default:
			out = append(out, b[s.Start:s.End]...)
		}
	}
	if !wroteExports {
		writeExports()
	}
	p.Module = out
	return p, nil
}

// reader walks a section payload.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errors.New("unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) u32() (uint32, error) {
	v, n, err := uleb32(r.b[r.pos:])
	r.pos += n
	return v, err
}

// sleb reads a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits int) (int64, error) {
	var v int64
	var shift int
	for {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift >= bits+7 {
			return 0, errors.New("signed LEB128 too long")
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
}

func (r *reader) skip(n int) error {
	if n < 0 || n > len(r.b)-r.pos {
		return errors.New("unexpected end")
	}
	r.pos += n
	return nil
}

func (r *reader) name() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	return r.skip(int(n))
}

func (r *reader) limits() error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	read := r.u32
	if flag&0x04 != 0 { // memory64: 64-bit limits
		read = func() (uint32, error) { _, err := r.sleb(64); return 0, err }
	}
	if _, err := read(); err != nil {
		return err
	}
	if flag&0x01 != 0 {
		_, err = read()
	}
	return err
}

// funcImport is an imported function: its module and name, and its type.
type funcImport struct {
	module, name string
	typ          uint32
}

// readImports counts the imported globals and memories and lists the
// imported functions, in index order.
func readImports(payload []byte) (globals, memories uint32, funcs []funcImport, err error) {
	r := &reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return 0, 0, nil, err
	}
	str := func() (string, error) {
		start := r.pos
		if err := r.name(); err != nil {
			return "", err
		}
		_, k, _ := uleb32(r.b[start:])
		return string(r.b[start+k : r.pos]), nil
	}
	for i := uint32(0); i < n; i++ {
		mod, err := str()
		if err != nil {
			return 0, 0, nil, err
		}
		name, err := str()
		if err != nil {
			return 0, 0, nil, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, 0, nil, err
		}
		switch kind {
		case 0x00: // function: type index
			var t uint32
			if t, err = r.u32(); err == nil {
				funcs = append(funcs, funcImport{mod, name, t})
			}
		case 0x01: // table: reference type, limits
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 0x02: // memory
			memories++
			err = r.limits()
		case 0x03: // global: value type, mutability
			globals++
			err = r.skip(2)
		case 0x04: // tag: attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return 0, 0, nil, fmt.Errorf("import %d has unknown kind 0x%02x", i, kind)
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("import %d: %v", i, err)
		}
	}
	return globals, memories, funcs, nil
}

// probeFunc is the fd probe added to a module: the rewritten function and
// code section payloads, and the new function's index.
type probeFunc struct {
	functions, code []byte
	index           uint32
}

// newProbe adds to the function and code sections the FDProbe function
// (see Prepared), of the type of the imported WASI fd_fdstat_get. It
// returns nil when there is no such import of type (i32, i32) -> i32.
func newProbe(types, functions, code []byte, imports []funcImport) (*probeFunc, error) {
	target := -1
	for i, f := range imports {
		if f.module == "wasi_snapshot_preview1" && f.name == "fd_fdstat_get" {
			target = i
			break
		}
	}
	if target < 0 {
		return nil, nil
	}
	typ := imports[target].typ
	if ok, err := isFuncType(types, typ, []byte{0x7f, 0x7f}, []byte{0x7f}); err != nil || !ok {
		return nil, err
	}
	rf := &reader{b: functions}
	nf, err := rf.u32()
	if err != nil {
		return nil, fmt.Errorf("%w: function section: %v", ErrMalformed, err)
	}
	rc := &reader{b: code}
	nc, err := rc.u32()
	if err != nil {
		return nil, fmt.Errorf("%w: code section: %v", ErrMalformed, err)
	}
	if nf != nc {
		return nil, fmt.Errorf("%w: %d functions declared but %d bodies", ErrMalformed, nf, nc)
	}
	p := &probeFunc{index: uint32(len(imports)) + nf}
	p.functions = appendUleb(nil, nf+1)
	p.functions = append(p.functions, functions[rf.pos:]...)
	p.functions = appendUleb(p.functions, typ)

	body := []byte{0x00} // no locals
	for fd := range FDProbeCount {
		// i32.store offset=24*count+4*fd (buf, fd_fdstat_get(fd, buf+24*fd))
		body = append(body, 0x20, 0x00, 0x41, byte(fd), 0x20, 0x00, 0x41)
		body = appendSleb(body, int64(24*fd))
		body = append(body, 0x6a, 0x10) // i32.add; call
		body = appendUleb(body, uint32(target))
		body = append(body, 0x36, 0x02) // i32.store align=4
		body = appendUleb(body, uint32(24*FDProbeCount+4*fd))
	}
	body = append(body, 0x41, 0x00, 0x0b) // i32.const 0; end
	p.code = appendUleb(nil, nc+1)
	p.code = append(p.code, code[rc.pos:]...)
	p.code = appendUleb(p.code, uint32(len(body)))
	p.code = append(p.code, body...)
	return p, nil
}

// appendSleb appends v as a signed LEB128.
func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// isFuncType reports whether type idx of the type section is the function
// type params -> results.
func isFuncType(types []byte, idx uint32, params, results []byte) (bool, error) {
	r := &reader{b: types}
	n, err := r.u32()
	if err != nil {
		return false, fmt.Errorf("%w: type section: %v", ErrMalformed, err)
	}
	if idx >= n {
		return false, fmt.Errorf("%w: type %d does not exist (%d types)", ErrMalformed, idx, n)
	}
	vec := func() ([]byte, error) {
		k, err := r.u32()
		if err != nil {
			return nil, err
		}
		start := r.pos
		if err := r.skip(int(k)); err != nil {
			return nil, err
		}
		return r.b[start:r.pos], nil
	}
	for i := uint32(0); i <= idx; i++ {
		form, err := r.byte()
		if err != nil {
			return false, fmt.Errorf("%w: type %d: %v", ErrMalformed, i, err)
		}
		if form != 0x60 {
			return false, nil // not a plain function type (GC proposal): no probe
		}
		ps, err := vec()
		if err != nil {
			return false, fmt.Errorf("%w: type %d: %v", ErrMalformed, i, err)
		}
		rs, err := vec()
		if err != nil {
			return false, fmt.Errorf("%w: type %d: %v", ErrMalformed, i, err)
		}
		if i == idx {
			return string(ps) == string(params) && string(rs) == string(results), nil
		}
	}
	return false, nil
}

// constExpr skips a constant expression up to and including its end, and
// returns the value when it is a lone i32.const.
func (r *reader) constExpr() (v uint32, isI32Const bool, err error) {
	ops := 0
	for {
		op, err := r.byte()
		if err != nil {
			return 0, false, err
		}
		switch op {
		case 0x0b: // end
			return v, isI32Const && ops == 1, nil
		case 0x41: // i32.const
			x, err := r.sleb(32)
			if err != nil {
				return 0, false, err
			}
			v, isI32Const = uint32(int32(x)), true
		case 0x42: // i64.const
			if _, err := r.sleb(64); err != nil {
				return 0, false, err
			}
		case 0x43: // f32.const
			err = r.skip(4)
		case 0x44: // f64.const
			err = r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			_, err = r.u32()
		case 0xd0: // ref.null
			_, err = r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			var sub uint32
			if sub, err = r.u32(); err == nil {
				if sub != 12 {
					return 0, false, fmt.Errorf("opcode 0xfd %d is not allowed in a constant expression", sub)
				}
				err = r.skip(16)
			}
		default:
			return 0, false, fmt.Errorf("opcode 0x%02x is not allowed in a constant expression", op)
		}
		if err != nil {
			return 0, false, err
		}
		ops++
	}
}

func mutableGlobals(payload []byte, imported uint32) ([]uint32, error) {
	r := &reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("%w: global section: %v", ErrMalformed, err)
	}
	var out []uint32
	for i := uint32(0); i < n; i++ {
		vt, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("%w: global %d: %v", ErrMalformed, i, err)
		}
		mut, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("%w: global %d: %v", ErrMalformed, i, err)
		}
		if _, _, err := r.constExpr(); err != nil {
			return nil, fmt.Errorf("%w: global %d: initialiser: %v", ErrMalformed, i, err)
		}
		if mut != 1 {
			continue
		}
		switch vt {
		case 0x7f, 0x7e, 0x7d, 0x7c: // i32, i64, f32, f64
			out = append(out, imported+i)
		default:
			return nil, fmt.Errorf("%w: global %d is a mutable global of type 0x%02x; only numeric ones can be carried over", ErrUnsupported, imported+i, vt)
		}
	}
	return out, nil
}

// addExports returns the export section payload with funcs and globals
// (export name to index) added, and the names it had. It refuses an
// existing name that starts with prefix, which is the host's.
func addExports(payload []byte, prefix string, funcs, globals map[string]uint32) ([]byte, []string, error) {
	r := &reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: export section: %v", ErrMalformed, err)
	}
	bodyStart := r.pos // the count may be padded: take its length as found
	var names []string
	for i := uint32(0); i < n; i++ {
		ln, err := r.u32()
		if err != nil || r.skip(int(ln)) != nil {
			return nil, nil, fmt.Errorf("%w: export %d: bad name", ErrMalformed, i)
		}
		name := string(r.b[r.pos-int(ln) : r.pos])
		if strings.HasPrefix(name, prefix) {
			return nil, nil, fmt.Errorf("%w: the module already exports %q, in the name space reserved for the host", ErrUnsupported, name)
		}
		names = append(names, name)
		if _, err := r.byte(); err != nil {
			return nil, nil, fmt.Errorf("%w: export %d: %v", ErrMalformed, i, err)
		}
		if _, err := r.u32(); err != nil {
			return nil, nil, fmt.Errorf("%w: export %d: %v", ErrMalformed, i, err)
		}
	}
	if r.pos != len(payload) {
		return nil, nil, fmt.Errorf("%w: export section has %d trailing bytes", ErrMalformed, len(payload)-r.pos)
	}
	body := r.b[bodyStart:]
	out := appendUleb(nil, n+uint32(len(globals)+len(funcs)))
	out = append(out, body...)
	for _, name := range slices.Sorted(maps.Keys(funcs)) {
		out = appendUleb(out, uint32(len(name)))
		out = append(out, name...)
		out = append(out, 0x00) // function
		out = appendUleb(out, funcs[name])
	}
	for _, name := range slices.Sorted(maps.Keys(globals)) {
		out = appendUleb(out, uint32(len(name)))
		out = append(out, name...)
		out = append(out, 0x03) // global
		out = appendUleb(out, globals[name])
	}
	return out, names, nil
}

func emptyDataSegments(payload []byte) ([]byte, []DataSegment, error) {
	r := &reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: data section: %v", ErrMalformed, err)
	}
	out := appendUleb(nil, n)
	var segs []DataSegment
	for i := uint32(0); i < n; i++ {
		start := r.pos
		flag, err := r.u32()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: data segment %d: %v", ErrMalformed, i, err)
		}
		switch flag {
		case 0, 2:
			if flag == 2 {
				mem, err := r.u32()
				if err != nil {
					return nil, nil, fmt.Errorf("%w: data segment %d: %v", ErrMalformed, i, err)
				}
				if mem != 0 {
					return nil, nil, fmt.Errorf("%w: data segment %d initialises memory %d", ErrUnsupported, i, mem)
				}
			}
			off, isConst, err := r.constExpr()
			if err != nil {
				return nil, nil, fmt.Errorf("%w: data segment %d: offset: %v", ErrMalformed, i, err)
			}
			if !isConst {
				return nil, nil, fmt.Errorf("%w: data segment %d is placed by an expression, not by an i32.const", ErrUnsupported, i)
			}
			size, err := r.u32()
			if err != nil || r.skip(int(size)) != nil {
				return nil, nil, fmt.Errorf("%w: data segment %d: bad size", ErrMalformed, i)
			}
			segs = append(segs, DataSegment{Offset: off, Bytes: r.b[r.pos-int(size) : r.pos]})
			// An empty passive segment in its place keeps the segment
			// indices and behaves as the dropped active segment would
			// (memory.init of nothing succeeds, of anything traps), and
			// costs instantiation nothing: a Go module has thousands of
			// segments, and wazero evaluates each active one's offset.
			out = append(out, 0x01, 0x00)
		case 1:
			size, err := r.u32()
			if err != nil || r.skip(int(size)) != nil {
				return nil, nil, fmt.Errorf("%w: data segment %d: bad size", ErrMalformed, i)
			}
			out = append(out, r.b[start:r.pos]...)
		default:
			return nil, nil, fmt.Errorf("%w: data segment %d has unknown flags %d", ErrMalformed, i, flag)
		}
	}
	if r.pos != len(payload) {
		return nil, nil, fmt.Errorf("%w: data section has %d trailing bytes", ErrMalformed, len(payload)-r.pos)
	}
	// The bytes are copied, all into one array, so that the segments do
	// not keep the whole input module alive.
	total := 0
	for _, d := range segs {
		total += len(d.Bytes)
	}
	all := make([]byte, 0, total)
	for i := range segs {
		at := len(all)
		all = append(all, segs[i].Bytes...)
		segs[i].Bytes = all[at:len(all):len(all)]
	}
	return out, segs, nil
}
