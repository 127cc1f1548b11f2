package registry

import (
	"encoding/json"
	"strings"
	"testing"
)

func raw(defs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(defs))
	for i, d := range defs {
		out[i] = json.RawMessage(d)
	}
	return out
}

func TestToolsHash(t *testing.T) {
	a, err := ToolsHash(raw(greetTool, hashTool))
	if err != nil {
		t.Fatal(err)
	}
	same := []string{
		`{ "inputSchema" : {"type":"object"}, "name":"hash", "description":"Hash a string" }`,
		`{"name":"greet","inputSchema":{"properties":{"name":{"type":"string"}},"type":"object"},"description":"Say \u0068ello"}`,
	}
	b, err := ToolsHash(raw(same...))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("order, whitespace or escapes changed the hash: %s vs %s", a, b)
	}
	for _, changed := range [][]string{
		{greetTool},
		{greetTool, strings.Replace(hashTool, "Hash a string", "Hash a string.", 1)},
		{greetTool, strings.Replace(hashTool, `}}`, `},"annotations":{"readOnlyHint":true}}`, 1)},
	} {
		c, err := ToolsHash(raw(changed...))
		if err != nil {
			t.Fatal(err)
		}
		if c == a {
			t.Errorf("%v hashes like the original", changed)
		}
	}
	if h, _ := ToolsHash(nil); !ValidDigest(h) {
		t.Errorf("no tools: %q", h)
	}
	for _, bad := range [][]string{{`[]`}, {`{"description":"x"}`}, {`{"name":""}`}, {greetTool, greetTool}, {`{"name":"a","name":"b"}`}, {`{`}} {
		if _, err := ToolsHash(raw(bad...)); err == nil {
			t.Errorf("ToolsHash(%v) succeeded", bad)
		}
	}
}

func TestDiffTools(t *testing.T) {
	d, err := DiffTools(raw(greetTool), raw(greetTool))
	if err != nil || !d.Empty() {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = DiffTools(raw(greetTool, hashTool), raw(strings.Replace(greetTool, "Say hello", "Say goodbye", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Removed) != 1 || d.Removed[0] != "hash" || len(d.Changed) != 1 || d.Changed[0].Fields[0] != "description" {
		t.Fatalf("%+v", d)
	}
	want := `removed tool "hash"
changed tool "greet" (description):
      {
    -   "description": "Say hello",
    +   "description": "Say goodbye",
        "inputSchema": {
          "properties": {
            "name": {
`
	if got := d.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}
