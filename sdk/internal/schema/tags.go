package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// isFlag reports whether k is a keyword written without a value.
func isFlag(k string) bool {
	switch k {
	case "required", "uniqueItems", "deprecated":
		return true
	}
	return false
}

// isValueKey reports whether k is a keyword written as key=value. (Switches
// rather than maps: a package-level map is built in every plugin instance.)
func isValueKey(k string) bool {
	switch k {
	case "description", "title", "enum", "default", "min", "max", "minimum", "maximum",
		"exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format",
		"minItems", "maxItems":
		return true
	}
	return false
}

type keyword struct {
	key   string
	value string
	flag  bool
}

// tagSet is the parsed `jsonschema` tag of one field.
type tagSet struct {
	required bool
	words    []keyword
}

// parseTags reads the `jsonschema:"..."` and `description:"..."` tags.
//
// The jsonschema tag is a comma-separated list of keywords. A segment that
// is neither a known flag nor a known key=value pair continues the previous
// value, so descriptions and patterns may contain commas:
// `jsonschema:"description=Host, port and path,required"`.
func parseTags(tag reflect.StructTag) (tagSet, error) {
	var ts tagSet
	raw, ok := tag.Lookup("jsonschema")
	if ok && strings.TrimSpace(raw) != "" {
		for _, seg := range strings.Split(raw, ",") {
			key, val, hasEq := strings.Cut(seg, "=")
			key = strings.TrimSpace(key)
			switch {
			case isFlag(key) && !hasEq:
				ts.words = append(ts.words, keyword{key: key, flag: true})
			case isFlag(key) && hasEq:
				b, err := strconv.ParseBool(strings.TrimSpace(val))
				if err != nil {
					return ts, fmt.Errorf("jsonschema tag: %s=%q: expected true or false", key, val)
				}
				if b {
					ts.words = append(ts.words, keyword{key: key, flag: true})
				}
			case isValueKey(key) && hasEq:
				ts.words = append(ts.words, keyword{key: key, value: val})
			case len(ts.words) > 0 && !ts.words[len(ts.words)-1].flag:
				ts.words[len(ts.words)-1].value += "," + seg
			case strings.TrimSpace(seg) == "":
				// Tolerate empty segments such as a trailing comma.
			default:
				return ts, fmt.Errorf("jsonschema tag: unknown keyword %q (known: required, description, title, enum, default, min, max, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, format, minItems, maxItems, uniqueItems, deprecated)", strings.TrimSpace(seg))
			}
		}
	}
	for i := range ts.words {
		ts.words[i].value = strings.TrimSpace(ts.words[i].value)
		if ts.words[i].key == "required" {
			ts.required = true
		}
	}
	if d, ok := tag.Lookup("description"); ok {
		ts.words = append(ts.words, keyword{key: "description", value: d})
	}
	return ts, nil
}

// primary is the schema's first non-null type, or "" for any.
func primary(s *Schema) string {
	for _, t := range s.Type {
		if t != "null" {
			return t
		}
	}
	return ""
}

// valueTarget is where value constraints go: the items of an array, the
// schema itself otherwise.
func valueTarget(s *Schema) *Schema {
	if primary(s) == "array" && s.Items != nil {
		return s.Items
	}
	return s
}

func (ts tagSet) apply(s *Schema) error {
	for _, w := range ts.words {
		if err := applyOne(s, w); err != nil {
			return fmt.Errorf("jsonschema tag %s: %w", w.key, err)
		}
	}
	return nil
}

