package sdk

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type greetArgs struct {
	Name string `json:"name" jsonschema:"description=Who to greet,required"`
}

type sumArgs struct {
	Values []float64 `json:"values" jsonschema:"required,min=1"`
	Round  *bool     `json:"round"`
}

type sumOut struct {
	Sum   float64 `json:"sum"`
	Count int     `json:"count"`
	Note  string  `json:"note,omitempty"`
}

// testRegistry is a registry with one tool of each kind.
func testRegistry(t testing.TB) *registry {
	t.Helper()
	r := &registry{}
	addTool(r, Tool{Name: "greet", Description: "Say hello", Annotations: Annotations{ReadOnlyHint: Bool(true)}},
		func(c *Context, in greetArgs) (*Result, error) {
			if c.Tool != "greet" {
				return nil, errors.New("wrong context tool " + c.Tool)
			}
			return Text("Hello, " + in.Name + "!"), nil
		})
	addStructuredTool(r, Tool{Name: "sum", Title: "Sum"},
		func(c *Context, in sumArgs) (sumOut, error) {
			out := sumOut{Count: len(in.Values)}
			for _, v := range in.Values {
				out.Sum += v
			}
			if in.Round != nil && *in.Round {
				out.Sum = float64(int(out.Sum + 0.5))
			}
			return out, nil
		})
	addTool(r, Tool{Name: "fail"}, func(c *Context, _ struct{}) (*Result, error) {
		return nil, errors.New("it failed <badly> & loudly")
	})
	addTool(r, Tool{Name: "boom"}, func(c *Context, _ struct{}) (*Result, error) {
		panic("kaboom")
	})
	addTool(r, Tool{Name: "nothing"}, func(c *Context, _ struct{}) (*Result, error) {
		return nil, nil
	})
	addTool(r, Tool{Name: "ctx"}, func(c *Context, _ map[string]any) (*Result, error) {
		return Text(string(c.Arguments) + " " + string(c.HostContext)), nil
	})
	addStructuredTool(r, Tool{Name: "nilout"}, func(c *Context, _ struct{}) (*sumOut, error) {
		return nil, nil
	})
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	return r
}

