package jsonv

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// DecodeError says where a value did not fit its Go type.
type DecodeError struct {
	// Path locates the value: property names joined by dots, array
	// indexes in brackets; "" is the top level.
	Path string
	// Msg says what was expected and what was found.
	Msg string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Decode stores v, a value as Parse returns it, in the Go value dst points
// to, following encoding/json's Unmarshal rules: exact and then
// case-insensitive field names, embedded structs, ",string" fields, []byte
// as base64, json.Unmarshaler and encoding.TextUnmarshaler, null leaving
// non-nullable values untouched, numbers in interfaces as float64.
func Decode(v any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("jsonv: Decode needs a non-nil pointer, got %T", dst)
	}
	return decode(v, rv.Elem(), "")
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func mismatch(path string, v any, t reflect.Type) error {
	found := kindOf(v)
	switch x := v.(type) {
	case json.Number:
		found += " " + string(x)
	case bool:
		found += " " + strconv.FormatBool(x)
	case string:
		if len(x) > 40 {
			x = x[:37] + "..."
		}
		found += " " + strconv.Quote(x)
	}
	return &DecodeError{Path: path, Msg: fmt.Sprintf("expected %s, found %s", describe(t), found)}
}

// describe names a Go type the way a JSON caller understands it.
func describe(t reflect.Type) string {
	if t == numberType {
		return "a number"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer (" + t.String() + ")"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer (" + t.String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number (" + t.String() + ")"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describe(t.Elem())
	}
	return t.String()
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func member(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// custom calls UnmarshalJSON or UnmarshalText when rv (or its address)
// implements them, and reports whether it did.
func custom(v any, rv reflect.Value, path string) (bool, error) {
	if rv.Kind() == reflect.Pointer || !rv.CanAddr() {
		return false, nil
	}
	pv := rv.Addr()
	if pv.Type().Implements(unmarshalerType) {
		data, err := Append(nil, v)
		if err != nil {
			return true, err
		}
		if err := pv.Interface().(json.Unmarshaler).UnmarshalJSON(data); err != nil {
			return true, &DecodeError{Path: path, Msg: err.Error()}
		}
		return true, nil
	}
	if pv.Type().Implements(textUnmarshalerType) {
		if v == nil {
			return true, nil
		}
		s, ok := v.(string)
		if !ok {
			return true, mismatch(path, v, reflect.TypeFor[string]())
		}
		if err := pv.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return true, &DecodeError{Path: path, Msg: err.Error()}
		}
		return true, nil
	}
	return false, nil
}

func decode(v any, rv reflect.Value, path string) error {
	if rv.Kind() == reflect.Pointer {
		if v == nil {
			rv.SetZero()
			return nil
		}
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		return decode(v, rv.Elem(), path)
	}
	if done, err := custom(v, rv, path); done {
		return err
	}
	if v == nil {
		switch rv.Kind() {
		case reflect.Interface, reflect.Map, reflect.Slice:
			rv.SetZero()
		}
		return nil
	}
	if rv.Type() == numberType {
		switch x := v.(type) {
		case json.Number:
			rv.SetString(string(x))
			return nil
		case string:
			// encoding/json accepts a quoted number for json.Number.
			if _, err := strconv.ParseFloat(x, 64); err == nil && isNumber(x) {
				rv.SetString(x)
				return nil
			}
		}
		return mismatch(path, v, rv.Type())
	}
	switch rv.Kind() {
	case reflect.Interface:
		if rv.NumMethod() != 0 {
			return &DecodeError{Path: path, Msg: "cannot decode into " + rv.Type().String()}
		}
		pv, err := plain(v, path)
		if err != nil {
			return err
		}
		if pv == nil {
			rv.SetZero()
		} else {
			rv.Set(reflect.ValueOf(pv))
		}
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		rv.SetBool(b)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		rv.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || rv.OverflowInt(i) {
			return mismatch(path, v, rv.Type())
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil || rv.OverflowUint(u) {
			return mismatch(path, v, rv.Type())
		}
		rv.SetUint(u)
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		f, err := strconv.ParseFloat(string(n), rv.Type().Bits())
		if err != nil || rv.OverflowFloat(f) {
			return mismatch(path, v, rv.Type())
		}
		rv.SetFloat(f)
	case reflect.Slice:
		if s, ok := v.(string); ok && rv.Type().Elem().Kind() == reflect.Uint8 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return &DecodeError{Path: path, Msg: "expected a base64 string, found invalid base64 (" + err.Error() + ")"}
			}
			rv.SetBytes(reflect.ValueOf(b).Convert(reflect.SliceOf(rv.Type().Elem())).Bytes())
			return nil
		}
		arr, ok := v.([]any)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		out := reflect.MakeSlice(rv.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := decode(e, out.Index(i), index(path, i)); err != nil {
				return err
			}
		}
		rv.Set(out)
	case reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		for i := 0; i < rv.Len(); i++ {
			if i < len(arr) {
				if err := decode(arr[i], rv.Index(i), index(path, i)); err != nil {
					return err
				}
			} else {
				rv.Index(i).SetZero()
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(rv.Type(), len(obj)))
		}
		kt, et := rv.Type().Key(), rv.Type().Elem()
		for k, e := range obj {
			key, err := mapKey(k, kt, path)
			if err != nil {
				return err
			}
			ev := reflect.New(et).Elem()
			if err := decode(e, ev, member(path, k)); err != nil {
				return err
			}
			rv.SetMapIndex(key, ev)
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, v, rv.Type())
		}
		return decodeStruct(obj, rv, path)
	default:
		return &DecodeError{Path: path, Msg: "cannot decode into " + rv.Type().String()}
	}
	return nil
}

