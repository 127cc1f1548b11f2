package wasmbin

import (
	"fmt"
)

// Limits on what a module declares: those the WebAssembly JavaScript API
// sets ("implementation-defined limits"), which browsers enforce, so no
// module meant to run anywhere exceeds them.
const (
	maxTypes        = 1_000_000
	maxFunctions    = 1_000_000
	maxImports      = 100_000
	maxExports      = 100_000
	maxGlobals      = 1_000_000
	maxTags         = 1_000_000
	maxDataSegments = 100_000
	maxElemSegments = 10_000_000
	maxTables       = 100_000
	maxMemories     = 100
	maxParams       = 1_000
	maxResults      = 1_000
	maxLocals       = 50_000
)

// CheckCounts checks that every count in module b that a decoder sizes an
// allocation by is within the limits above and backed by the bytes that
// follow it. A decoder that trusts counts (wazero's does) can be made to
// allocate gigabytes by a module of a few bytes: a type with 4,294,967,280
// parameters is five bytes. It returns an error wrapping ErrMalformed, or
// ErrUnsupported for a count that is well-formed but over a limit.
func CheckCounts(b []byte) error {
	secs, err := Sections(b)
	if err != nil {
		return err
	}
	for _, s := range secs {
		r := &reader{b: s.Payload}
		switch s.ID {
		case 0:
			if s.Name == "name" {
				err = checkNames(r)
			}
		case secType:
			err = checkTypes(r)
		case secImport:
			_, err = r.count("imports", maxImports, 4)
		case secFunction:
			_, err = r.count("functions", maxFunctions, 1)
		case 4:
			_, err = r.count("tables", maxTables, 3)
		case 5:
			_, err = r.count("memories", maxMemories, 2)
		case secGlobal:
			_, err = r.count("globals", maxGlobals, 4)
		case secExport:
			_, err = r.count("exports", maxExports, 3)
		case 9:
			err = checkElements(r)
		case secCode:
			err = checkLocals(r)
		case secData:
			err = checkData(r)
		case 13:
			_, err = r.count("tags", maxTags, 2)
		case 12: // data count: one u32, all of the section
			if _, err = r.u32(); err != nil || r.pos != len(r.b) {
				err = fmt.Errorf("%w: want the section to be one count (%v)", ErrMalformed, err)
			}
		}
		if err != nil {
			if s.ID == 0 {
				return fmt.Errorf("custom section %q at offset %d: %w", s.Name, s.Start, err)
			}
			return fmt.Errorf("section %d at offset %d: %w", s.ID, s.Start, err)
		}
	}
	return nil
}

// count reads a vector's length: at most limit, and at most one entry per
// minSize of the bytes left.
func (r *reader) count(what string, limit uint32, minSize int) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, fmt.Errorf("%w: want a count of %s: %v", ErrMalformed, what, err)
	}
	if n > limit {
		return 0, fmt.Errorf("%w: %d %s; the limit is %d", ErrUnsupported, n, what, limit)
	}
	if left := len(r.b) - r.pos; uint64(n)*uint64(minSize) > uint64(left) {
		return 0, fmt.Errorf("%w: %d %s declared, but only %d bytes follow", ErrMalformed, n, what, left)
	}
	return n, nil
}

func checkTypes(r *reader) error {
	n, err := r.count("types", maxTypes, 3)
	if err != nil {
		return err
	}
	for i := range n {
		form, err := r.byte()
		if err != nil {
			return fmt.Errorf("%w: type %d: %v", ErrMalformed, i, err)
		}
		if form != 0x60 {
			return fmt.Errorf("%w: type %d has form 0x%02x; want a function type (0x60)", ErrUnsupported, i, form)
		}
		for _, what := range []string{"parameters", "results"} {
			limit := uint32(maxParams)
			if what == "results" {
				limit = maxResults
			}
			k, err := r.count(what, limit, 1)
			if err != nil {
				return fmt.Errorf("type %d: %w", i, err)
			}
			r.pos += int(k)
		}
	}
	return nil
}

