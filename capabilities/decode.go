package capabilities

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parser walks a YAML node tree (or one built from JSON) field by field,
// collecting every problem with its position and remembering the line of
// each field it visits.
type parser struct {
	file string
	// json is set when the nodes were built from JSON: scalars then keep
	// their JSON types, so a number is not accepted where a string is due.
	json bool
	errs ErrorList
	// lines maps field paths ("network.allow[0].host") to their line.
	lines map[string]int
}

func newParser(file string) *parser {
	return &parser{file: file, lines: map[string]int{}}
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &FieldError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

func (p *parser) record(field string, n *yaml.Node) {
	if n != nil && n.Line > 0 {
		p.lines[field] = n.Line
	}
}

// parseYAMLDocument parses exactly one YAML document and returns its root
// node. Empty input, several documents, anchors, aliases and unusual tags
// are refused.
func parseYAMLDocument(file string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// A YAML library panic on hostile input must not take the host down.
		if r := recover(); r != nil {
			root, err = nil, ErrorList{{File: file, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	if !utf8.Valid(data) {
		return nil, ErrorList{{File: file, Msg: "invalid UTF-8"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{File: file, Line: 1, Msg: "the file is empty"}}
		}
		return nil, ErrorList{syntaxError(file, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, ErrorList{syntaxError(file, err)}
	default:
		return nil, ErrorList{{File: file, Line: next.Line, Column: next.Column,
			Msg: "more than one YAML document (---); want exactly one"}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, ErrorList{{File: file, Line: 1, Msg: "the file is empty"}}
	}
	var errs ErrorList
	stack := []*yaml.Node{doc.Content[0]}
	for len(stack) > 0 && len(errs) < maxErrors {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch {
		case n.Kind == yaml.AliasNode:
			errs = append(errs, &FieldError{File: file, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("alias *%s: anchors and aliases are not allowed; write the value out", n.Value)})
		case n.Anchor != "":
			errs = append(errs, &FieldError{File: file, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("anchor &%s: anchors and aliases are not allowed; write the value out", n.Anchor)})
		case !plainTag(n):
			errs = append(errs, &FieldError{File: file, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("tag %s is not allowed", n.Tag)})
		}
		stack = append(stack, n.Content...)
	}
	if err := errs.finish(); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

// plainTag reports whether n carries one of the YAML core tags.
func plainTag(n *yaml.Node) bool {
	switch n.Tag {
	case "", "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!merge":
		return true
	}
	return false
}

// maxJSONDepth bounds nesting in JSON input; a valid manifest nests four deep.
const maxJSONDepth = 32

// parseJSONDocument parses exactly one JSON value into a YAML node tree with
// line and column positions, so that JSON and YAML documents share one
// validator. Invalid UTF-8, trailing data and deep nesting are refused.
func parseJSONDocument(data []byte) (*yaml.Node, error) {
	if !utf8.Valid(data) {
		return nil, ErrorList{{Msg: "invalid UTF-8"}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrorList{{Msg: "empty document"}}
	}
	b := &jsonBuilder{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	b.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			b.lineStarts = append(b.lineStarts, i+1)
		}
	}
	n, err := b.value(0)
	if err == nil {
		if _, terr := b.dec.Token(); !errors.Is(terr, io.EOF) {
			err = b.errAt("unexpected data after the JSON value")
		}
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

type jsonBuilder struct {
	data       []byte
	dec        *json.Decoder
	lineStarts []int
}

// pos converts the decoder's offset (the end of the last token) into a line
// and column.
func (b *jsonBuilder) pos() (line, col int) {
	off := int(b.dec.InputOffset())
	for off < len(b.data) && strings.IndexByte(" \t\r\n:,", b.data[off]) >= 0 {
		off++
	}
	i := sort.SearchInts(b.lineStarts, off+1)
	start := 0
	if i > 0 {
		start = b.lineStarts[i-1]
	}
	return i + 1, off - start + 1
}

func (b *jsonBuilder) errAt(msg string) error {
	line, col := b.pos()
	return ErrorList{{Line: line, Column: col, Msg: msg}}
}

func (b *jsonBuilder) jsonErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return b.errAt("invalid JSON: unexpected end of input")
	}
	return b.errAt("invalid JSON: " + strings.TrimPrefix(err.Error(), "json: "))
}

func (b *jsonBuilder) value(depth int) (*yaml.Node, error) {
	if depth > maxJSONDepth {
		return nil, b.errAt("JSON nested too deeply")
	}
	line, col := b.pos()
	tok, err := b.dec.Token()
	if err != nil {
		return nil, b.jsonErr(err)
	}
	n := &yaml.Node{Line: line, Column: col}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
			for b.dec.More() {
				kl, kc := b.pos()
				ktok, err := b.dec.Token()
				if err != nil {
					return nil, b.jsonErr(err)
				}
				key, ok := ktok.(string)
				if !ok {
					return nil, b.errAt("invalid JSON: object key is not a string")
				}
				v, err := b.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: kl, Column: kc}, v)
			}
		case '[':
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
			for b.dec.More() {
				v, err := b.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
		default:
			return nil, b.errAt("invalid JSON: unexpected " + t.String())
		}
		if _, err := b.dec.Token(); err != nil {
			return nil, b.jsonErr(err)
		}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Value = yaml.ScalarNode, string(t)
		n.Tag = "!!float"
		if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			n.Tag = "!!int"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", strconv.FormatBool(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	}
	return n, nil
}

// isNull reports whether n is absent or an explicit null ("~", "null" or
// nothing after the colon); a null field counts as not set.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalarTextual reports whether a YAML scalar may be read as text: strings,
// and numbers as written (so "version: 1.0" is read as "1.0").
func scalarTextual(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float":
		return true
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return strconv.Quote(n.Value)
	}
	return "an unexpected value"
}

// fields checks that n is a mapping whose keys are all known and distinct,
// and returns the value of each key. A null n is an empty mapping. It
// returns ok=false (after reporting) when n is not a mapping.
func (p *parser) fields(n *yaml.Node, field, want string, known ...string) (map[string]*yaml.Node, bool) {
	if isNull(n) {
		return map[string]*yaml.Node{}, true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want %s, found %s", want, kindName(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := joinField(field, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, field, "a key must be a plain name, found %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, sub, "set twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		if !contains(known, k.Value) {
			if hint := suggest(k.Value, known); hint != "" {
				p.errorf(k, sub, "unknown field (did you mean %s?)", hint)
			} else {
				p.errorf(k, sub, "unknown field (want %s)", orList(known))
			}
			continue
		}
		p.record(sub, k)
		out[k.Value] = v
	}
	return out, true
}

// list checks that n is a sequence and returns its items; a null n is an
// empty list.
func (p *parser) list(n *yaml.Node, field, want string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "want %s, found %s", want, kindName(n))
		return nil, false
	}
	return n.Content, true
}

// str reads a string field. It returns ok=false when the field is absent,
// null or invalid (after reporting the latter).
func (p *parser) str(n *yaml.Node, field string) (string, bool) {
	return p.text(n, field, false)
}

// required reads a string field like str, and reports it as missing (with
// what is wanted) when the mapping parent lacks it; a present but invalid
// value is reported by str.
func (p *parser) required(parent, n *yaml.Node, field, want string) (string, bool) {
	if isNull(n) {
		p.errorf(parent, field, "is required (want %s)", want)
		return "", false
	}
	return p.str(n, field)
}

// text reads a string field like str; with multiline, line feeds and tabs
// are allowed in it.
func (p *parser) text(n *yaml.Node, field string, multiline bool) (string, bool) {
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || !scalarTextual(n) || p.json && n.ShortTag() != "!!str" {
		p.errorf(n, field, "want a string, found %s", kindName(n))
		return "", false
	}
	if bad := badRune(n.Value, multiline); bad != "" {
		p.errorf(n, field, "%q contains %s, which is not allowed", n.Value, bad)
		return "", false
	}
	return n.Value, true
}

// badRune names the first control or invisible formatting character in s,
// which could hide text from a reviewer, or returns "".
func badRune(s string, multiline bool) string {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return fmt.Sprintf("the character %U", r)
		}
	}
	return ""
}

