package sdk

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type topicArgs struct {
	Topic string `json:"topic" jsonschema:"title=Topic,description=What to summarize,required"`
	Style string `json:"style,omitempty" jsonschema:"enum=short|long" description:"How long, \"short\" or \"long\""`
}

type embeddedArgs struct {
	topicArgs
	Extra string
}

// extrasRegistry is a registry with prompts, resources, templates and a
// completion handler.
func extrasRegistry(t testing.TB) *registry {
	t.Helper()
	r := &registry{}
	addExtras(t, r)
	return r
}

// addExtras registers the prompts, resources, templates and completion
// handler of extrasRegistry in r.
func addExtras(t testing.TB, r *registry) {
	t.Helper()
	addPrompt(r, Prompt{Name: "summarize", Title: "Summarize", Description: "Summarize notes"},
		func(c *Context, in topicArgs) (*PromptResult, error) {
			if c.Prompt != "summarize" || c.Tool != "" {
				return nil, errors.New("wrong context " + c.Prompt)
			}
			msg := "Summarize " + in.Topic
			if in.Style != "" {
				msg += " (" + in.Style + ")"
			}
			return &PromptResult{Description: "About " + in.Topic,
				Messages: []PromptMessage{UserText(msg), AssistantText("OK <&>")}}, nil
		})
	addPrompt(r, Prompt{Name: "plain"}, func(c *Context, _ struct{}) (*PromptResult, error) {
		return &PromptResult{Messages: []PromptMessage{{Role: "user", Content: Content{Type: "image", Data: []byte{1, 2}, MIMEType: "image/png"}}}}, nil
	})
	addPrompt(r, Prompt{Name: "embedded"}, func(c *Context, in embeddedArgs) (*PromptResult, error) {
		return &PromptResult{Messages: []PromptMessage{UserText(in.Topic + "/" + in.Extra + " " + string(c.Arguments) + " " + string(c.HostContext))}}, nil
	})
	addPrompt(r, Prompt{Name: "fails"}, func(c *Context, _ struct{}) (*PromptResult, error) {
		return nil, errors.New("no notes <here>")
	})
	addPrompt(r, Prompt{Name: "panics"}, func(c *Context, _ struct{}) (*PromptResult, error) {
		panic("prompt boom")
	})
	addPrompt(r, Prompt{Name: "empty"}, func(c *Context, _ struct{}) (*PromptResult, error) {
		return nil, nil
	})
	addPrompt(r, Prompt{Name: "badrole"}, func(c *Context, _ struct{}) (*PromptResult, error) {
		return &PromptResult{Messages: []PromptMessage{{Role: "system", Content: Content{Type: "text", Text: "x"}}}}, nil
	})

	addResource(r, Resource{URI: "notes://readme", Name: "readme", Title: "Read me", Description: "About", MIMEType: "text/markdown"},
		func(c *Context, uri string) (*ResourceResult, error) {
			return TextResource("", "", "# Notes\n\"quoted\""), nil
		})
	addResource(r, Resource{URI: "notes://logo", Name: "logo"}, func(c *Context, uri string) (*ResourceResult, error) {
		return BlobResource(uri, "image/png", []byte("\x89PNG")), nil
	})
	addResource(r, Resource{URI: "notes://multi", Name: "multi", MIMEType: "text/plain"}, func(c *Context, uri string) (*ResourceResult, error) {
		return TextResource(uri+"/a", "", "a").AddText(uri+"/b", "text/csv", "b").AddBlob(uri+"/c", "", nil), nil
	})
	addResource(r, Resource{URI: "notes://fails", Name: "fails"}, func(c *Context, uri string) (*ResourceResult, error) {
		return nil, errors.New("disk on fire")
	})
	addResource(r, Resource{URI: "notes://panics", Name: "panics"}, func(c *Context, uri string) (*ResourceResult, error) {
		panic("resource boom")
	})
	addResource(r, Resource{URI: "notes://nil", Name: "nil"}, func(c *Context, uri string) (*ResourceResult, error) {
		return nil, nil
	})
	addResource(r, Resource{URI: "notes://topic/fixed", Name: "fixed"}, func(c *Context, uri string) (*ResourceResult, error) {
		return TextResource(uri, "text/plain", "static wins"), nil
	})
	vars := func(c *Context, uri string, vars map[string]string) (*ResourceResult, error) {
		var b strings.Builder
		b.WriteString(string(c.HostContext))
		for _, k := range []string{"name", "year", "month", "file", "ext"} {
			if v, ok := vars[k]; ok {
				b.WriteString(" " + k + "=" + v)
			}
		}
		return TextResource(uri, "", b.String()), nil
	}
	addResourceTemplate(r, ResourceTemplate{URITemplate: "notes://topic/{name}", Name: "topic", Title: "Topic", MIMEType: "text/markdown"}, vars)
	addResourceTemplate(r, ResourceTemplate{URITemplate: "notes://archive/{year}-{month}/{file}.{ext}", Name: "archive"}, vars)
	addResourceTemplate(r, ResourceTemplate{URITemplate: "notes://fail/{name}", Name: "fail"},
		func(c *Context, uri string, vars map[string]string) (*ResourceResult, error) {
			return nil, errors.New("cannot read " + vars["name"])
		})

	setCompletion(r, func(c *Context, ref CompletionRef, arg, value string) ([]string, error) {
		switch {
		case value == "boom":
			panic("complete boom")
		case value == "err":
			return nil, errors.New("no suggestions today")
		case value == "many":
			out := make([]string, 150)
			for i := range out {
				out[i] = "v"
			}
			return out, nil
		}
		return []string{ref.Type + "|" + ref.Name + ref.URI + "|" + arg + "|" + value + "|" + c.Prompt + "|" + string(c.Arguments)}, nil
	})
	if err := r.registrationErrors(); err != nil {
		t.Fatal(err)
	}
}

