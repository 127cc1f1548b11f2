package schema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

// Mode selects how a type is described.
type Mode int

const (
	// Input describes tool arguments: a property is required only when its
	// field is tagged "required", and null is accepted for optional ones.
	Input Mode = iota
	// Output describes structured results as encoding/json writes them: a
	// property is required unless its field has omitempty or omitzero, and
	// pointers, slices and maps that may be written as null say so.
	Output
)

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numberType      = reflect.TypeFor[json.Number]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textMarshType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// For derives the schema of t, which must describe a JSON object: a struct,
// a pointer to one, a map with string keys, or an empty interface or
// json.RawMessage (any object).
func For(t reflect.Type, mode Mode) (*Schema, error) {
	if t == nil {
		return nil, fmt.Errorf("nil type")
	}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	g := &gen{mode: mode}
	switch {
	case base == rawMessageType || base.Kind() == reflect.Interface && base.NumMethod() == 0,
		base.Kind() == reflect.Struct && !isTime(base) && isCustom(base):
		// Any object; a type that decodes itself checks its own input.
		return &Schema{Type: []string{"object"}}, nil
	case base.Kind() == reflect.Struct && !isTime(base) && !isCustom(base):
	case base.Kind() == reflect.Map && base.Key().Kind() == reflect.String && !isCustom(base):
	default:
		return nil, fmt.Errorf("%s does not describe a JSON object: use a struct or a map with string keys", t)
	}
	s, err := g.typeSchema(base)
	if err != nil {
		return nil, err
	}
	s.Type = []string{"object"} // the top level is never null
	return s, nil
}

type gen struct {
	mode  Mode
	stack []reflect.Type
}

// isCustom reports whether t (not a pointer) encodes itself.
func isCustom(t reflect.Type) bool {
	return t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

func isText(t reflect.Type) bool {
	return t.Implements(textMarshType) || reflect.PointerTo(t).Implements(textMarshType) ||
		t.Implements(textUnmarshType) || reflect.PointerTo(t).Implements(textUnmarshType)
}

// isTime reports whether t is time.Time. It compares names rather than
// referring to the type, which would link time's formatting and parsing
// code into every plugin.
func isTime(t reflect.Type) bool {
	return t.PkgPath() == "time" && t.Name() == "Time"
}

func types(t ...string) []string { return t }

func (g *gen) nullable(s *Schema) *Schema {
	if g.mode == Output && len(s.Type) > 0 && !s.HasType("null") {
		s.Type = append(s.Type, "null")
	}
	return s
}

func (g *gen) typeSchema(t reflect.Type) (*Schema, error) {
	if t.Kind() != reflect.Pointer {
		switch {
		case isTime(t):
			return &Schema{Type: types("string"), Format: "date-time"}, nil
		case t == rawMessageType:
			return &Schema{}, nil
		case t == numberType:
			return &Schema{Type: types("number")}, nil
		case isCustom(t):
			// A type that writes its own JSON may produce anything.
			return &Schema{}, nil
		case isText(t):
			return &Schema{Type: types("string")}, nil
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Schema{Type: types("boolean")}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &Schema{Type: types("integer")}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		zero := 0.0
		return &Schema{Type: types("integer"), Minimum: &zero}, nil
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: types("number")}, nil
	case reflect.String:
		return &Schema{Type: types("string")}, nil
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Pointer:
		s, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return g.nullable(s), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !isCustom(t.Elem()) && !isText(t.Elem()) {
			// encoding/json writes []byte as a base64 string.
			return g.nullable(&Schema{Type: types("string"), ContentEncoding: "base64"}), nil
		}
		items, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return g.nullable(&Schema{Type: types("array"), Items: items}), nil
	case reflect.Array:
		items, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		n := t.Len()
		return &Schema{Type: types("array"), Items: items, MinItems: &n, MaxItems: &n}, nil
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, isText(k),
			k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr:
		default:
			return nil, fmt.Errorf("map key type %s cannot be a JSON object key", k)
		}
		vals, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return g.nullable(&Schema{Type: types("object"), AdditionalProperties: vals}), nil
	case reflect.Struct:
		return g.structSchema(t)
	default:
		return nil, fmt.Errorf("type %s has no JSON form", t)
	}
}

func (g *gen) structSchema(t reflect.Type) (*Schema, error) {
	if slices.Contains(g.stack, t) {
		// Recursion: without $ref the inner occurrence can only be "an object".
		return &Schema{Type: types("object")}, nil
	}
	g.stack = append(g.stack, t)
	defer func() { g.stack = g.stack[:len(g.stack)-1] }()

	s := &Schema{Type: types("object"), Properties: []Property{}, NoAdditional: true}
	for _, f := range jsonv.Fields(t) {
		ps, err := g.typeSchema(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.GoName, err)
		}
		if f.Quoted {
			ps = &Schema{Type: types("string")}
		}
		if f.Omit && g.mode == Output {
			// Nil pointers, slices and maps are left out rather than null.
			switch f.Type.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map:
				ps.Type = slices.DeleteFunc(ps.Type, func(x string) bool { return x == "null" })
			}
		}
		tags, err := parseTags(f.Tag)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.GoName, err)
		}
		if err := tags.apply(ps); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.GoName, err)
		}
		required := tags.required
		if g.mode == Output {
			required = !f.Omit
		}
		s.Properties = append(s.Properties, Property{Name: f.Name, Schema: ps})
		if required {
			s.Required = append(s.Required, f.Name)
		}
	}
	return s, nil
}
