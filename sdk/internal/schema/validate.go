package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxErrors bounds how many problems Validate reports.
const maxErrors = 8

// Error is one way in which a value does not match its schema.
type Error struct {
	// Path locates the value: "" for the top level, then property names
	// joined by dots and array indexes in brackets, e.g. "items[2].id".
	Path string
	// Msg says what was expected and what was found.
	Msg string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Validate checks v, a value decoded by encoding/json with UseNumber, against
// s and returns at most a handful of problems, in a stable order. Every
// keyword is checked except pattern and format, which are left to the host.
func (s *Schema) Validate(v any) []*Error {
	var errs []*Error
	s.validate("", v, &errs)
	return errs
}

func add(errs *[]*Error, path, format string, args ...any) {
	if len(*errs) < maxErrors {
		*errs = append(*errs, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// jsonType names the JSON type of a decoded value; numbers that are whole
// in their written form are "integer".
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if isInteger(x) {
			return "integer"
		}
		return "number"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func isInteger(n json.Number) bool {
	s := string(n)
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func typeMatches(want, got string) bool {
	return want == got || want == "number" && got == "integer"
}

// preview describes a found value briefly: its type and, for scalars, a
// shortened JSON form.
func preview(v any) string {
	t := jsonType(v)
	switch t {
	case "object":
		return "an object"
	case "array":
		return fmt.Sprintf("an array of %d", len(v.([]any)))
	case "null":
		return "null"
	case "integer":
		t = "number"
	}
	b, err := marshal(v)
	if err != nil {
		return t
	}
	text := string(b)
	if utf8.RuneCountInString(text) > 48 {
		r := []rune(text)
		text = string(r[:45]) + "…"
	}
	return t + " " + text
}

func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an " + t
	}
	return "a " + t
}

func describeExpected(types []string) string {
	var parts []string
	for _, t := range types {
		if t == "null" {
			parts = append(parts, "null")
		} else {
			parts = append(parts, article(t))
		}
	}
	return strings.Join(parts, " or ")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return f, true
	case float64:
		return x, true
	}
	return 0, false
}

func equal(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA && okB {
		if na, ok := a.(json.Number); ok {
			if nb, ok := b.(json.Number); ok && na == nb {
				return true
			}
		}
		return fa == fb
	}
	switch x := a.(type) {
	case nil, bool, string:
		return a == b
	case []any, map[string]any:
		ja, errA := marshal(x)
		jb, errB := marshal(b)
		return errA == nil && errB == nil && string(ja) == string(jb)
	}
	return false
}

func (s *Schema) validate(path string, v any, errs *[]*Error) {
	if len(*errs) >= maxErrors {
		return
	}
	got := jsonType(v)
	if len(s.Type) > 0 && !slices.ContainsFunc(s.Type, func(t string) bool { return typeMatches(t, got) }) {
		add(errs, path, "expected %s, found %s", describeExpected(s.Type), preview(v))
		return
	}
	if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return equal(e, v) }) {
		var opts []string
		for _, e := range s.Enum {
			b, _ := marshal(e)
			opts = append(opts, string(b))
		}
		add(errs, path, "expected one of %s, found %s", strings.Join(opts, ", "), preview(v))
		return
	}
	switch x := v.(type) {
	case string:
		if s.MinLength != nil || s.MaxLength != nil {
			n := utf8.RuneCountInString(x)
			if s.MinLength != nil && n < *s.MinLength {
				add(errs, path, "expected at least %d characters, found %d", *s.MinLength, n)
			}
			if s.MaxLength != nil && n > *s.MaxLength {
				add(errs, path, "expected at most %d characters, found %d", *s.MaxLength, n)
			}
		}
	case json.Number, float64:
		f, _ := toFloat(x)
		num := strconv.FormatFloat(f, 'g', -1, 64)
		if s.Minimum != nil && f < *s.Minimum {
			add(errs, path, "expected a number >= %g, found %s", *s.Minimum, num)
		}
		if s.Maximum != nil && f > *s.Maximum {
			add(errs, path, "expected a number <= %g, found %s", *s.Maximum, num)
		}
		if s.ExclusiveMinimum != nil && f <= *s.ExclusiveMinimum {
			add(errs, path, "expected a number > %g, found %s", *s.ExclusiveMinimum, num)
		}
		if s.ExclusiveMaximum != nil && f >= *s.ExclusiveMaximum {
			add(errs, path, "expected a number < %g, found %s", *s.ExclusiveMaximum, num)
		}
	case []any:
		if s.MinItems != nil && len(x) < *s.MinItems {
			add(errs, path, "expected at least %d items, found %d", *s.MinItems, len(x))
		}
		if s.MaxItems != nil && len(x) > *s.MaxItems {
			add(errs, path, "expected at most %d items, found %d", *s.MaxItems, len(x))
		}
		if s.UniqueItems {
		dup:
			for i := range x {
				for j := 0; j < i; j++ {
					if equal(x[i], x[j]) {
						add(errs, path, "expected unique items, found item %d repeating item %d", i, j)
						break dup
					}
				}
			}
		}
		if s.Items != nil {
			for i, item := range x {
				s.Items.validate(fmt.Sprintf("%s[%d]", path, i), item, errs)
			}
		}
	case map[string]any:
		s.validateObject(path, x, errs)
	}
}

func (s *Schema) validateObject(path string, obj map[string]any, errs *[]*Error) {
	for _, name := range s.Required {
		if _, ok := obj[name]; !ok {
			want := ""
			if p := s.Property(name); p != nil && len(p.Type) > 0 {
				want = " (expected " + describeExpected(p.Type) + ")"
			}
			add(errs, join(path, name), "required property is missing%s", want)
		}
	}
	for _, p := range s.Properties {
		val, ok := obj[p.Name]
		if !ok || val == nil && !s.isRequired(p.Name) {
			// Absent, or null for an optional property: the zero value.
			continue
		}
		p.Schema.validate(join(path, p.Name), val, errs)
	}
	var extra []string
	for name := range obj {
		if s.Property(name) == nil {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		switch {
		case s.NoAdditional:
			var known []string
			for _, p := range s.Properties {
				known = append(known, strconv.Quote(p.Name))
			}
			if len(known) == 0 {
				add(errs, join(path, name), "unexpected property (expected no properties)")
			} else {
				add(errs, join(path, name), "unexpected property (expected only %s)", strings.Join(known, ", "))
			}
		case s.AdditionalProperties != nil:
			s.AdditionalProperties.validate(join(path, name), obj[name], errs)
		}
	}
}