func req(params string) string {
	return `{"request":` + params + `,"context":{"session":"s1"}}`
}

func TestExtrasExports(t *testing.T) {
	tests := []struct {
		name    string
		export  string
		input   string
		want    string // exact output, when set
		wantErr string // ABI failure substring, when set
	}{
		// list_prompts
		{"list prompts", "list_prompts", `{}`, `{"prompts":[` +
			`{"name":"summarize","title":"Summarize","description":"Summarize notes","arguments":[{"name":"topic","title":"Topic","description":"What to summarize","required":true},{"name":"style","description":"How long, \"short\" or \"long\""}]},` +
			`{"name":"plain"},{"name":"embedded","arguments":[{"name":"topic","title":"Topic","description":"What to summarize","required":true},{"name":"style","description":"How long, \"short\" or \"long\""},{"name":"Extra"}]},` +
			`{"name":"fails"},{"name":"panics"},{"name":"empty"},{"name":"badrole"}]}`, ""},
		{"list prompts ignores input", "list_prompts", `not json`, `{"prompts":[`, ""},

		// get_prompt
		{"get prompt", "get_prompt", req(`{"name":"summarize","arguments":{"topic":"Go"}}`),
			`{"description":"About Go","messages":[{"role":"user","content":{"type":"text","text":"Summarize Go"}},{"role":"assistant","content":{"type":"text","text":"OK <&>"}}]}`, ""},
		{"get prompt optional", "get_prompt", req(`{"name":"summarize","arguments":{"topic":"Go","style":"short"}}`),
			`{"description":"About Go","messages":[{"role":"user","content":{"type":"text","text":"Summarize Go (short)"}},{"role":"assistant","content":{"type":"text","text":"OK <&>"}}]}`, ""},
		{"get prompt null optional", "get_prompt", req(`{"name":"summarize","arguments":{"topic":"Go","style":null}}`),
			`{"description":"About Go","messages":[{"role":"user","content":{"type":"text","text":"Summarize Go"}},{"role":"assistant","content":{"type":"text","text":"OK <&>"}}]}`, ""},
		{"get prompt v1 envelope", "get_prompt", `{"params":{"name":"summarize","arguments":{"topic":"Go"}}}`,
			`{"description":"About Go","messages":[{"role":"user","content":{"type":"text","text":"Summarize Go"}},{"role":"assistant","content":{"type":"text","text":"OK <&>"}}]}`, ""},
		{"get prompt image", "get_prompt", req(`{"name":"plain"}`),
			`{"messages":[{"role":"user","content":{"type":"image","data":"AQI=","mimeType":"image/png"}}]}`, ""},
		{"get prompt null arguments", "get_prompt", req(`{"name":"plain","arguments":null}`),
			`{"messages":[{"role":"user","content":{"type":"image","data":"AQI=","mimeType":"image/png"}}]}`, ""},
		{"get prompt embedded and context", "get_prompt", req(`{"name":"embedded","arguments":{"topic":"a","Extra":"b"}}`),
			`{"messages":[{"role":"user","content":{"type":"text","text":"a/b {\"Extra\":\"b\",\"topic\":\"a\"} {\"session\":\"s1\"}"}}]}`, ""},
		{"get prompt nil result", "get_prompt", req(`{"name":"empty"}`), `{"messages":[]}`, ""},
		{"get prompt handler error", "get_prompt", req(`{"name":"fails"}`), "", "no notes <here>"},
		{"get prompt panic", "get_prompt", req(`{"name":"panics"}`), "", `prompt "panics" panicked: prompt boom`},
		{"get prompt bad role", "get_prompt", req(`{"name":"badrole"}`), "", `prompt "badrole": message 0 has role "system": expected "user" or "assistant"`},
		{"get prompt unknown", "get_prompt", req(`{"name":"nope"}`), "", `unknown prompt "nope": this plugin has prompts summarize, plain, embedded, fails, panics, empty, badrole`},
		{"get prompt missing required", "get_prompt", req(`{"name":"summarize","arguments":{}}`), "",
			`invalid arguments for prompt "summarize": topic: required property is missing (expected a string)`},
		{"get prompt not a string", "get_prompt", req(`{"name":"summarize","arguments":{"topic":7}}`), "",
			`invalid arguments for prompt "summarize": topic: expected a string, found number 7`},
		{"get prompt enum", "get_prompt", req(`{"name":"summarize","arguments":{"topic":"a","style":"medium"}}`), "",
			`invalid arguments for prompt "summarize": style: `},
		{"get prompt unknown argument", "get_prompt", req(`{"name":"summarize","arguments":{"topic":"a","x":"y"}}`), "",
			`invalid arguments for prompt "summarize": x: unexpected property`},
		{"get prompt arguments not an object", "get_prompt", req(`{"name":"summarize","arguments":["a"]}`), "",
			`invalid arguments for prompt "summarize": expected an object, found an array of 1`},
		{"get prompt no name", "get_prompt", req(`{}`), "", `invalid get_prompt request: expected a prompt name (a non-empty string), found none`},
		{"get prompt not JSON", "get_prompt", `{`, "", `invalid get_prompt request: expected JSON of the form {"request":{"name":"…","arguments":{"…":"…"}},"context":{…}}, found "{"`},
		{"get prompt no request", "get_prompt", `{"name":"plain"}`, "", `found no "request" or "params" object`},

		// list_resources, list_resource_templates
		{"list resources", "list_resources", `{}`, `{"resources":[` +
			`{"uri":"notes://readme","name":"readme","title":"Read me","description":"About","mimeType":"text/markdown"},` +
			`{"uri":"notes://logo","name":"logo"},{"uri":"notes://multi","name":"multi","mimeType":"text/plain"},{"uri":"notes://fails","name":"fails"},` +
			`{"uri":"notes://panics","name":"panics"},{"uri":"notes://nil","name":"nil"},{"uri":"notes://topic/fixed","name":"fixed"}]}`, ""},
		{"list templates", "list_resource_templates", `{"request":{},"context":{}}`, `{"resourceTemplates":[` +
			`{"uriTemplate":"notes://topic/{name}","name":"topic","title":"Topic","mimeType":"text/markdown"},` +
			`{"uriTemplate":"notes://archive/{year}-{month}/{file}.{ext}","name":"archive"},{"uriTemplate":"notes://fail/{name}","name":"fail"}]}`, ""},

		// read_resource
		{"read static", "read_resource", req(`{"uri":"notes://readme"}`),
			`{"contents":[{"uri":"notes://readme","mimeType":"text/markdown","text":"# Notes\n\"quoted\""}]}`, ""},
		{"read blob", "read_resource", req(`{"uri":"notes://logo"}`), `{"contents":[{"uri":"notes://logo","mimeType":"image/png","blob":"iVBORw=="}]}`, ""},
		{"read multi", "read_resource", req(`{"uri":"notes://multi"}`),
			`{"contents":[{"uri":"notes://multi/a","mimeType":"text/plain","text":"a"},{"uri":"notes://multi/b","mimeType":"text/csv","text":"b"},{"uri":"notes://multi/c","mimeType":"text/plain","blob":""}]}`, ""},
		{"read nil", "read_resource", req(`{"uri":"notes://nil"}`), `{"contents":[]}`, ""},
		{"read static wins", "read_resource", req(`{"uri":"notes://topic/fixed"}`),
			`{"contents":[{"uri":"notes://topic/fixed","mimeType":"text/plain","text":"static wins"}]}`, ""},
		{"read template", "read_resource", req(`{"uri":"notes://topic/go"}`),
			`{"contents":[{"uri":"notes://topic/go","mimeType":"text/markdown","text":"{\"session\":\"s1\"} name=go"}]}`, ""},
		{"read template decoded", "read_resource", req(`{"uri":"notes://topic/caf%C3%A9%20au%2Flait%zz"}`),
			`{"contents":[{"uri":"notes://topic/caf%C3%A9%20au%2Flait%zz","mimeType":"text/markdown","text":"{\"session\":\"s1\"} name=café au/lait%zz"}]}`, ""},
		{"read template several", "read_resource", req(`{"uri":"notes://archive/2024-05-x/a.b.tar.gz"}`),
			`{"contents":[{"uri":"notes://archive/2024-05-x/a.b.tar.gz","text":"{\"session\":\"s1\"} year=2024 month=05-x file=a ext=b.tar.gz"}]}`, ""},
		{"read template error", "read_resource", req(`{"uri":"notes://fail/x"}`), "", "cannot read x"},
		{"read handler error", "read_resource", req(`{"uri":"notes://fails"}`), "", "disk on fire"},
		{"read panic", "read_resource", req(`{"uri":"notes://panics"}`), "", `resource "notes://panics" panicked: resource boom`},
		{"read unknown", "read_resource", req(`{"uri":"notes://nope"}`), "",
			`unknown resource "notes://nope": this plugin has resources notes://readme, notes://logo, notes://multi, notes://fails, notes://panics, notes://nil, notes://topic/fixed and templates notes://topic/{name}, notes://archive/{year}-{month}/{file}.{ext}, notes://fail/{name}`},
		{"read template no value", "read_resource", req(`{"uri":"notes://topic/"}`), "", `unknown resource "notes://topic/"`},
		{"read template slash", "read_resource", req(`{"uri":"notes://topic/a/b"}`), "", `unknown resource "notes://topic/a/b"`},
		{"read template query", "read_resource", req(`{"uri":"notes://topic/a?b"}`), "", `unknown resource`},
		{"read template case", "read_resource", req(`{"uri":"NOTES://topic/a"}`), "", `unknown resource`},
		{"read no uri", "read_resource", req(`{"name":"x"}`), "", `invalid read_resource request: expected a resource URI (a non-empty string), found none`},
		{"read empty uri", "read_resource", req(`{"uri":""}`), "", `found an empty string`},
		{"read not JSON", "read_resource", `[]`, "", `invalid read_resource request: expected JSON of the form {"request":{"uri":"…"},"context":{…}}, found "[]"`},

		// complete
		{"complete prompt", "complete", req(`{"ref":{"type":"ref/prompt","name":"summarize"},"argument":{"name":"topic","value":"g"},"context":{"arguments":{"style":"short"}}}`),
			`{"completion":{"values":["ref/prompt|summarize|topic|g|summarize|{\"style\":\"short\"}"]}}`, ""},
		{"complete template", "complete", req(`{"ref":{"type":"ref/resource","uri":"notes://topic/{name}"},"argument":{"name":"name","value":""}}`),
			`{"completion":{"values":["ref/resource|notes://topic/{name}|name|||{}"]}}`, ""},
		{"complete no value", "complete", req(`{"ref":{"type":"ref/resource","uri":"x:{a}"},"argument":{"name":"a"}}`),
			`{"completion":{"values":["ref/resource|x:{a}|a|||{}"]}}`, ""},
		{"complete many", "complete", req(`{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"many"}}`),
			`{"completion":{"values":[` + strings.Repeat(`"v",`, 99) + `"v"],"total":150,"hasMore":true}}`, ""},
		{"complete error", "complete", req(`{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"err"}}`), "", "no suggestions today"},
		{"complete panic", "complete", req(`{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"boom"}}`), "", `completion of "a" panicked: complete boom`},
		{"complete bad ref type", "complete", req(`{"ref":{"type":"ref/tool","name":"p"},"argument":{"name":"a","value":""}}`), "",
			`invalid complete request: expected a "ref" of type "ref/prompt" or "ref/resource", found "ref/tool"`},
		{"complete no ref", "complete", req(`{"argument":{"name":"a","value":""}}`), "", `invalid complete request: expected a "ref" object, found none`},
		{"complete no prompt name", "complete", req(`{"ref":{"type":"ref/prompt"},"argument":{"name":"a"}}`), "", `expected a prompt name in "ref", found none`},
		{"complete no uri", "complete", req(`{"ref":{"type":"ref/resource","name":"x"},"argument":{"name":"a"}}`), "", `expected a template URI in "ref", found none`},
		{"complete no argument", "complete", req(`{"ref":{"type":"ref/prompt","name":"p"}}`), "", `expected an "argument" object, found none`},
		{"complete number value", "complete", req(`{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":1}}`), "", `expected an argument value (a string), found a number`},
	}
	r := extrasRegistry(t)
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
			prefix := strings.HasSuffix(tt.want, "[") // the start of the output
			if prefix && !strings.HasPrefix(string(out), tt.want) || !prefix && string(out) != tt.want {
				t.Fatalf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

// TestExtrasEmpty checks that a plugin without prompts, resources or a
// completion handler answers every new export with an empty result.
func TestExtrasEmpty(t *testing.T) {
	r := testRegistry(t)
	for _, tt := range []struct{ export, input, want string }{
		{"list_prompts", `{}`, `{"prompts":[]}`},
		{"list_resources", `{}`, `{"resources":[]}`},
		{"list_resource_templates", ``, `{"resourceTemplates":[]}`},
		{"complete", req(`{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"}}`), `{"completion":{"values":[]}}`},
	} {
		out, err := r.dispatch(tt.export, []byte(tt.input))
		if err != nil || string(out) != tt.want {
			t.Errorf("%s = %s, %v; want %s", tt.export, out, err, tt.want)
		}
	}
	for _, tt := range []struct{ export, input, want string }{
		{"get_prompt", req(`{"name":"greet"}`), `unknown prompt "greet": this plugin has no prompts`},
		{"read_resource", req(`{"uri":"notes://x"}`), `unknown resource "notes://x": this plugin has no resources`},
	} {
		if _, err := r.dispatch(tt.export, []byte(tt.input)); err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %s", tt.export, err, tt.want)
		}
	}
}

func TestExtrasRegistrationErrors(t *testing.T) {
	okPrompt := func(*Context, struct{}) (*PromptResult, error) { return nil, nil }
	okRes := func(*Context, string) (*ResourceResult, error) { return nil, nil }
	okTmpl := func(*Context, string, map[string]string) (*ResourceResult, error) { return nil, nil }
	tmpl := func(s string) func(r *registry) {
		return func(r *registry) { addResourceTemplate(r, ResourceTemplate{URITemplate: s, Name: "t"}, okTmpl) }
	}
	// These are refused at registration: every export fails.
	tests := []struct {
		name string
		add  func(r *registry)
		want string
	}{
		{"prompt bad name", func(r *registry) { addPrompt(r, Prompt{Name: "a b"}, okPrompt) }, `prompt name "a b": expected 1 to 128 characters`},
		{"prompt duplicate", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, okPrompt)
			addPrompt(r, Prompt{Name: "p"}, okPrompt)
		}, `prompt "p" is registered twice`},
		{"prompt nil handler", func(r *registry) { addPrompt[struct{}](r, Prompt{Name: "p"}, nil) }, `prompt "p": nil handler`},
		{"resource relative", func(r *registry) { addResource(r, Resource{URI: "readme", Name: "r"}, okRes) },
			`resource "readme": not an absolute URI: expected a scheme such as "notes:" first`},
		{"resource space", func(r *registry) { addResource(r, Resource{URI: "notes://a b", Name: "r"}, okRes) },
			`resource "notes://a b": has white space or a control character at byte 9`},
		{"resource no name", func(r *registry) { addResource(r, Resource{URI: "notes://a"}, okRes) }, `resource "notes://a": no name (MCP requires one)`},
		{"resource nil handler", func(r *registry) { addResource(r, Resource{URI: "notes://a", Name: "a"}, nil) }, `resource "notes://a": nil handler`},
		{"resource duplicate", func(r *registry) {
			addResource(r, Resource{URI: "notes://a", Name: "a"}, okRes)
			addResource(r, Resource{URI: "notes://a", Name: "b"}, okRes)
		}, `resource "notes://a" is registered twice`},
		{"template duplicate", func(r *registry) {
			tmpl("x://{a}")(r)
			tmpl("x://{a}")(r)
		}, `resource template "x://{a}" is registered twice`},
		{"template no name", func(r *registry) { addResourceTemplate(r, ResourceTemplate{URITemplate: "x://{a}"}, okTmpl) }, `no name (MCP requires one)`},
		{"template nil handler", func(r *registry) { addResourceTemplate(r, ResourceTemplate{URITemplate: "x://{a}", Name: "t"}, nil) }, `nil handler`},
		{"template relative", tmpl("{a}"), `resource template "{a}": not an absolute URI template`},
		{"template no variable", tmpl("x://a"), `has no {variable}: register a fixed URI with AddResource`},
		{"template unclosed", tmpl("x://{a"), `'{' at byte 4 is not closed`},
		{"template stray brace", tmpl("x://a}{b}"), `'}' at byte 5 has no '{'`},
		{"template operator", tmpl("x://{+path}"), `{+path} at byte 4: operator "+" is not supported: only level-1 templates ({name}) are`},
		{"template query operator", tmpl("x://a{?q}"), `operator "?" is not supported`},
		{"template list", tmpl("x://{a,b}"), `lists of variables are not supported`},
		{"template prefix", tmpl("x://{a:3}"), `modifiers (':' and '*') are not supported`},
		{"template explode", tmpl("x://{a*}"), `modifiers (':' and '*') are not supported`},
		{"template empty var", tmpl("x://{}"), `empty variable name`},
		{"template bad var", tmpl("x://{a-b}"), `variable names are letters, digits and '_'`},
		{"template double dot", tmpl("x://{a..b}"), `variable names are letters, digits and '_'`},
		{"template repeated var", tmpl("x://{a}/{a}"), `variable {a} appears twice`},
		{"template adjacent", tmpl("x://{a}{b}"), `{b} at byte 7 follows another variable: put a literal between them`},
		{"template space", tmpl("x://{a} b"), `white space or a control character at byte 7`},
		{"completion twice", func(r *registry) {
			f := func(*Context, CompletionRef, string, string) ([]string, error) { return nil, nil }
			setCompletion(r, f)
			setCompletion(r, f)
		}, `SetCompletion is called more than once`},
		{"completion nil", func(r *registry) { setCompletion(r, nil) }, `SetCompletion: nil handler`},
	}
	exports := []string{"list_tools", "call_tool", "list_prompts", "get_prompt", "list_resources", "list_resource_templates", "read_resource", "complete"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &registry{}
			tt.add(r)
			for _, export := range exports {
				_, err := r.dispatch(export, []byte(req(`{"name":"p","uri":"notes://a"}`)))
				if err == nil || !strings.Contains(err.Error(), "plugin has invalid prompt or resource definitions: ") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: err = %v, want it to contain %q", export, err, tt.want)
				}
			}
		})
	}

	// Both kinds of registration errors are reported together.
	r := &registry{}
	addTool(r, Tool{Name: "a b"}, func(*Context, struct{}) (*Result, error) { return nil, nil })
	addPrompt(r, Prompt{Name: "c d"}, okPrompt)
	_, err := r.dispatch("list_prompts", nil)
	if want := `plugin has invalid tool definitions: tool name "a b": expected 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' and '.'; plugin has invalid prompt or resource definitions: prompt name "c d": expected 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' and '.'`; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestPromptArgumentErrors(t *testing.T) {
	// These are found when the prompt's definition is first needed: by
	// list_prompts and by get_prompt for that prompt, not by other exports.
	tests := []struct {
		name string
		add  func(r *registry)
		want string
	}{
		{"int field", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, struct {
				N int `json:"n"`
			}) (*PromptResult, error) {
				return nil, nil
			})
		}, `prompt "p": arguments: struct { N int "json:\"n\"" }.N (argument "n") is int: MCP prompt arguments are strings, so use a string field (an absent optional argument is "")`},
		{"pointer field", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, struct{ S *string }) (*PromptResult, error) { return nil, nil })
		}, `(argument "S") is *string: MCP prompt arguments are strings`},
		{"slice field", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, struct{ S []string }) (*PromptResult, error) { return nil, nil })
		}, `(argument "S") is []string`},
		{"map", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, map[string]string) (*PromptResult, error) { return nil, nil })
		}, `prompt "p": arguments: map[string]string is not a struct: prompt arguments are the string fields of a struct (struct{} for none)`},
		{"string", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, string) (*PromptResult, error) { return nil, nil })
		}, `string is not a struct`},
		{"bad tag", func(r *registry) {
			addPrompt(r, Prompt{Name: "p"}, func(*Context, struct {
				S string `jsonschema:"minimum=1"`
			}) (*PromptResult, error) {
				return nil, nil
			})
		}, `jsonschema tag minimum: needs a number field, not string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &registry{}
			tt.add(r)
			addPrompt(r, Prompt{Name: "ok"}, func(*Context, struct{}) (*PromptResult, error) { return nil, nil })
			for _, export := range []string{"list_prompts", "get_prompt"} {
				_, err := r.dispatch(export, []byte(req(`{"name":"p"}`)))
				if err == nil || !strings.Contains(err.Error(), "plugin has invalid prompt definitions: ") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: err = %v, want it to contain %q", export, err, tt.want)
				}
			}
			if out, err := r.dispatch("get_prompt", []byte(req(`{"name":"ok"}`))); err != nil || string(out) != `{"messages":[]}` {
				t.Fatalf("other prompt: %s %v", out, err)
			}
		})
	}
}

func TestTemplateMatch(t *testing.T) {
	tests := []struct {
		tmpl, uri string
		want      map[string]string // nil: no match
	}{
		{"notes://topic/{name}", "notes://topic/go", map[string]string{"name": "go"}},
		{"notes://topic/{name}", "notes://topic/", nil},
		{"notes://topic/{name}", "notes://topic", nil},
		{"notes://topic/{name}", "notes://topic/a/b", nil},
		{"notes://topic/{name}", "notes://topic/a#b", nil},
		{"notes://topic/{name}", "notes://topics/a", nil},
		{"notes://topic/{name}", "notes://topic/a%2Fb", map[string]string{"name": "a/b"}},
		{"notes://topic/{name}", "notes://topic/%E2%82%AC%", map[string]string{"name": "€%"}},
		{"notes://topic/{name}", "notes://topic/ünï", map[string]string{"name": "ünï"}},
		{"x://{a}.md", "x://a.b.md", map[string]string{"a": "a.b"}},
		{"x://{a}.md", "x://a.mdx.md", map[string]string{"a": "a.mdx"}},
		{"x://{a}.md", "x://.md", nil},
		{"x://{a}-{b}", "x://1-2-3", map[string]string{"a": "1", "b": "2-3"}},
		{"x://{a}-{b}/z", "x://1-2-3/z", map[string]string{"a": "1", "b": "2-3"}},
		{"x://{a}/{b}?q={c}", "x://p/q?q=r", map[string]string{"a": "p", "b": "q", "c": "r"}},
		{"x://{a}/{b}?q={c}", "x://p/q?q=r/s", nil},
		{"x://{a}/{b}?q={c}", "x://p/q?q=", nil},
		{"x://{a}:{b}", "x://h:80", map[string]string{"a": "h", "b": "80"}},
		{"x://{a}", "y://a", nil},
	}
	for _, tt := range tests {
		parts, err := parseTemplate(tt.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tt.tmpl, err)
		}
		got := (&templateEntry{parts: parts}).match(tt.uri)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("match(%q, %q) = %v, want %v", tt.tmpl, tt.uri, got, tt.want)
		}
	}
}

func TestTemplateMatchWorstCase(t *testing.T) {
	// The many ways to split a long segment must not take quadratic or
	// exponential time.
	parts, err := parseTemplate("x://{a}-{b}-{c}-{d}-{e}-{f}/end")
	if err != nil {
		t.Fatal(err)
	}
	e := &templateEntry{parts: parts}
	long := strings.Repeat("-", 1<<16)
	if got := e.match("x://" + long + "/nope"); got != nil {
		t.Fatalf("matched %v", got)
	}
	got := e.match("x://" + long + "/end")
	if got == nil || got["a"] != "-" || got["e"] != "-" || len(got["f"]) != 1<<16-10 {
		t.Fatalf("matched %v", len(got))
	}
}

func TestPromptAndResourceResultJSON(t *testing.T) {
	p := PromptResult{Messages: []PromptMessage{UserText("hi"), AssistantText("ho")}}
	data, err := json.Marshal(p)
	if err != nil || string(data) != `{"messages":[{"role":"user","content":{"type":"text","text":"hi"}},{"role":"assistant","content":{"type":"text","text":"ho"}}]}` {
		t.Fatalf("%s %v", data, err)
	}
	var back PromptResult
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("%+v %v", back, err)
	}
	if _, err := json.Marshal(PromptResult{Messages: []PromptMessage{{Role: "bot"}}}); err == nil || !strings.Contains(err.Error(), `prompt result: message 0 has role "bot"`) {
		t.Fatalf("bad role: %v", err)
	}

	rr := TextResource("a://b", "text/plain", "t").AddBlob("a://c", "", []byte{0xff})
	data, err = json.Marshal(rr)
	if err != nil || string(data) != `{"contents":[{"uri":"a://b","mimeType":"text/plain","text":"t"},{"uri":"a://c","blob":"/w=="}]}` {
		t.Fatalf("%s %v", data, err)
	}
	var rback ResourceResult
	if err := json.Unmarshal(data, &rback); err != nil || !reflect.DeepEqual(&rback, rr) {
		t.Fatalf("%+v %v", rback, err)
	}
	data, _ = json.Marshal(BlobResource("a://e", "", nil))
	if string(data) != `{"contents":[{"uri":"a://e","blob":""}]}` {
		t.Fatalf("empty blob %s", data)
	}
	if err := json.Unmarshal(data, &rback); err != nil || rback.Contents[0].Blob == nil {
		t.Fatalf("empty blob back %+v %v", rback, err)
	}
	if err := json.Unmarshal([]byte(`{"contents":[{"uri":"a://e","blob":"!"}]}`), &rback); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func BenchmarkReadTemplate(b *testing.B) {
	r := extrasRegistry(b)
	in := []byte(req(`{"uri":"notes://archive/2024-05/file.tar.gz"}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.dispatch("read_resource", in); err != nil {
			b.Fatal(err)
		}
	}
}

