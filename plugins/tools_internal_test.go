package plugins

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckSchema(t *testing.T) {
	deep := `{"type":"object","properties":{"a":` + strings.Repeat(`{"type":"object","properties":{"a":`, 40) + `{}` + strings.Repeat(`}}`, 40) + `}}`
	tests := []struct {
		name, schema, err string
	}{
		{"minimal", `{"type":"object"}`, ""},
		{"local ref", `{"type":"object","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"}}}`, ""},
		{"known meta-schema", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`, ""},
		{"property named id", `{"type":"object","properties":{"id":{"type":"string"}}}`, ""},
		{"file ref", `{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`, `/properties/a/$ref is "file:///etc/passwd"`},
		{"http ref", `{"type":"object","properties":{"a":{"$ref":"https://evil.example/s.json"}}}`, "only local references"},
		{"relative ref", `{"type":"object","items":{"$ref":"other.json#/x"}}`, "only local references"},
		{"dynamic ref", `{"type":"object","$dynamicRef":"https://x/y"}`, "only local references"},
		{"non-string ref", `{"type":"object","$ref":42}`, "only local references"},
		{"$id", `{"type":"object","$id":"https://evil.example/"}`, "$id is set"},
		{"unknown meta-schema", `{"type":"object","$schema":"file:///etc/passwd"}`, "$schema"},
		{"not an object", `[1]`, "want a JSON object, found an array"},
		{"not type object", `{"type":"string"}`, `want "type": "object" at the top, found "string"`},
		{"no type", `{"properties":{}}`, `found missing`},
		{"too deep", deep, "nested deeper than 32 levels"},
		{"too big", `{"type":"object","description":"` + strings.Repeat("x", MaxSchemaBytes) + `"}`, "at most 65536 are allowed"},
		{"trailing data", `{"type":"object"} {}`, "trailing data"},
		{"not JSON", `{"type":`, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSchema(json.RawMessage(tt.schema), true)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestParseToolList(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"ok", `{"tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"b.c-d_e","inputSchema":{"type":"object"},"outputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}`, ""},
		{"empty list", `{"tools":[]}`, ""},
		{"not an object", `[]`, "not a JSON object"},
		{"duplicate", `{"tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"a","inputSchema":{"type":"object"}}]}`, `"a" is declared twice`},
		{"bad name", `{"tools":[{"name":"a b","inputSchema":{"type":"object"}}]}`, "characters outside"},
		{"leading dot", `{"tools":[{"name":".a","inputSchema":{"type":"object"}}]}`, "starts with"},
		{"long name", `{"tools":[{"name":"` + strings.Repeat("a", 129) + `","inputSchema":{"type":"object"}}]}`, "at most 128"},
		{"no schema", `{"tools":[{"name":"a"}]}`, "inputSchema is missing"},
		{"bad output schema", `{"tools":[{"name":"a","inputSchema":{"type":"object"},"outputSchema":{"type":"object","$ref":"file:///x"}}]}`, "outputSchema"},
		{"bad annotations", `{"tools":[{"name":"a","inputSchema":{"type":"object"},"annotations":[1]}]}`, "annotations are not a JSON object"},
		{"huge description", `{"tools":[{"name":"a","description":"` + strings.Repeat("d", MaxDescriptionBytes+1) + `","inputSchema":{"type":"object"}}]}`, "description is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseToolList([]byte(tt.in))
			if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestCheckCallResult(t *testing.T) {
	tests := []struct {
		name, in, err string
		isError       bool
	}{
		{"text", `{"content":[{"type":"text","text":"hi"}]}`, "", false},
		{"isError", `{"content":[{"type":"text","text":"no"}],"isError":true}`, "", true},
		{"structured only", `{"structuredContent":{"a":1}}`, "", false},
		{"null content", `{"content":null}`, "", false},
		{"not JSON", `hello`, "want a CallToolResult JSON object", false},
		{"null", `null`, "want a CallToolResult JSON object", false},
		{"content not array", `{"content":"hi"}`, "content: want an array", false},
		{"content without type", `{"content":[{"text":"hi"}]}`, `content[0]: missing its "type"`, false},
		{"isError not bool", `{"content":[],"isError":"yes"}`, "isError: want a boolean", false},
		{"structured not object", `{"content":[],"structuredContent":[1]}`, "structuredContent: want a JSON object", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := checkCallResult([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError != tt.isError || !json.Valid(res.JSON) || !strings.Contains(string(res.JSON), `"content"`) {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[31mred\x1b[0m", `\u001b[31mred\u001b[0m`},
		{"fake\nline", `fake\u000aline`},
		{"cr\roverwrite", `cr\u000doverwrite`},
		{"bad \xff utf8", `bad \xff utf8`},
		{`back\slash`, `back\\slash`},
		{"line\u2028sep", `line\u2028sep`},
	}
	for _, tt := range tests {
		if got := escape([]byte(tt.in)); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParseToolList checks that any tool list either fails with an error or
// yields tools that pass every load-time check.
func FuzzParseToolList(f *testing.F) {
	f.Add([]byte(`{"tools":[{"name":"a","inputSchema":{"type":"object","properties":{"x":{"$ref":"#/a"}}}}]}`))
	f.Add([]byte(`{"tools":[{"name":"a","inputSchema":{"type":"object","$ref":"file:///etc/passwd"}}]}`))
	f.Add([]byte(`{"tools":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tools, err := parseToolList(b)
		if err != nil {
			return
		}
		for _, tool := range tools {
			if CheckToolName(tool.Name) != nil {
				t.Fatalf("accepted bad name %q", tool.Name)
			}
			if err := CheckSchema(tool.InputSchema, true); err != nil {
				t.Fatalf("accepted schema that fails the check: %v", err)
			}
			if strings.Contains(string(tool.InputSchema), `"$ref":"file:`) {
				t.Fatalf("accepted a file reference: %s", tool.InputSchema)
			}
		}
	})
}

// FuzzCheckCallResult checks that an accepted result is a JSON object with
// a content array.
func FuzzCheckCallResult(f *testing.F) {
	f.Add([]byte(`{"content":[{"type":"text","text":"hi"}],"isError":false}`))
	f.Add([]byte(`{"structuredContent":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := checkCallResult(b)
		if err != nil {
			return
		}
		var r map[string]json.RawMessage
		var content []json.RawMessage
		if err := json.Unmarshal(res.JSON, &r); err != nil || json.Unmarshal(r["content"], &content) != nil || content == nil {
			t.Fatalf("accepted %q as %q", b, res.JSON)
		}
	})
}
