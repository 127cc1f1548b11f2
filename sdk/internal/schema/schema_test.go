package schema

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

type Greet struct {
	Name string `json:"name" jsonschema:"description=Who to greet,required"`
}

type Address struct {
	Street string `json:"street" jsonschema:"required"`
	City   string `json:"city,omitempty"`
}

type Base struct {
	ID    string `json:"id" jsonschema:"description=Identifier,required"`
	Label string `json:"label"`
}

type Kitchen struct {
	Base
	Count    int             `json:"count" jsonschema:"min=1,max=10"`
	Ratio    float64         `json:"ratio" jsonschema:"exclusiveMinimum=0,maximum=1"`
	Size     uint8           `json:"size"`
	Color    string          `json:"color" jsonschema:"enum=red|green|blue,default=red"`
	Level    int             `json:"level" jsonschema:"enum=1|2|3"`
	Tags     []string        `json:"tags" jsonschema:"min=1,uniqueItems,maxLength=8,pattern=^[a-z]{1,8}$"`
	Pair     [2]int          `json:"pair"`
	Addr     *Address        `json:"addr"`
	Homes    []Address       `json:"homes"`
	Attrs    map[string]int  `json:"attrs"`
	Blob     []byte          `json:"blob"`
	When     time.Time       `json:"when"`
	IP       netip.Addr      `json:"ip"`
	Anything any             `json:"anything"`
	Raw      json.RawMessage `json:"raw"`
	Quoted   int             `json:"quoted,string"`
	Desc     string          `json:"desc" description:"Verbatim, with commas, and=equals" jsonschema:"description=ignored"`
	Long     string          `json:"long" jsonschema:"description=Host, port and path,required"`
	Old      bool            `json:"old" jsonschema:"deprecated,title=Old flag"`
	Skip     string          `json:"-"`
	private  string
	Nested   map[string][]bool `json:"nested"`
}

type Node struct {
	Value    string  `json:"value"`
	Children []*Node `json:"children"`
}

type Out struct {
	Algorithm string   `json:"algorithm"`
	Digest    string   `json:"digest,omitempty"`
	List      []string `json:"list"`
	Opt       *int     `json:"opt,omitempty"`
	Ptr       *int     `json:"ptr"`
	Map       map[string]string
}

func mustJSON(t *testing.T, s *Schema) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFor(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		mode Mode
		want string
	}{
		{"greet", reflect.TypeFor[Greet](), Input,
			`{"type":"object","properties":{"name":{"type":"string","description":"Who to greet"}},"required":["name"],"additionalProperties":false}`},
		{"pointer to struct", reflect.TypeFor[*Greet](), Input,
			`{"type":"object","properties":{"name":{"type":"string","description":"Who to greet"}},"required":["name"],"additionalProperties":false}`},
		{"empty struct", reflect.TypeFor[struct{}](), Input,
			`{"type":"object","properties":{},"additionalProperties":false}`},
		{"map", reflect.TypeFor[map[string]int](), Input,
			`{"type":"object","additionalProperties":{"type":"integer"}}`},
		{"any", reflect.TypeFor[any](), Input, `{"type":"object"}`},
		{"raw", reflect.TypeFor[json.RawMessage](), Input, `{"type":"object"}`},
		{"recursive", reflect.TypeFor[Node](), Input,
			`{"type":"object","properties":{"value":{"type":"string"},"children":{"type":"array","items":{"type":"object"}}},"additionalProperties":false}`},
		{"output", reflect.TypeFor[Out](), Output,
			`{"type":"object","properties":{"algorithm":{"type":"string"},"digest":{"type":"string"},"list":{"type":["array","null"],"items":{"type":"string"}},"opt":{"type":"integer"},"ptr":{"type":["integer","null"]},"Map":{"type":["object","null"],"additionalProperties":{"type":"string"}}},"required":["algorithm","list","ptr","Map"],"additionalProperties":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := For(tt.typ, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, s); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestForKitchenSink(t *testing.T) {
	s, err := For(reflect.TypeFor[Kitchen](), Input)
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, s)
	for _, want := range []string{
		`"id":{"type":"string","description":"Identifier"}`,
		`"count":{"type":"integer","minimum":1,"maximum":10}`,
		`"ratio":{"type":"number","maximum":1,"exclusiveMinimum":0}`,
		`"size":{"type":"integer","minimum":0}`,
		`"color":{"type":"string","enum":["red","green","blue"],"default":"red"}`,
		`"level":{"type":"integer","enum":[1,2,3]}`,
		`"tags":{"type":"array","items":{"type":"string","maxLength":8,"pattern":"^[a-z]{1,8}$"},"minItems":1,"uniqueItems":true}`,
		`"pair":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}`,
		`"addr":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["street"],"additionalProperties":false}`,
		`"homes":{"type":"array","items":{"type":"object"`,
		`"attrs":{"type":"object","additionalProperties":{"type":"integer"}}`,
		`"blob":{"type":"string","contentEncoding":"base64"}`,
		`"when":{"type":"string","format":"date-time"}`,
		`"ip":{"type":"string"}`,
		`"anything":{}`,
		`"raw":{}`,
		`"quoted":{"type":"string"}`,
		`"desc":{"type":"string","description":"Verbatim, with commas, and=equals"}`,
		`"long":{"type":"string","description":"Host, port and path"}`,
		`"old":{"type":"boolean","title":"Old flag","deprecated":true}`,
		`"nested":{"type":"object","additionalProperties":{"type":"array","items":{"type":"boolean"}}}`,
		`"required":["id","long"]`,
		`"additionalProperties":false}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %s\nschema: %s", want, got)
		}
	}
	for _, absent := range []string{`"Skip"`, `"private"`, `"$ref"`, `"$id"`, `"Base"`} {
		if strings.Contains(got, absent) {
			t.Errorf("schema has %s\nschema: %s", absent, got)
		}
	}
}

