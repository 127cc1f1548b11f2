package schema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
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
	timeType        = reflect.TypeFor[time.Time]()
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
		base.Kind() == reflect.Struct && base != timeType && isCustom(base):
		// Any object; a type that decodes itself checks its own input.
		return &Schema{Type: []string{"object"}}, nil
	case base.Kind() == reflect.Struct && base != timeType && !isCustom(base):
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
		case t == timeType:
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
	for _, f := range fields(t) {
		ps, err := g.typeSchema(f.typ)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.goName, err)
		}
		if f.quoted {
			ps = &Schema{Type: types("string")}
		}
		if f.omit && g.mode == Output {
			// Nil pointers, slices and maps are left out rather than null.
			switch f.typ.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map:
				ps.Type = slices.DeleteFunc(ps.Type, func(x string) bool { return x == "null" })
			}
		}
		tags, err := parseTags(f.tag)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.goName, err)
		}
		if err := tags.apply(ps); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.goName, err)
		}
		required := tags.required
		if g.mode == Output {
			required = !f.omit
		}
		s.Properties = append(s.Properties, Property{Name: f.name, Schema: ps})
		if required {
			s.Required = append(s.Required, f.name)
		}
	}
	return s, nil
}

// field is a struct field as encoding/json sees it.
type field struct {
	name   string
	goName string
	index  []int
	depth  int
	typ    reflect.Type
	tag    reflect.StructTag
	tagged bool // the name comes from a json tag
	omit   bool // omitempty or omitzero
	quoted bool // ",string"
}

// fields lists the JSON fields of struct type t following encoding/json's
// rules: embedded structs are flattened, a shallower field hides deeper ones
// of the same name, and at equal depth a tagged name wins over untagged ones
// while two equally good fields cancel each other.
func fields(t reflect.Type) []field {
	type embedded struct {
		t     reflect.Type
		index []int
	}
	var all []field
	next := []embedded{{t: t}}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(next) > 0; depth++ {
		current := next
		next = nil
		for _, e := range current {
			if visited[e.t] {
				continue
			}
			visited[e.t] = true
			for i := 0; i < e.t.NumField(); i++ {
				sf := e.t.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(slices.Clone(e.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, embedded{t: ft, index: index})
					continue
				}
				f := field{
					name:   name,
					goName: sf.Name,
					index:  index,
					depth:  depth,
					typ:    sf.Type,
					tag:    sf.Tag,
					tagged: name != "",
				}
				if f.name == "" {
					f.name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omit = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.String,
							reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64:
							f.quoted = true
						}
					}
				}
				all = append(all, f)
			}
		}
	}
	byName := map[string][]field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var out []field
	for _, name := range order {
		if f, ok := dominant(byName[name]); ok {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return out
}

func dominant(fs []field) (field, bool) {
	minDepth := fs[0].depth
	for _, f := range fs {
		minDepth = min(minDepth, f.depth)
	}
	var best []field
	for _, f := range fs {
		if f.depth == minDepth {
			best = append(best, f)
		}
	}
	if len(best) == 1 {
		return best[0], true
	}
	var tagged []field
	for _, f := range best {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return field{}, false
}
