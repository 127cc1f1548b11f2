// Package canonjson encodes JSON documents canonically, so that two
// documents that mean the same thing encode to the same bytes whatever
// their key order, whitespace, string escapes or number spelling: object
// keys sorted by their UTF-16 code units (as RFC 8785 does), no
// insignificant whitespace, minimal string escapes and numbers in the
// shortest form that round-trips through an IEEE 754 double.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Parse accepts.
const MaxDepth = 200

// Value is a parsed JSON value: nil, bool, float64, string, []Value or
// Object.
type Value = any

// Object is a JSON object whose keys are unique.
type Object map[string]Value

// Parse parses one JSON value from data. It refuses invalid UTF-8,
// repeated object keys, trailing data, numbers outside the range of a
// double and nesting deeper than MaxDepth.
func Parse(data []byte) (Value, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of JSON input")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)
		}
		switch t {
		case '{':
			obj := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if _, dup := obj[k]; dup {
					return nil, fmt.Errorf("object key %q appears twice (before offset %d)", k, dec.InputOffset())
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []Value{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v at offset %d", t, dec.InputOffset())
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s does not fit in a double", t)
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// Canonical parses data and returns its canonical encoding.
func Canonical(data []byte) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Append(nil, v), nil
}

// Append appends the canonical encoding of v to dst.
func Append(dst []byte, v Value) []byte {
	return appendValue(dst, v, "", "")
}

// Indent encodes v like Append but with one member or element per line,
// indented by indent per level: the form used to show differences.
func Indent(v Value, indent string) string {
	return string(appendValue(nil, v, "\n", indent))
}

func appendValue(dst []byte, v Value, nl, indent string) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, t)
	case float64:
		return appendNumber(dst, t)
	case string:
		return appendString(dst, t)
	case []Value:
		if len(t) == 0 {
			return append(dst, "[]"...)
		}
		dst = append(dst, '[')
		inner := nl
		if nl != "" {
			inner = nl + indent
		}
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, inner...)
			dst = appendValue(dst, e, inner, indent)
		}
		dst = append(dst, nl...)
		return append(dst, ']')
	case Object:
		if len(t) == 0 {
			return append(dst, "{}"...)
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		dst = append(dst, '{')
		inner := nl
		sep := ":"
		if nl != "" {
			inner = nl + indent
			sep = ": "
		}
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, inner...)
			dst = appendString(dst, k)
			dst = append(dst, sep...)
			dst = appendValue(dst, t[k], inner, indent)
		}
		dst = append(dst, nl...)
		return append(dst, '}')
	}
	panic(fmt.Sprintf("canonjson: unexpected %T", v))
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts object keys.
func compareUTF16(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

// appendNumber writes f as ECMAScript's Number.prototype.toString does,
// the number form RFC 8785 prescribes.
func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes 1e-07 and 1e+21; ECMAScript writes 1e-7 and 1e+21.
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	dst = append(dst, mant...)
	dst = append(dst, 'e', sign)
	return append(dst, exp...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s with the escapes RFC 8785 requires: \" \\ \b \f
// \n \r \t, \u00XX for other control characters, everything else as is.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