func TestListTools(t *testing.T) {
	r := testRegistry(t)
	for _, export := range []string{"list_tools", "describe"} {
		out, err := r.dispatch(export, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Tools []map[string]json.RawMessage `json:"tools"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("%s: %v\n%s", export, err, out)
		}
		var names []string
		for _, tool := range list.Tools {
			var n string
			json.Unmarshal(tool["name"], &n)
			names = append(names, n)
		}
		if got := strings.Join(names, ","); got != "greet,sum,fail,boom,nothing,ctx,nilout" {
			t.Fatalf("%s: tools %s", export, got)
		}
		greet := list.Tools[0]
		if got := string(greet["inputSchema"]); got != `{"type":"object","properties":{"name":{"type":"string","description":"Who to greet"}},"required":["name"],"additionalProperties":false}` {
			t.Errorf("greet inputSchema %s", got)
		}
		if got := string(greet["annotations"]); got != `{"readOnlyHint":true}` {
			t.Errorf("greet annotations %s", got)
		}
		if _, ok := greet["outputSchema"]; ok {
			t.Errorf("greet has an outputSchema")
		}
		sum := list.Tools[1]
		if got := string(sum["outputSchema"]); got != `{"type":"object","properties":{"sum":{"type":"number"},"count":{"type":"integer"},"note":{"type":"string"}},"required":["sum","count"],"additionalProperties":false}` {
			t.Errorf("sum outputSchema %s", got)
		}
		if got := string(sum["title"]); got != `"Sum"` {
			t.Errorf("sum title %s", got)
		}
		if _, ok := list.Tools[2]["annotations"]; ok {
			t.Errorf("fail has annotations")
		}
	}
}

func v2(name, args string) string {
	return `{"request":{"name":"` + name + `","arguments":` + args + `},"context":{"session":"s1"}}`
}

func v1(name, args string) string {
	return `{"params":{"name":"` + name + `","arguments":` + args + `}}`
}

func TestCall(t *testing.T) {
	tests := []struct {
		name    string
		export  string
		input   string
		want    string // exact output, when set
		wantErr string // ABI failure substring, when set
	}{
		{"v2 greet", "call_tool", v2("greet", `{"name":"Ada"}`), `{"content":[{"type":"text","text":"Hello, Ada!"}]}`, ""},
		{"v1 greet", "call", v1("greet", `{"name":"Ada"}`), `{"content":[{"type":"text","text":"Hello, Ada!"}]}`, ""},
		{"v1 envelope on call_tool", "call_tool", v1("greet", `{"name":"Ada"}`), `{"content":[{"type":"text","text":"Hello, Ada!"}]}`, ""},
		{"v2 envelope on call", "call", v2("greet", `{"name":"Ada"}`), `{"content":[{"type":"text","text":"Hello, Ada!"}]}`, ""},
		{"unicode and escapes", "call_tool", v2("greet", `{"name":"\"Zoë\" <\u2028>"}`), `{"content":[{"type":"text","text":"Hello, \"Zoë\" <\u2028>!"}]}`, ""},
		{"structured", "call_tool", v2("sum", `{"values":[1,2,3.5]}`),
			`{"content":[{"type":"text","text":"{\"sum\":6.5,\"count\":3}"}],"structuredContent":{"sum":6.5,"count":3}}`, ""},
		{"structured optional pointer", "call_tool", v2("sum", `{"values":[1.2,2.4],"round":true}`),
			`{"content":[{"type":"text","text":"{\"sum\":4,\"count\":2}"}],"structuredContent":{"sum":4,"count":2}}`, ""},
		{"handler error", "call_tool", v2("fail", `{}`), `{"content":[{"type":"text","text":"it failed <badly> & loudly"}],"isError":true}`, ""},
		{"nil result", "call_tool", v2("nothing", `{}`), `{"content":[]}`, ""},
		{"nil structured result", "call_tool", v2("nilout", `{}`), `{"content":[{"type":"text","text":"the tool returned no result"}],"isError":true}`, ""},
		{"missing arguments", "call_tool", `{"request":{"name":"nothing"}}`, `{"content":[]}`, ""},
		{"null arguments", "call_tool", v2("nothing", `null`), `{"content":[]}`, ""},
		{"context", "call_tool", v2("ctx", `{"b":1, "a":[true]}`), `{"content":[{"type":"text","text":"{\"a\":[true],\"b\":1} {\"session\":\"s1\"}"}]}`, ""},
		{"missing required", "call_tool", v2("greet", `{}`),
			`{"content":[{"type":"text","text":"invalid arguments for tool \"greet\": name: required property is missing (expected a string)"}],"isError":true}`, ""},
		{"wrong type", "call_tool", v2("greet", `{"name":7}`),
			`{"content":[{"type":"text","text":"invalid arguments for tool \"greet\": name: expected a string, found number 7"}],"isError":true}`, ""},
		{"arguments not an object", "call_tool", v2("greet", `"Ada"`),
			`{"content":[{"type":"text","text":"invalid arguments for tool \"greet\": expected an object, found string \"Ada\""}],"isError":true}`, ""},
		{"unknown property", "call_tool", v2("sum", `{"values":[1],"extra":1}`),
			`{"content":[{"type":"text","text":"invalid arguments for tool \"sum\": extra: unexpected property (expected only \"values\", \"round\")"}],"isError":true}`, ""},
		{"min items", "call_tool", v2("sum", `{"values":[]}`),
			`{"content":[{"type":"text","text":"invalid arguments for tool \"sum\": values: expected at least 1 items, found 0"}],"isError":true}`, ""},
		{"panic", "call_tool", v2("boom", `{}`), "", `tool "boom" panicked: kaboom`},
		{"unknown tool", "call_tool", v2("nope", `{}`), "", `unknown tool "nope": this plugin has tools greet, sum, fail, boom, nothing, ctx, nilout`},
		{"not JSON", "call_tool", `{"request":`, "", `invalid call_tool request: expected JSON of the form {"request":{"name":"…","arguments":{…}},"context":{…}}, found "{\"request\":" (unexpected end of JSON input`},
		{"empty input", "call", ``, "", `invalid call request: expected JSON of the form {"params":{"name":"…","arguments":{…}}}, found empty input`},
		{"not an object", "call_tool", `[1]`, "", `found "[1]"`},
		{"no request", "call_tool", `{"name":"greet"}`, "", `found no "request" or "params" object`},
		{"no name", "call_tool", `{"request":{"arguments":{}}}`, "", `expected a tool name (a non-empty string), found none`},
		{"number name", "call_tool", `{"request":{"name":5}}`, "", `expected a tool name (a non-empty string), found a number`},
		{"trailing data", "call_tool", v2("greet", `{"name":"a"}`) + "x", "", `after top-level value`},
		{"unknown export", "frobnicate", `{}`, "", `unknown export "frobnicate"`},
	}
	r := testRegistry(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := r.dispatch(tt.export, []byte(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %s (output %s)", err, tt.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON output %s", out)
			}
			if string(out) != tt.want {
				t.Fatalf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

func TestRegistrationErrors(t *testing.T) {
	tests := []struct {
		name string
		add  func(r *registry)
		want string
	}{
		{"empty name", func(r *registry) {
			addTool(r, Tool{}, func(*Context, struct{}) (*Result, error) { return nil, nil })
		}, `tool name "": expected 1 to 128 characters`},
		{"bad name", func(r *registry) {
			addTool(r, Tool{Name: "a b"}, func(*Context, struct{}) (*Result, error) { return nil, nil })
		}, `tool name "a b"`},
		{"long name", func(r *registry) {
			addTool(r, Tool{Name: strings.Repeat("x", 129)}, func(*Context, struct{}) (*Result, error) { return nil, nil })
		}, `expected 1 to 128 characters`},
		{"duplicate", func(r *registry) {
			addTool(r, Tool{Name: "a"}, func(*Context, struct{}) (*Result, error) { return nil, nil })
			addTool(r, Tool{Name: "a"}, func(*Context, struct{}) (*Result, error) { return nil, nil })
		}, `tool "a" is registered twice`},
		{"nil handler", func(r *registry) {
			addTool[struct{}](r, Tool{Name: "a"}, nil)
		}, `tool "a": nil handler`},
		{"scalar arguments", func(r *registry) {
			addTool(r, Tool{Name: "a"}, func(*Context, string) (*Result, error) { return nil, nil })
		}, `tool "a": arguments: string does not describe a JSON object`},
		{"scalar output", func(r *registry) {
			addStructuredTool(r, Tool{Name: "a"}, func(*Context, struct{}) (int, error) { return 0, nil })
		}, `tool "a": result: int does not describe a JSON object`},
		{"bad tag", func(r *registry) {
			addTool(r, Tool{Name: "a"}, func(*Context, struct {
				X int `jsonschema:"enum=x"`
			}) (*Result, error) {
				return nil, nil
			})
		}, `"x" is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &registry{}
			tt.add(r)
			for _, export := range []string{"list_tools", "call_tool", "describe", "call"} {
				_, err := r.dispatch(export, []byte(v2("a", "{}")))
				if err == nil || !strings.Contains(err.Error(), "plugin has invalid tool definitions: ") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: err = %v, want it to contain %q", export, err, tt.want)
				}
			}
		})
	}
}