func (p *parser) integer(n *yaml.Node, field, want string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" && n.ShortTag() != "!!float" {
		p.errorf(n, field, "want %s, found %s", want, kindName(n))
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil || n.ShortTag() != "!!int" {
		p.errorf(n, field, "%s is not allowed (want %s)", n.Value, want)
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	if isNull(n) {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errorf(n, field, "want true or false, found %s", kindName(n))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		p.errorf(n, field, "want true or false, found %s", kindName(n))
		return false, false
	}
	return v, true
}

// limits reads a limits mapping; both grants and manifests use it.
func (p *parser) limits(n *yaml.Node, field string) Limits {
	var l Limits
	names := make([]string, len(limitFields))
	for i, f := range limitFields {
		names[i] = f.name
	}
	m, ok := p.fields(n, field, "a mapping of limits", names...)
	if !ok {
		return l
	}
	for _, f := range limitFields {
		v := m[f.name]
		if isNull(v) {
			continue
		}
		sub := field + "." + f.name
		textual := v.Kind == yaml.ScalarNode && scalarTextual(v) &&
			(!p.json || v.ShortTag() == "!!str" || f.size != nil && v.ShortTag() == "!!int")
		if f.size != nil {
			if !textual {
				p.errorf(v, sub, "want a size such as 64MiB, found %s", kindName(v))
				continue
			}
			s, err := ParseSize(v.Value)
			switch {
			case err != nil:
				p.errorf(v, sub, "%v", err)
			case s <= 0:
				p.errorf(v, sub, "must be more than 0 (leave it out for the default)")
			case f.name == "memory" && s > hardMemoryLimit:
				p.errorf(v, sub, "%s is more than a WebAssembly module can address (at most 4GiB)", s)
			default:
				*f.size(&l) = s
			}
			continue
		}
		if !textual {
			p.errorf(v, sub, "want a duration such as 10s, found %s", kindName(v))
			continue
		}
		d, err := ParseDuration(v.Value)
		switch {
		case err != nil:
			p.errorf(v, sub, "%v", err)
		case d <= 0:
			p.errorf(v, sub, "must be more than 0 (leave it out for the default)")
		default:
			*f.duration(&l) = d
		}
	}
	return l
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// orList formats a list of alternatives: "a", "a or b", "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// suggest returns the known name closest to s, if one is close enough, or
// "".
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, s) {
			return k
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || len(s) < 3 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