func TestForErrors(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"string", reflect.TypeFor[string](), "does not describe a JSON object"},
		{"slice", reflect.TypeFor[[]int](), "does not describe a JSON object"},
		{"int map key top", reflect.TypeFor[map[int]string](), "does not describe a JSON object"},
		{"chan field", reflect.TypeFor[struct {
			C chan int `json:"c"`
		}](), "has no JSON form"},
		{"func field", reflect.TypeFor[struct{ F func() }](), "has no JSON form"},
		{"bad map key", reflect.TypeFor[struct{ M map[[2]int]int }](), "cannot be a JSON object key"},
		{"unknown keyword", reflect.TypeFor[struct {
			A string `jsonschema:"requierd"`
		}](), `unknown keyword "requierd"`},
		{"enum on int", reflect.TypeFor[struct {
			A int `jsonschema:"enum=1|two"`
		}](), `"two" is not an integer`},
		{"min on bool", reflect.TypeFor[struct {
			A bool `jsonschema:"min=1"`
		}](), "needs a string, number or array field"},
		{"pattern on int", reflect.TypeFor[struct {
			A int `jsonschema:"pattern=^a$"`
		}](), "needs a string field"},
		{"empty pattern", reflect.TypeFor[struct {
			A string `jsonschema:"pattern="`
		}](), "empty pattern"},
		{"minItems on string", reflect.TypeFor[struct {
			A string `jsonschema:"minItems=1"`
		}](), "needs a slice or array field"},
		{"negative length", reflect.TypeFor[struct {
			A string `jsonschema:"maxLength=-1"`
		}](), "not a non-negative integer"},
		{"bad default", reflect.TypeFor[struct {
			A []int `jsonschema:"default=[1,"`
		}](), "is not a JSON array"},
		{"bad flag", reflect.TypeFor[struct {
			A int `jsonschema:"required=maybe"`
		}](), "expected true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := For(tt.typ, Input)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRequiredFlagForms(t *testing.T) {
	s, err := For(reflect.TypeFor[struct {
		A string `json:"a" jsonschema:"required=true"`
		B string `json:"b" jsonschema:"required=false"`
		C string `json:"c" jsonschema:",required,"`
	}](), Input)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Required, []string{"a", "c"}) {
		t.Fatalf("required = %v", s.Required)
	}
}

func TestEnumOnNullableOutput(t *testing.T) {
	s, err := For(reflect.TypeFor[struct {
		P *string `json:"p" jsonschema:"enum=a|b"`
	}](), Output)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, s.Property("p")); got != `{"type":["string","null"],"enum":["a","b",null]}` {
		t.Fatalf("p = %s", got)
	}
}