// checkElements walks the element segments, each of whose vectors of
// function indices or expressions is allocated by its count.
func checkElements(r *reader) error {
	n, err := r.count("element segments", maxElemSegments, 2)
	if err != nil {
		return err
	}
	for i := range n {
		if err := checkElement(r); err != nil {
			return fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	return nil
}

func checkElement(r *reader) error {
	flags, err := r.u32()
	if err != nil || flags > 7 {
		return fmt.Errorf("%w: want flags 0 to 7, found %d (%v)", ErrMalformed, flags, err)
	}
	if flags&3 == 2 { // an explicit table index
		if _, err := r.u32(); err != nil {
			return fmt.Errorf("%w: table index: %v", ErrMalformed, err)
		}
	}
	if flags&1 == 0 { // active: an offset
		if _, _, err := r.constExpr(); err != nil {
			return fmt.Errorf("%w: offset: %v", ErrMalformed, err)
		}
	}
	if flags&3 != 0 { // an element kind or reference type
		if _, err := r.byte(); err != nil {
			return fmt.Errorf("%w: element type: %v", ErrMalformed, err)
		}
	}
	if flags&4 == 0 {
		k, err := r.count("function indices", maxFunctions, 1)
		for j := uint32(0); err == nil && j < k; j++ {
			_, err = r.u32()
		}
		return err
	}
	k, err := r.count("element expressions", maxFunctions, 2)
	for j := uint32(0); err == nil && j < k; j++ {
		if _, _, err = r.constExpr(); err != nil {
			err = fmt.Errorf("%w: expression %d: %v", ErrMalformed, j, err)
		}
	}
	return err
}

// checkLocals checks each function body's local declarations, whose total
// a decoder allocates.
func checkLocals(r *reader) error {
	n, err := r.count("function bodies", maxFunctions, 2)
	if err != nil {
		return err
	}
	for i := range n {
		size, err := r.u32()
		if err != nil || uint64(size) > uint64(len(r.b)-r.pos) {
			return fmt.Errorf("%w: function body %d: its size (%d) is past the section's end", ErrMalformed, i, size)
		}
		end := r.pos + int(size)
		body := &reader{b: r.b[:end], pos: r.pos}
		decls, err := body.count("local declarations", maxLocals, 2)
		if err != nil {
			return fmt.Errorf("function body %d: %w", i, err)
		}
		var total uint64
		for range decls {
			k, err := body.u32()
			if err != nil {
				return fmt.Errorf("%w: function body %d: local count: %v", ErrMalformed, i, err)
			}
			if total += uint64(k); total > maxLocals {
				return fmt.Errorf("%w: function body %d declares more than %d locals", ErrUnsupported, i, maxLocals)
			}
			if _, err := body.byte(); err != nil {
				return fmt.Errorf("%w: function body %d: local type: %v", ErrMalformed, i, err)
			}
		}
		r.pos = end
	}
	return nil
}

// checkData walks the data segments, each of whose bytes are allocated by
// their count.
func checkData(r *reader) error {
	n, err := r.count("data segments", maxDataSegments, 2)
	if err != nil {
		return err
	}
	for i := range n {
		flags, err := r.u32()
		if err != nil || flags > 2 {
			return fmt.Errorf("%w: data segment %d: want flags 0 to 2, found %d (%v)", ErrMalformed, i, flags, err)
		}
		if flags == 2 {
			if _, err := r.u32(); err != nil {
				return fmt.Errorf("%w: data segment %d: memory index: %v", ErrMalformed, i, err)
			}
		}
		if flags != 1 {
			if _, _, err := r.constExpr(); err != nil {
				return fmt.Errorf("%w: data segment %d: offset: %v", ErrMalformed, i, err)
			}
		}
		k, err := r.count("bytes", 1<<32-1, 1)
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		r.pos += int(k)
	}
	return nil
}

// checkNames walks the function and local names of a "name" section.
func checkNames(r *reader) error {
	for r.pos < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil || uint64(size) > uint64(len(r.b)-r.pos) {
			return fmt.Errorf("%w: name subsection %d: its size (%d) is past the section's end", ErrMalformed, id, size)
		}
		sub := &reader{b: r.b[:r.pos+int(size)], pos: r.pos}
		r.pos += int(size)
		switch id {
		case 1: // function names: (index, name)*
			err = sub.checkNameMap()
		case 2: // local names: (function index, name map)*
			var n uint32
			n, err = sub.count("functions with local names", maxFunctions, 2)
			for j := uint32(0); err == nil && j < n; j++ {
				if _, err = sub.u32(); err == nil {
					err = sub.checkNameMap()
				}
			}
		}
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
	}
	return nil
}

func (r *reader) checkNameMap() error {
	n, err := r.count("names", maxFunctions, 2)
	for j := uint32(0); err == nil && j < n; j++ {
		if _, err = r.u32(); err == nil {
			err = r.name()
		}
		if err != nil {
			err = fmt.Errorf("%w: name %d: %v", ErrMalformed, j, err)
		}
	}
	return err
}
