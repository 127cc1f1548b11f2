// Package schema derives JSON Schemas from Go types and validates decoded
// JSON values against them.
//
// The schemas it produces are self-contained: no "$ref", "$id" or "$schema"
// keywords, so a host may refuse every reference without losing a tool. A
// recursive type is cut at its second appearance, which is described as a
// plain JSON object.
package schema

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Schema is one JSON Schema node. Only the keywords the generator emits are
// modelled; Validate understands all of them.
type Schema struct {
	// Type lists the JSON types a value may have ("object", "array",
	// "string", "number", "integer", "boolean", "null"). Empty means any.
	Type        []string
	Title       string
	Description string
	// Properties lists an object's known properties in declaration order.
	Properties []Property
	// Required names the properties that must be present.
	Required []string
	// AdditionalProperties, when set, is the schema of every property not
	// listed in Properties.
	AdditionalProperties *Schema
	// NoAdditional forbids properties not listed in Properties
	// ("additionalProperties": false). It wins over AdditionalProperties.
	NoAdditional bool
	// Items is the schema of every element of an array.
	Items *Schema

	Enum             []any // string, json.Number, bool or nil values
	Default          json.RawMessage
	Minimum          *float64
	Maximum          *float64
	ExclusiveMinimum *float64
	ExclusiveMaximum *float64
	MinLength        *int
	MaxLength        *int
	MinItems         *int
	MaxItems         *int
	UniqueItems      bool
	Pattern          string
	Format           string
	ContentEncoding  string
	Deprecated       bool
}

// Property is a named member of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// Property returns the schema of the property called name, or nil.
func (s *Schema) Property(name string) *Schema {
	for _, p := range s.Properties {
		if p.Name == name {
			return p.Schema
		}
	}
	return nil
}

// HasType reports whether t is one of the schema's types.
func (s *Schema) HasType(t string) bool {
	for _, x := range s.Type {
		if x == t {
			return true
		}
	}
	return false
}

func (s *Schema) isRequired(name string) bool {
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// MarshalJSON writes the schema with its keywords in a fixed, readable order
// and its properties in declaration order.
func (s *Schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := s.write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type objWriter struct {
	b     *bytes.Buffer
	first bool
	err   error
}

func (w *objWriter) key(k string) {
	if !w.first {
		w.b.WriteByte(',')
	}
	w.first = false
	w.b.WriteString(strconv.Quote(k))
	w.b.WriteByte(':')
}

func (w *objWriter) value(k string, v any) {
	if w.err != nil {
		return
	}
	data, err := marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.key(k)
	w.b.Write(data)
}

func (w *objWriter) float(k string, f *float64) {
	if f != nil {
		w.key(k)
		w.b.WriteString(strconv.FormatFloat(*f, 'g', -1, 64))
	}
}

func (w *objWriter) int(k string, n *int) {
	if n != nil {
		w.key(k)
		w.b.WriteString(strconv.Itoa(*n))
	}
}

func (w *objWriter) schema(k string, s *Schema) {
	if w.err != nil {
		return
	}
	w.key(k)
	w.err = s.write(w.b)
}

// marshal encodes v like encoding/json without escaping <, > and &.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (s *Schema) write(b *bytes.Buffer) error {
	w := &objWriter{b: b, first: true}
	b.WriteByte('{')
	switch len(s.Type) {
	case 0:
	case 1:
		w.value("type", s.Type[0])
	default:
		w.value("type", s.Type)
	}
	if s.Title != "" {
		w.value("title", s.Title)
	}
	if s.Description != "" {
		w.value("description", s.Description)
	}
	if s.HasType("object") && (s.Properties != nil || s.NoAdditional) {
		w.key("properties")
		b.WriteByte('{')
		for i, p := range s.Properties {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(p.Name))
			b.WriteByte(':')
			if w.err == nil {
				w.err = p.Schema.write(b)
			}
		}
		b.WriteByte('}')
	}
	if len(s.Required) > 0 {
		w.value("required", s.Required)
	}
	if s.NoAdditional {
		w.value("additionalProperties", false)
	} else if s.AdditionalProperties != nil {
		w.schema("additionalProperties", s.AdditionalProperties)
	}
	if s.Items != nil {
		w.schema("items", s.Items)
	}
	w.int("minItems", s.MinItems)
	w.int("maxItems", s.MaxItems)
	if s.UniqueItems {
		w.value("uniqueItems", true)
	}
	if s.Enum != nil {
		w.value("enum", s.Enum)
	}
	w.float("minimum", s.Minimum)
	w.float("maximum", s.Maximum)
	w.float("exclusiveMinimum", s.ExclusiveMinimum)
	w.float("exclusiveMaximum", s.ExclusiveMaximum)
	w.int("minLength", s.MinLength)
	w.int("maxLength", s.MaxLength)
	if s.Pattern != "" {
		w.value("pattern", s.Pattern)
	}
	if s.Format != "" {
		w.value("format", s.Format)
	}
	if s.ContentEncoding != "" {
		w.value("contentEncoding", s.ContentEncoding)
	}
	if s.Default != nil {
		w.key("default")
		b.Write(s.Default)
	}
	if s.Deprecated {
		w.value("deprecated", true)
	}
	b.WriteByte('}')
	return w.err
}
