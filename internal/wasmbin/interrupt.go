package wasmbin

import (
	"fmt"
)

// Interruptible is a module rewritten by AddInterruptChecks so that the host
// can stop a call running in it.
type Interruptible struct {
	// Module is the rewritten binary.
	Module []byte
	// Flag is the export name of the mutable i32 global the rewrite added;
	// it is 0 when an instance starts. A check runs at every function
	// entry and loop iteration; every ChecksPerExit checks, one exits to
	// the host (so that the host's goroutine can be preempted) and traps
	// (unreachable) if the flag is not 0. The host sets it, from any
	// goroutine, to stop the guest: no path through the code runs longer
	// than ChecksPerExit function bodies without seeing it.
	Flag string
	// Count is the index of the countdown global the rewrite added. Its
	// value depends on how much code ran, so two runs of the same
	// initialiser may leave it different; any value is a valid start.
	Count uint32
	// Start is the export name of the module's start function, or empty
	// when it has none. The rewrite removes the start section, whose
	// function would run inside instantiation, before the host can reach
	// Flag: the host calls Start itself, right after instantiating.
	Start string
}

// Export names of AddInterruptChecks, after its prefix.
const (
	FlagSuffix  = "flag"
	StartSuffix = "start"
)

// AddInterruptChecks rewrites b so that a running call can be stopped
// without help from the runtime: it adds a global flag (exported as prefix
// followed by FlagSuffix) and a countdown global, puts a check (checkCode)
// at the start of every function body (unless the body starts with a loop)
// and at the start of every loop body, gives a module without a memory an
// empty one (for the check's memory.grow 0), and turns the start function,
// if any, into an export (prefix followed by StartSuffix).
//
// A runtime could do this itself: wazero's WithCloseOnContextDone compiles
// each loop iteration to an exit into Go that asks whether the module was
// closed, which costs more than the Go guest's own work (RATIONALE.md).
//
// The guest must not be able to clear the flag: AddInterruptChecks refuses,
// with an error wrapping ErrMalformed, a module whose code sets a global
// that does not exist (it would be the flag once added). It decodes every
// instruction, so it refuses what ScanCode refuses, and an existing export
// whose name starts with prefix (ErrUnsupported).
func AddInterruptChecks(b []byte, prefix string) (*Interruptible, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	scan := codeScan{marks: true}
	code, err := scan.scan(b)
	if err != nil {
		return nil, err
	}
	var importedGlobals, definedGlobals uint32
	globalAt, exportAt, startAt := -1, -1, -1
	hasMemory := false
	var globalRest []byte // the global section's payload after its count
	for i, s := range secs {
		switch s.ID {
		case secImport:
			var memories uint32
			if importedGlobals, memories, _, err = readImports(s.Payload); err != nil {
				return nil, fmt.Errorf("%w: import section: %v", ErrMalformed, err)
			}
			hasMemory = hasMemory || memories > 0
		case secMemory:
			hasMemory = true
		case secGlobal:
			r := &reader{b: s.Payload}
			if definedGlobals, err = r.u32(); err != nil {
				return nil, fmt.Errorf("%w: global section: %v", ErrMalformed, err)
			}
			globalAt, globalRest = i, s.Payload[r.pos:]
		case secExport:
			exportAt = i
		case secStart:
			startAt = i
		}
	}
	flag := uint64(importedGlobals) + uint64(definedGlobals)
	count := flag + 1
	if count >= 1<<32-1 {
		return nil, fmt.Errorf("%w: the module declares %d globals", ErrMalformed, flag)
	}
	if scan.globalSets > flag {
		return nil, fmt.Errorf("%w: its code sets global %d, but the module has %d globals", ErrMalformed, scan.globalSets-1, flag)
	}
	out := &Interruptible{Flag: prefix + FlagSuffix, Count: uint32(count)}

	// The flag: an i32, mutable, initialised by i32.const 0; the count of
	// checks left before the next exit to the host.
	globalPayload := appendUleb(nil, definedGlobals+2)
	globalPayload = append(globalPayload, globalRest...)
	globalPayload = append(globalPayload, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	globalPayload = append(globalPayload, 0x7f, 0x01, 0x41)
	globalPayload = appendSleb(globalPayload, ChecksPerExit)
	globalPayload = append(globalPayload, 0x0b)

	funcs := map[string]uint32{}
	if startAt >= 0 {
		r := &reader{b: secs[startAt].Payload}
		idx, err := r.u32()
		if err != nil || r.pos != len(r.b) {
			return nil, fmt.Errorf("%w: start section: want one function index", ErrMalformed)
		}
		out.Start = prefix + StartSuffix
		funcs[out.Start] = idx
	}
	globals := map[string]uint32{out.Flag: uint32(flag)}
	exports := []byte{0}
	if exportAt >= 0 {
		exports = secs[exportAt].Payload
	}
	exportPayload, _, err := addExports(exports, prefix, funcs, globals)
	if err != nil {
		return nil, err
	}

	var codePayload []byte
	if code != nil {
		codePayload = withChecks(code.Payload, scan.checks, checkCode(uint32(flag), uint32(count)))
	}

	// Sections keep their order; the global and export sections, when the
	// module has none, go where the order of sections puts them.
	m := make([]byte, 0, len(b)+len(scan.checks)*8+64)
	m = append(m, header...)
	put := func(id byte, payload []byte) {
		m = append(m, id)
		m = appendUleb(m, uint32(len(payload)))
		m = append(m, payload...)
	}
	wroteGlobals, wroteExports, wroteMemory := false, false, hasMemory
	for i, s := range secs {
		if s.ID != 0 {
			if !wroteMemory && sectionRank(s.ID) > sectionRank(secMemory) {
				// A memory of no pages, for the checks' memory.grow.
				put(secMemory, []byte{1, 0x00, 0})
				wroteMemory = true
			}
			if !wroteGlobals && globalAt < 0 && sectionRank(s.ID) > sectionRank(secGlobal) {
				put(secGlobal, globalPayload)
				wroteGlobals = true
			}
			if !wroteExports && exportAt < 0 && sectionRank(s.ID) > sectionRank(secExport) {
				put(secExport, exportPayload)
				wroteExports = true
			}
		}
		switch {
		case i == globalAt:
			put(secGlobal, globalPayload)
			wroteGlobals = true
		case i == exportAt:
			put(secExport, exportPayload)
			wroteExports = true
		case i == startAt:
			// Removed: Start says what to call.
		case code != nil && s.ID == secCode:
			put(secCode, codePayload)
		default:
			m = append(m, b[s.Start:s.End]...)
		}
	}
	if !wroteMemory {
		put(secMemory, []byte{1, 0x00, 0})
	}
	if !wroteGlobals {
		put(secGlobal, globalPayload)
	}
	if !wroteExports {
		put(secExport, exportPayload)
	}
	out.Module = m
	return out, nil
}

// ChecksPerExit is how many checks run between two exits to the host.
const ChecksPerExit = 4096

// checkCode is the check: count down; at zero, start again, exit to the
// host through memory.grow 0 and trap if the flag is up.
//
// The exit matters as much as the flag: compiled code cannot be preempted,
// so a guest that never left it would hold up every stop-the-world pause
// of the host's garbage collector, and with it the timer that raises the
// flag (found as a deadlock under -race). memory.grow is the one
// instruction every module can use that wazero runs in Go; a delta of 0
// changes nothing.
func checkCode(flag, count uint32) []byte {
	g := func(op byte, idx uint32) []byte { return append([]byte{op}, appendUleb(nil, idx)...) }
	return cat(
		g(0x23, count), []byte{0x41, 1, 0x6b}, g(0x24, count), // count--
		g(0x23, count), []byte{0x45, 0x04, 0x40}, // if count == 0
		[]byte{0x41}, appendSleb(nil, ChecksPerExit), g(0x24, count), // count = ChecksPerExit
		[]byte{0x41, 0, 0x40, 0, 0x1a},                // memory.grow 0; drop
		g(0x23, flag), []byte{0x04, 0x40, 0x00, 0x0b}, // if flag: unreachable
		[]byte{0x0b},
	)
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// withChecks returns the code section payload with check inserted at each
// offset of at (ascending, each inside a function body or at its end),
// and the sizes of the bodies adjusted.
func withChecks(payload []byte, at []int, check []byte) []byte {
	r := &reader{b: payload}
	n, _ := r.u32() // decoded before: no error
	out := make([]byte, 0, len(payload)+len(at)*len(check)+int(n)*2)
	out = appendUleb(out, n)
	next := 0
	for range n {
		size, _ := r.u32()
		start, end := r.pos, r.pos+int(size)
		k := next
		for k < len(at) && at[k] <= end {
			k++
		}
		out = appendUleb(out, size+uint32((k-next)*len(check)))
		prev := start
		for _, a := range at[next:k] {
			out = append(out, payload[prev:a]...)
			out = append(out, check...)
			prev = a
		}
		out = append(out, payload[prev:end]...)
		next, r.pos = k, end
	}
	return out
}

// IDs of the start and memory sections.
const (
	secStart  = 8
	secMemory = 5
)

// sectionRank is the position of a non-custom section in the order the
// binary format requires: the data count (12) and tag (13) sections sit
// between others.
func sectionRank(id byte) int {
	switch id {
	case 13: // tag: after memory, before global
		return 55
	case 12: // data count: after element, before code
		return 95
	}
	return int(id) * 10
}