func validate(t *testing.T, typ reflect.Type, in string) string {
	t.Helper()
	s, err := For(typ, Input)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonv.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range s.Validate(v) {
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

func TestValidate(t *testing.T) {
	kitchen := reflect.TypeFor[Kitchen]()
	ok := `{"id":"x","long":"y"}`
	tests := []struct {
		name string
		typ  reflect.Type
		in   string
		want string
	}{
		{"ok", reflect.TypeFor[Greet](), `{"name":"Ada"}`, ""},
		{"missing", reflect.TypeFor[Greet](), `{}`, `name: required property is missing (expected a string)`},
		{"wrong type", reflect.TypeFor[Greet](), `{"name":42}`, `name: expected a string, found number 42`},
		{"null required", reflect.TypeFor[Greet](), `{"name":null}`, `name: expected a string, found null`},
		{"unknown", reflect.TypeFor[Greet](), `{"name":"a","nmae":"b"}`, `nmae: unexpected property (expected only "name")`},
		{"case differs", reflect.TypeFor[Greet](), `{"Name":"a"}`, `name: required property is missing (expected a string); Name: unexpected property (expected only "name")`},
		{"not object", reflect.TypeFor[Greet](), `["a"]`, `expected an object, found an array of 1`},
		{"empty struct extra", reflect.TypeFor[struct{}](), `{"a":1}`, `a: unexpected property (expected no properties)`},
		{"kitchen ok", kitchen, `{"id":"x","long":"y","count":3,"ratio":0.5,"color":"green","level":2,"tags":["ab","cd"],"pair":[1,2],"addr":{"street":"s"},"homes":[{"street":"t","city":"c"}],"attrs":{"a":1},"blob":"aGk=","anything":[1,{"x":null}],"raw":"x","quoted":"5","nested":{"k":[true]}}`, ""},
		{"optional null", kitchen, `{"id":"x","long":"y","count":null,"addr":null,"tags":null}`, ""},
		{"integer", kitchen, ok[:len(ok)-1] + `,"count":1.5}`, `count: expected an integer, found number 1.5`},
		{"integer exponent", kitchen, ok[:len(ok)-1] + `,"count":1e1}`, `count: expected an integer, found number 1e1`},
		{"number accepts integer", kitchen, ok[:len(ok)-1] + `,"ratio":1}`, ""},
		{"minimum", kitchen, ok[:len(ok)-1] + `,"count":0}`, `count: expected a number >= 1, found 0`},
		{"maximum", kitchen, ok[:len(ok)-1] + `,"count":11}`, `count: expected a number <= 10, found 11`},
		{"exclusive", kitchen, ok[:len(ok)-1] + `,"ratio":0}`, `ratio: expected a number > 0, found 0`},
		{"unsigned", kitchen, ok[:len(ok)-1] + `,"size":-1}`, `size: expected a number >= 0, found -1`},
		{"enum", kitchen, ok[:len(ok)-1] + `,"color":"pink"}`, `color: expected one of "red", "green", "blue", found string "pink"`},
		{"enum number", kitchen, ok[:len(ok)-1] + `,"level":2.0}`, `level: expected an integer, found number 2.0`},
		{"min items", kitchen, ok[:len(ok)-1] + `,"tags":[]}`, `tags: expected at least 1 items, found 0`},
		{"unique", kitchen, ok[:len(ok)-1] + `,"tags":["a","b","a"]}`, `tags: expected unique items, found item 2 repeating item 0`},
		{"pattern left to the host", kitchen, ok[:len(ok)-1] + `,"tags":["a","B"]}`, ``},
		{"item length", kitchen, ok[:len(ok)-1] + `,"tags":["abcdefghi"]}`, `tags[0]: expected at most 8 characters, found 9`},
		{"array length", kitchen, ok[:len(ok)-1] + `,"pair":[1]}`, `pair: expected at least 2 items, found 1`},
		{"nested required", kitchen, ok[:len(ok)-1] + `,"homes":[{"city":"c"}]}`, `homes[0].street: required property is missing (expected a string)`},
		{"nested unknown", kitchen, ok[:len(ok)-1] + `,"addr":{"street":"s","zip":1}}`, `addr.zip: unexpected property (expected only "street", "city")`},
		{"map values", kitchen, ok[:len(ok)-1] + `,"attrs":{"a":"x"}}`, `attrs.a: expected an integer, found string "x"`},
		{"deep map", kitchen, ok[:len(ok)-1] + `,"nested":{"k":[1]}}`, `nested.k[0]: expected a boolean, found number 1`},
		{"two missing", kitchen, `{}`, `id: required property is missing (expected a string); long: required property is missing (expected a string)`},
		{"long value", reflect.TypeFor[Greet](), `{"name":["` + strings.Repeat("x", 100) + `"]}`, `name: expected a string, found an array of 1`},
		{"long string preview", reflect.TypeFor[struct {
			N int `json:"n"`
		}](), `{"n":"` + strings.Repeat("y", 100) + `"}`, `n: expected an integer, found string "` + strings.Repeat("y", 44) + `…`},
		{"unicode length", reflect.TypeFor[struct {
			S string `json:"s" jsonschema:"max=2"`
		}](), `{"s":"éé"}`, ``},
		{"free map", reflect.TypeFor[map[string]any](), `{"a":[1],"b":null}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validate(t, tt.typ, tt.in); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateCapsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"x` + strings.Repeat("a", i) + `":1`)
	}
	b.WriteString("}")
	s, _ := For(reflect.TypeFor[Greet](), Input)
	v, _ := jsonv.Parse([]byte(b.String()))
	if n := len(s.Validate(v)); n != maxErrors {
		t.Fatalf("%d errors, want %d", n, maxErrors)
	}
}