func TestValidNames(t *testing.T) {
	for _, name := range []string{"a", "A-z_0.9", strings.Repeat("x", 128)} {
		if !validName(name) {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{"", "a/b", "é", "a b", "a:b", strings.Repeat("x", 129)} {
		if validName(name) {
			t.Errorf("%q accepted", name)
		}
	}
}

func BenchmarkCallSmall(b *testing.B) {
	r := testRegistry(b)
	in := []byte(v2("greet", `{"name":"Ada"}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.dispatch("call_tool", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallLarge(b *testing.B) {
	r := testRegistry(b)
	in := []byte(v2("greet", `{"name":"`+strings.Repeat("x", 1<<20)+`"}`))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := r.dispatch("call_tool", in); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDispatch feeds arbitrary requests to every export: the dispatcher
// must not panic, and must answer either an ABI error (with no output) or a
// valid result of the export's shape.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		v2("greet", `{"name":"Ada"}`), v1("greet", `{"name":"Ada"}`), v2("sum", `{"values":[1,2]}`),
		v2("sum", `{"values":[1e400]}`), v2("greet", `{"name":null}`), v2("ctx", `{"a":{"b":[1,"x",null]}}`),
		v2("fail", `{}`), v2("nothing", `[]`), `{"request":{"name":"greet","arguments":{"name":"\ud800"}}}`,
		`{}`, `null`, `{"request":null}`, `{"params":{"name":"sum","arguments":{"values":"x"}}}`,
	} {
		f.Add("call_tool", []byte(s))
		f.Add("call", []byte(s))
	}
	for _, s := range []string{
		req(`{"name":"summarize","arguments":{"topic":"Go","style":"short"}}`), req(`{"name":"summarize","arguments":{"topic":1}}`),
		req(`{"name":"embedded","arguments":{"topic":"\u2028","Extra":""}}`), req(`{"name":"plain","arguments":null}`),
		req(`{"name":"fails"}`), req(`{"name":"badrole"}`), req(`{"name":"nope"}`), `{"params":{"name":"empty"}}`,
	} {
		f.Add("get_prompt", []byte(s))
	}
	for _, s := range []string{
		req(`{"uri":"notes://readme"}`), req(`{"uri":"notes://logo"}`), req(`{"uri":"notes://multi"}`),
		req(`{"uri":"notes://topic/caf%C3%A9"}`), req(`{"uri":"notes://archive/2024-05-x/a.b.tar.gz"}`),
		req(`{"uri":"notes://topic/a/b"}`), req(`{"uri":"notes://fail/x"}`), req(`{"uri":7}`),
	} {
		f.Add("read_resource", []byte(s))
	}
	for _, s := range []string{
		req(`{"ref":{"type":"ref/prompt","name":"summarize"},"argument":{"name":"topic","value":"g"},"context":{"arguments":{"style":"short"}}}`),
		req(`{"ref":{"type":"ref/resource","uri":"notes://topic/{name}"},"argument":{"name":"name","value":"many"}}`),
		req(`{"ref":{"type":"ref/tool"},"argument":{}}`),
	} {
		f.Add("complete", []byte(s))
	}
	for _, e := range []string{"list_tools", "describe", "list_prompts", "list_resources", "list_resource_templates"} {
		f.Add(e, []byte(`{"request":{},"context":{}}`))
	}
	r := testRegistry(f)
	addExtras(f, r)
	// shapes maps each export to the member its result must hold.
	shapes := map[string]string{
		"call_tool": "content", "call": "content", "list_tools": "tools", "describe": "tools",
		"list_prompts": "prompts", "get_prompt": "messages", "list_resources": "resources",
		"list_resource_templates": "resourceTemplates", "read_resource": "contents", "complete": "completion",
	}
	exports := slices.Sorted(maps.Keys(shapes))
	f.Fuzz(func(t *testing.T, export string, input []byte) {
		if _, ok := shapes[export]; !ok {
			export = exports[len(export)%len(exports)]
		}
		out, err := r.dispatch(export, input)
		if err != nil {
			if out != nil {
				t.Fatalf("output %q with error %v", out, err)
			}
			return
		}
		var res map[string]json.RawMessage
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s(%q) = %q: not a JSON object (%v)", export, input, out, err)
		}
		member := res[shapes[export]]
		var list []json.RawMessage
		var completion struct {
			Values []string `json:"values"`
		}
		switch {
		case export == "complete":
			err = json.Unmarshal(member, &completion)
			if err == nil && (completion.Values == nil || len(completion.Values) > 100) {
				err = errors.New("no values, or more than 100")
			}
		default:
			err = json.Unmarshal(member, &list)
			if err == nil && list == nil {
				err = errors.New("null or missing")
			}
		}
		if err != nil {
			t.Fatalf("%s(%q) = %q: %q: %v", export, input, out, shapes[export], err)
		}
	})
}

// TestWarmCallsNoHandler checks that warm, which runs before a host takes
// its memory image (where no host function may be called), runs no tool's
// handler and leaves calls working.
func TestWarmCallsNoHandler(t *testing.T) {
	r := &registry{}
	called := 0
	addTool(r, Tool{Name: "touch"}, func(c *Context, in greetArgs) (*Result, error) {
		called++
		return Text("touched " + in.Name), nil
	})
	addStructuredTool(r, Tool{Name: "sum"}, func(c *Context, in sumArgs) (sumOut, error) {
		called++
		return sumOut{}, nil
	})
	r.prepare()
	r.warm()
	if called != 0 {
		t.Fatalf("warm ran %d handlers; want none", called)
	}
	out, err := r.dispatch(exportCallTool, []byte(`{"request":{"name":"touch","arguments":{"name":"x"}},"context":{}}`))
	if err != nil || !strings.Contains(string(out), "touched x") || called != 1 {
		t.Fatalf("call after warm: %s, %v (handlers run: %d)", out, err, called)
	}
}

// FuzzParseCallFast checks the fast path against the general one: whatever
// it accepts, the general path accepts with the same name, arguments and
// host context.
func FuzzParseCallFast(f *testing.F) {
	for _, s := range []string{
		`{"request":{"name":"greet","arguments":{"name":"Ada"}},"context":{}}`,
		`{"params":{"name":"greet","arguments":{"name":"Ada"}}}`,
		`{"request":"x","params":{"name":"a\u00e9"},"context":{"k":[1, 2]}}`,
		`{"request":{"name":"","arguments":null},"context":null}`,
		`{"request":{"name":"n","name":"m","arguments":{"a":1},"arguments":[2]}}`,
		` {"context" : { "trace" : "t" } , "request" : { "name" : "x" } } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		fast, ok := parseCallFast(input)
		if !ok {
			return
		}
		slow, err := parseCallGeneral(exportCallTool, input)
		if err != nil {
			t.Fatalf("fast path accepted %q, general path: %v", input, err)
		}
		if fast.name != slow.name || !reflect.DeepEqual(fast.args, slow.args) || string(fast.hostCtx) != string(slow.hostCtx) {
			t.Fatalf("%q: fast %q %#v %s; general %q %#v %s", input, fast.name, fast.args, fast.hostCtx, slow.name, slow.args, slow.hostCtx)
		}
	})
}
