package canonjson

import (
	"encoding/json"
	"testing"
)

func TestCanonical(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null]}`, `{"a":[true,false,null],"b":1}`},
		{" { \"a\" : 1.0 , \"b\":\"\\u0041\\n\" } ", `{"a":1,"b":"A\n"}`},
		{`[1e21, 1e-7, 0.000001, -0, 123456789012345678]`, `[1e+21,1e-7,0.000001,0,123456789012345680]`},
		{`"\u20ac<>&"`, `"€<>&"`},
		{`{"\u00e9":1,"z":2,"a":3}`, `{"a":3,"z":2,"é":1}`},
		{`"\u001f"`, `"\u001f"`},
	}
	for _, c := range cases {
		got, err := Canonical([]byte(c.in))
		if err != nil {
			t.Fatalf("Canonical(%s): %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("Canonical(%s) = %s, want %s", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("Canonical(%s) = %s is not valid JSON", c.in, got)
		}
	}
}

func TestRefuses(t *testing.T) {
	for _, in := range []string{`{"a":1,"a":2}`, `{} {}`, `1e400`, "\"\xff\"", ``, `[`} {
		if _, err := Canonical([]byte(in)); err == nil {
			t.Errorf("Canonical(%q) succeeded, want an error", in)
		}
	}
}

func TestIndent(t *testing.T) {
	v, err := Parse([]byte(`{"b":[1,{"c":"d"}],"a":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"c\": \"d\"\n    }\n  ]\n}"
	if got := Indent(v, "  "); got != want {
		t.Errorf("Indent = %s, want %s", got, want)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,false,null,"x\u0000"]}`))
	f.Add([]byte(`[1e21,-0.5,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data)
		if err != nil {
			return
		}
		// Canonical output is valid JSON and a fixed point.
		c2, err := Canonical(c)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", c, err)
		}
		if string(c) != string(c2) {
			t.Fatalf("not a fixed point: %s then %s", c, c2)
		}
	})
}