// matchSlow is a backtracking reference for templateEntry.match: each
// variable takes the shortest value that lets the rest match.
func matchSlow(parts []tmplPart, uri string) map[string]string {
	vars := map[string]string{}
	var try func(i int, rest string) bool
	try = func(i int, rest string) bool {
		if i == len(parts) {
			return rest == ""
		}
		if parts[i].name == "" {
			return strings.HasPrefix(rest, parts[i].lit) && try(i+1, rest[len(parts[i].lit):])
		}
		for n := 1; n <= len(rest) && !strings.ContainsAny(rest[n-1:n], "/?#"); n++ {
			if try(i+1, rest[n:]) {
				vars[parts[i].name] = percentDecode(rest[:n])
				return true
			}
		}
		return false
	}
	if !try(0, uri) {
		return nil
	}
	return vars
}

func FuzzTemplateMatch(f *testing.F) {
	f.Add("x://{a}-{b}", "x://1-2-3")
	f.Add("x://{a}.md/{b}", "x://a.md.md/b%2f")
	f.Add("x://{a}/{b}?q={c}", "x://p/q?q=r")
	f.Fuzz(func(t *testing.T, tmpl, uri string) {
		if len(uri) > 40 {
			return
		}
		parts, err := parseTemplate(tmpl)
		if err != nil {
			return
		}
		got := (&templateEntry{parts: parts}).match(uri)
		if want := matchSlow(parts, uri); !reflect.DeepEqual(got, want) {
			t.Fatalf("match(%q, %q) = %v, want %v", tmpl, uri, got, want)
		}
	})
}