func applyOne(s *Schema, w keyword) error {
	switch w.key {
	case "required":
		return nil
	case "description":
		s.Description = w.value
	case "title":
		s.Title = w.value
	case "deprecated":
		s.Deprecated = true
	case "default":
		v, err := literal(s, w.value)
		if err != nil {
			return err
		}
		s.Default = v
	case "enum":
		t := valueTarget(s)
		if p := primary(t); p == "object" || p == "array" {
			return fmt.Errorf("enum needs a scalar type, not %s", p)
		}
		var vals []any
		for _, tok := range strings.Split(w.value, "|") {
			v, err := scalar(t, strings.TrimSpace(tok))
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		if t.HasType("null") {
			vals = append(vals, nil)
		}
		t.Enum = vals
	case "min", "max":
		n, err := strconv.ParseFloat(w.value, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", w.value)
		}
		switch primary(s) {
		case "array":
			return setCount(&s.MinItems, &s.MaxItems, w)
		case "string":
			return setCount(&s.MinLength, &s.MaxLength, w)
		case "integer", "number":
			if w.key == "min" {
				s.Minimum = &n
			} else {
				s.Maximum = &n
			}
		default:
			return fmt.Errorf("needs a string, number or array field, not %s", describeTypes(s))
		}
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		t := valueTarget(s)
		if p := primary(t); p != "integer" && p != "number" {
			return fmt.Errorf("needs a number field, not %s", describeTypes(t))
		}
		n, err := strconv.ParseFloat(w.value, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", w.value)
		}
		switch w.key {
		case "minimum":
			t.Minimum = &n
		case "maximum":
			t.Maximum = &n
		case "exclusiveMinimum":
			t.ExclusiveMinimum = &n
		default:
			t.ExclusiveMaximum = &n
		}
	case "minLength", "maxLength", "pattern", "format":
		t := valueTarget(s)
		if primary(t) != "string" {
			return fmt.Errorf("needs a string field, not %s", describeTypes(t))
		}
		switch w.key {
		case "minLength":
			return setCount(&t.MinLength, nil, w)
		case "maxLength":
			return setCount(nil, &t.MaxLength, w)
		case "pattern":
			// Published for hosts and clients, not checked in the guest:
			// linking regexp would add its Unicode tables to every plugin
			// and their construction to every instance's start-up.
			if w.value == "" {
				return fmt.Errorf("empty pattern")
			}
			t.Pattern = w.value
		default:
			t.Format = w.value
		}
	case "minItems", "maxItems", "uniqueItems":
		if primary(s) != "array" {
			return fmt.Errorf("needs a slice or array field, not %s", describeTypes(s))
		}
		switch w.key {
		case "minItems":
			return setCount(&s.MinItems, nil, w)
		case "maxItems":
			return setCount(nil, &s.MaxItems, w)
		default:
			s.UniqueItems = true
		}
	}
	return nil
}

func setCount(lo, hi **int, w keyword) error {
	n, err := strconv.Atoi(w.value)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a non-negative integer", w.value)
	}
	if strings.HasPrefix(w.key, "min") && lo != nil {
		*lo = &n
	} else if hi != nil {
		*hi = &n
	}
	return nil
}

func describeTypes(s *Schema) string {
	if len(s.Type) == 0 {
		return "any"
	}
	return strings.Join(s.Type, " or ")
}

// scalar parses one enum or default token as a value of the schema's type.
func scalar(s *Schema, tok string) (any, error) {
	switch primary(s) {
	case "string":
		return tok, nil
	case "integer":
		if _, err := strconv.ParseInt(tok, 10, 64); err != nil {
			if _, err := strconv.ParseUint(tok, 10, 64); err != nil {
				return nil, fmt.Errorf("%q is not an integer", tok)
			}
		}
		return json.Number(tok), nil
	case "number":
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", tok)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "boolean":
		b, err := strconv.ParseBool(tok)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", tok)
		}
		return b, nil
	default:
		// Any type: a JSON literal if it is one, otherwise a string.
		d := json.NewDecoder(strings.NewReader(tok))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err == nil && !d.More() && json.Valid([]byte(tok)) {
			return v, nil
		}
		return tok, nil
	}
}

// literal parses a default value: a plain token for scalar types, a JSON
// literal for arrays and objects.
func literal(s *Schema, tok string) (json.RawMessage, error) {
	switch primary(s) {
	case "array", "object":
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(tok)); err != nil {
			return nil, fmt.Errorf("%q is not a JSON %s: %v", tok, primary(s), err)
		}
		return b.Bytes(), nil
	}
	v, err := scalar(s, tok)
	if err != nil {
		return nil, err
	}
	return marshal(v)
}
