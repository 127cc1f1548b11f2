package jsonv

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Field is a struct field as encoding/json sees it.
type Field struct {
	// Name is the JSON name.
	Name string
	// GoName is the Go field name.
	GoName string
	// Index is the path to the field through embedded structs, as for
	// reflect.Value.FieldByIndex.
	Index []int
	// Type is the field's type.
	Type reflect.Type
	// Tag is the field's struct tag.
	Tag reflect.StructTag
	// Omit is set by the omitempty and omitzero options.
	Omit bool
	// Quoted is set by the string option on a scalar field.
	Quoted bool

	depth  int
	tagged bool // the name comes from a json tag
}

// Fields lists the JSON fields of struct type t following encoding/json's
// rules: embedded structs are flattened, a shallower field hides deeper ones
// of the same name, and at equal depth a tagged name wins over untagged ones
// while two equally good fields cancel each other. The list is computed
// once per type and shared: callers must not modify it.
func Fields(t reflect.Type) []Field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]Field)
	}
	f, _ := fieldCache.LoadOrStore(t, fields(t))
	return f.([]Field)
}

// fieldCache holds Fields' lists by type: a tool call decodes its
// arguments into the same struct type every time, and working the fields
// out by reflection was a good part of a small call's guest time.
var fieldCache sync.Map // reflect.Type → []Field

func fields(t reflect.Type) []Field {
	type embedded struct {
		t     reflect.Type
		index []int
	}
	var all []Field
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
				f := Field{
					Name:   name,
					GoName: sf.Name,
					Index:  index,
					Type:   sf.Type,
					Tag:    sf.Tag,
					depth:  depth,
					tagged: name != "",
				}
				if f.Name == "" {
					f.Name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.Omit = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.String,
							reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64:
							f.Quoted = true
						}
					}
				}
				all = append(all, f)
			}
		}
	}
	byName := map[string][]Field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.Name]; !ok {
			order = append(order, f.Name)
		}
		byName[f.Name] = append(byName[f.Name], f)
	}
	var out []Field
	for _, name := range order {
		if f, ok := dominant(byName[name]); ok {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Field) int { return slices.Compare(a.Index, b.Index) })
	return out
}

func dominant(fs []Field) (Field, bool) {
	minDepth := fs[0].depth
	for _, f := range fs {
		minDepth = min(minDepth, f.depth)
	}
	var best []Field
	for _, f := range fs {
		if f.depth == minDepth {
			best = append(best, f)
		}
	}
	if len(best) == 1 {
		return best[0], true
	}
	var tagged []Field
	for _, f := range best {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return Field{}, false
}