func isNumber(s string) bool {
	v, err := Parse([]byte(s))
	_, ok := v.(json.Number)
	return err == nil && ok
}

func mapKey(k string, kt reflect.Type, path string) (reflect.Value, error) {
	if reflect.PointerTo(kt).Implements(textUnmarshalerType) {
		kv := reflect.New(kt)
		if err := kv.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k)); err != nil {
			return reflect.Value{}, &DecodeError{Path: member(path, k), Msg: "invalid key: " + err.Error()}
		}
		return kv.Elem(), nil
	}
	switch kt.Kind() {
	case reflect.String:
		return reflect.ValueOf(k).Convert(kt), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(k, 10, 64)
		kv := reflect.New(kt).Elem()
		if err != nil || kv.OverflowInt(n) {
			return reflect.Value{}, &DecodeError{Path: member(path, k), Msg: "expected an integer key (" + kt.String() + ")"}
		}
		kv.SetInt(n)
		return kv, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(k, 10, 64)
		kv := reflect.New(kt).Elem()
		if err != nil || kv.OverflowUint(n) {
			return reflect.Value{}, &DecodeError{Path: member(path, k), Msg: "expected a non-negative integer key (" + kt.String() + ")"}
		}
		kv.SetUint(n)
		return kv, nil
	}
	return reflect.Value{}, &DecodeError{Path: path, Msg: "cannot use " + kt.String() + " as an object key"}
}

func decodeStruct(obj map[string]any, rv reflect.Value, path string) error {
	fields := Fields(rv.Type())
	// Keys that match a field name exactly are decoded last, so that they
	// win over keys that match only when case is ignored; the order is
	// otherwise sorted, to be deterministic.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	exact := func(k string) bool {
		for i := range fields {
			if fields[i].Name == k {
				return true
			}
		}
		return false
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ea, eb := exact(a), exact(b); ea != eb {
			if ea {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, key := range keys {
		e := obj[key]
		f := matchField(fields, key)
		if f == nil {
			continue // unknown keys are ignored, as by encoding/json
		}
		fv, ok := fieldByIndex(rv, f.Index)
		if !ok {
			return &DecodeError{Path: member(path, key), Msg: "cannot set embedded pointer to unexported struct"}
		}
		p := member(path, f.Name)
		if f.Quoted {
			if err := decodeQuoted(e, fv, p); err != nil {
				return err
			}
			continue
		}
		if err := decode(e, fv, p); err != nil {
			return err
		}
	}
	return nil
}

func matchField(fields []Field, key string) *Field {
	for i := range fields {
		if fields[i].Name == key {
			return &fields[i]
		}
	}
	for i := range fields {
		if strings.EqualFold(fields[i].Name, key) {
			return &fields[i]
		}
	}
	return nil
}

// fieldByIndex walks to a possibly promoted field, allocating nil embedded
// pointers on the way.
func fieldByIndex(rv reflect.Value, idx []int) (reflect.Value, bool) {
	for i, x := range idx {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				if !rv.CanSet() {
					return reflect.Value{}, false
				}
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv, true
}

// decodeQuoted handles a ",string" field: the JSON value is a string that
// holds the JSON of a scalar.
func decodeQuoted(v any, rv reflect.Value, path string) error {
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return &DecodeError{Path: path, Msg: "expected a string holding " + describe(rv.Type()) + ", found " + kindOf(v)}
	}
	inner, err := Parse([]byte(s))
	if err != nil {
		return &DecodeError{Path: path, Msg: "expected a string holding " + describe(rv.Type()) + ", found " + strconv.Quote(s)}
	}
	switch inner.(type) {
	case []any, map[string]any:
		return &DecodeError{Path: path, Msg: "expected a string holding " + describe(rv.Type()) + ", found " + strconv.Quote(s)}
	}
	return decode(inner, rv, path)
}

// plain converts a parsed value for an interface{} destination: numbers
// become float64, as encoding/json does without UseNumber.
func plain(v any, path string) (any, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, mismatch(path, v, reflect.TypeFor[float64]())
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = plain(e, index(path, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = plain(e, member(path, k)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}
