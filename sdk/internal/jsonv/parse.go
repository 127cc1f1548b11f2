// Package jsonv parses JSON into plain values, writes them back, and decodes
// them into Go values with encoding/json's rules.
//
// It exists because encoding/json scans every byte through a state machine
// of indirect calls, which costs about 0.3 µs per byte in a wasip1 module:
// 1 MiB of tool arguments took a second to decode. Parse, Append and Decode
// use tight loops instead, and the arguments are parsed once for both
// validation and decoding.
//
// Values are those encoding/json produces with UseNumber: nil, bool,
// string, json.Number, []any and map[string]any.
package jsonv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Parse accepts, the
// same limit as encoding/json's.
const MaxDepth = 10000

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset)
}

type parser struct {
	data  []byte
	i     int
	depth int
	skip  bool // validate only: build no values (value returns nil)
}

// Parse parses one JSON value, surrounded by optional white space. It
// accepts exactly what encoding/json accepts and produces the same values
// (invalid UTF-8 and unpaired surrogates become U+FFFD).
func Parse(data []byte) (any, error) {
	p := &parser{data: data}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.data) {
		return nil, p.errorf("invalid character %s after top-level value", quoteChar(p.data[p.i]))
	}
	return v, nil
}

// Members parses data as one JSON object, surrounded by optional white
// space, and calls fn with each member's key (unescaped) and the bytes of
// its value, in order, without building the values: a caller that wants
// only some members parses only those (Parse them). It accepts exactly the
// objects Parse accepts; an error from fn stops it and is returned.
func Members(data []byte, fn func(key, value []byte) error) error {
	p := &parser{data: data, skip: true}
	p.space()
	if p.i >= len(data) {
		return p.unexpectedEnd()
	}
	if data[p.i] != '{' {
		return p.errorf("invalid character %s looking for beginning of object", quoteChar(data[p.i]))
	}
	if _, err := p.object(fn); err != nil {
		return err
	}
	p.space()
	if p.i < len(data) {
		return p.errorf("invalid character %s after top-level value", quoteChar(data[p.i]))
	}
	return nil
}

// plainLiteral reports whether the bytes of a string literal need no unescaping:
// no escapes, all ASCII.
func plainLiteral(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: int64(p.i)}
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(rune(c)) + "'"
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) unexpectedEnd() error {
	return p.errorf("unexpected end of JSON input")
}

func (p *parser) value() (any, error) {
	if p.i >= len(p.data) {
		return nil, p.unexpectedEnd()
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(nil)
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("invalid character %s looking for beginning of value", quoteChar(c))
	}
}

func (p *parser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) {
			return p.unexpectedEnd()
		}
		if p.data[p.i] != word[k] {
			return p.errorf("invalid character %s in literal %s (expecting %s)", quoteChar(p.data[p.i]), word, quoteChar(word[k]))
		}
		p.i++
	}
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf("exceeded max depth")
	}
	return nil
}

// object parses an object; member, when not nil, is given each member's
// unescaped key and the bytes of its value (Members).
func (p *parser) object(member func(key, value []byte) error) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // '{'
	var obj map[string]any
	if !p.skip {
		obj = map[string]any{}
	}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		if p.i >= len(p.data) {
			return nil, p.unexpectedEnd()
		}
		if p.data[p.i] != '"' {
			return nil, p.errorf("invalid character %s looking for beginning of object key string", quoteChar(p.data[p.i]))
		}
		ks := p.i
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		ke := p.i
		p.space()
		if p.i >= len(p.data) {
			return nil, p.unexpectedEnd()
		}
		if p.data[p.i] != ':' {
			return nil, p.errorf("invalid character %s after object key", quoteChar(p.data[p.i]))
		}
		p.i++
		p.space()
		vs := p.i
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.skip {
			obj[key.(string)] = v
		}
		if member != nil {
			k := p.data[ks+1 : ke-1] // between the quotes
			if !plainLiteral(k) {
				k = []byte(unquote(k))
			}
			if err := member(k, p.data[vs:p.i]); err != nil {
				return nil, err
			}
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, p.unexpectedEnd()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return obj, nil
		default:
			return nil, p.errorf("invalid character %s after object key:value pair", quoteChar(p.data[p.i]))
		}
	}
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // '['
	var arr []any
	if !p.skip {
		arr = []any{}
	}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return arr, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.skip {
			arr = append(arr, v)
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, p.unexpectedEnd()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return arr, nil
		default:
			return nil, p.errorf("invalid character %s after array element", quoteChar(p.data[p.i]))
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *parser) number() (any, error) {
	start := p.i
	d := p.data
	if d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i >= len(d):
		return nil, p.unexpectedEnd()
	case d[p.i] == '0':
		p.i++
	case isDigit(d[p.i]):
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	default:
		return nil, p.errorf("invalid character %s in numeric literal", quoteChar(d[p.i]))
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if p.i >= len(d) {
			return nil, p.unexpectedEnd()
		}
		if !isDigit(d[p.i]) {
			return nil, p.errorf("invalid character %s after decimal point in numeric literal", quoteChar(d[p.i]))
		}
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if p.i >= len(d) {
			return nil, p.unexpectedEnd()
		}
		if !isDigit(d[p.i]) {
			return nil, p.errorf("invalid character %s in exponent of numeric literal", quoteChar(d[p.i]))
		}
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	}
	if p.skip {
		return nil, nil
	}
	return json.Number(d[start:p.i]), nil
}

// string parses a string literal starting at the opening quote. Strings
// without escapes or invalid UTF-8 are copied in one allocation.
func (p *parser) string() (any, error) {
	d := p.data
	p.i++ // '"'
	start := p.i
	simple := true
	for {
		if p.i >= len(d) {
			return nil, p.unexpectedEnd()
		}
		c := d[p.i]
		switch {
		case c == '"':
			if p.skip {
				p.i++
				return nil, nil
			}
			if simple {
				s := string(d[start:p.i])
				p.i++
				return s, nil
			}
			s := unquote(d[start:p.i])
			p.i++
			return s, nil
		case c == '\\':
			simple = false
			p.i++
			if p.i >= len(d) {
				return nil, p.unexpectedEnd()
			}
			switch d[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for k := 0; k < 4; k++ {
					if p.i >= len(d) {
						return nil, p.unexpectedEnd()
					}
					if !isHex(d[p.i]) {
						return nil, p.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(d[p.i]))
					}
					p.i++
				}
			default:
				return nil, p.errorf("invalid character %s in string escape code", quoteChar(d[p.i]))
			}
		case c < 0x20:
			return nil, p.errorf("invalid character %s in string literal", quoteChar(c))
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(d[p.i:])
			if r == utf8.RuneError && size == 1 {
				simple = false
			}
			p.i += size
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes the body of a string literal already checked by string().
func unquote(s []byte) string {
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, hex4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, s[r:r+size]...)
			}
			r += size
		}
	}
	return string(b)
}
