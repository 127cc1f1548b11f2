// Package wasmbin reads and edits the section structure of a WebAssembly
// binary without decoding its code: enough to find, add and replace custom
// sections such as "warden.manifest".
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error about a binary that is not a
// well-formed sequence of WebAssembly sections.
var ErrMalformed = errors.New("malformed WebAssembly binary")

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Section is one section of a module. For custom sections (ID 0), Name is
// the section's name and Payload what follows it.
type Section struct {
	ID      byte
	Name    string
	Payload []byte
	// Start and End are the byte offsets of the whole section, including
	// its ID and size.
	Start, End int
}

// Sections splits b into its sections. It checks the header, that every
// section fits, and that custom section names are valid UTF-8.
func Sections(b []byte) ([]Section, error) {
	if len(b) < len(header) || !bytes.Equal(b[:4], header[:4]) {
		return nil, fmt.Errorf("%w: missing the \\0asm magic number", ErrMalformed)
	}
	if !bytes.Equal(b[4:8], header[4:]) {
		return nil, fmt.Errorf("%w: version % x, want 01 00 00 00", ErrMalformed, b[4:8])
	}
	var out []Section
	pos := len(header)
	for pos < len(b) {
		start := pos
		id := b[pos]
		pos++
		size, n, err := uleb32(b[pos:])
		if err != nil {
			return nil, fmt.Errorf("%w: section at offset %d: size: %v", ErrMalformed, start, err)
		}
		pos += n
		if uint64(size) > uint64(len(b)-pos) {
			return nil, fmt.Errorf("%w: section %d at offset %d is %d bytes but only %d remain", ErrMalformed, id, start, size, len(b)-pos)
		}
		body := b[pos : pos+int(size)]
		pos += int(size)
		s := Section{ID: id, Payload: body, Start: start, End: pos}
		if id == 0 {
			nlen, n, err := uleb32(body)
			if err != nil || uint64(nlen) > uint64(len(body)-n) {
				return nil, fmt.Errorf("%w: custom section at offset %d: bad name length", ErrMalformed, start)
			}
			name := body[n : n+int(nlen)]
			if !utf8.Valid(name) {
				return nil, fmt.Errorf("%w: custom section at offset %d: name is not UTF-8", ErrMalformed, start)
			}
			s.Name, s.Payload = string(name), body[n+int(nlen):]
		}
		out = append(out, s)
	}
	return out, nil
}

// CustomSection returns the payload of the custom section called name. It
// reports an error when the binary is malformed or holds more than one
// section of that name (an ambiguity an attacker could exploit).
func CustomSection(b []byte, name string) (payload []byte, found bool, err error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, false, err
	}
	for _, s := range secs {
		if s.ID == 0 && s.Name == name {
			if found {
				return nil, false, fmt.Errorf("%w: more than one %q custom section", ErrMalformed, name)
			}
			payload, found = s.Payload, true
		}
	}
	return payload, found, nil
}

// SetCustomSection returns a copy of b in which every custom section called
// name is removed and one with payload is appended at the end.
func SetCustomSection(b []byte, name string, payload []byte) ([]byte, error) {
	secs, err := Sections(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(payload)+len(name)+16)
	out = append(out, header...)
	for _, s := range secs {
		if s.ID == 0 && s.Name == name {
			continue
		}
		out = append(out, b[s.Start:s.End]...)
	}
	body := appendUleb(nil, uint32(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out = append(out, 0)
	out = appendUleb(out, uint32(len(body)))
	return append(out, body...), nil
}

func uleb32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated LEB128")
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, 0, errors.New("LEB128 overflows 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("LEB128 longer than 5 bytes")
}

func appendUleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}
