package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
	"github.com/wardenmcp/warden/sdk/internal/schema"
)

// Prompt describes a prompt template as MCP clients see it. Its arguments
// come from the handler's argument type.
type Prompt struct {
	// Name identifies the prompt within the plugin, with the same rules as
	// a tool name. The host shows it as "<plugin>.<name>".
	Name string
	// Title is an optional human-readable name.
	Title string
	// Description tells the user what the prompt is for.
	Description string
}

// PromptResult is an MCP GetPromptResult: the messages a prompt expands to.
type PromptResult struct {
	// Description is an optional description of this expansion.
	Description string `json:"description,omitempty"`
	// Messages are the conversation the client starts from. They are
	// written as an empty array, never null, when there are none.
	Messages []PromptMessage `json:"messages"`
}

// PromptMessage is one message of a PromptResult.
type PromptMessage struct {
	// Role is "user" or "assistant".
	Role string `json:"role"`
	// Content is the message: text, an image or audio.
	Content Content `json:"content"`
}

// UserText returns a message from the user holding text s.
func UserText(s string) PromptMessage {
	return PromptMessage{Role: "user", Content: Content{Type: "text", Text: s}}
}

// AssistantText returns a message from the assistant holding text s.
func AssistantText(s string) PromptMessage {
	return PromptMessage{Role: "assistant", Content: Content{Type: "text", Text: s}}
}

// Prompt roles.
const (
	roleUser      = "user"
	roleAssistant = "assistant"
)

// MarshalJSON writes the MCP form of r.
func (r PromptResult) MarshalJSON() ([]byte, error) {
	return appendPromptResult(nil, &r, "")
}

// appendPromptResult appends the JSON form of r to dst; name is the prompt,
// for error messages.
func appendPromptResult(dst []byte, r *PromptResult, name string) ([]byte, error) {
	dst = append(dst, '{')
	if r.Description != "" {
		dst = append(dst, `"description":`...)
		dst = jsonv.AppendString(dst, r.Description)
		dst = append(dst, ',')
	}
	dst = append(dst, `"messages":[`...)
	for i := range r.Messages {
		m := &r.Messages[i]
		if m.Role != roleUser && m.Role != roleAssistant {
			what := "prompt result"
			if name != "" {
				what = fmt.Sprintf("prompt %q", name)
			}
			return nil, fmt.Errorf("%s: message %d has role %q: expected %q or %q", what, i, m.Role, roleUser, roleAssistant)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"role":`...)
		dst = jsonv.AppendString(dst, m.Role)
		dst = append(dst, `,"content":`...)
		dst = appendContent(dst, &m.Content)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

// AddPrompt registers a prompt whose arguments are decoded into In, a
// struct of string fields: MCP prompt arguments are strings. Each field
// the encoding/json rules name is an argument, under that name; its
// `jsonschema` tag gives its description, title and whether it is
// required, as for tool arguments, and may constrain it further (enum,
// minLength, maxLength). Use struct{} for a prompt without arguments.
//
// Arguments that are missing, unknown or out of bounds never reach h: the
// get_prompt export fails with a message that says what was expected. MCP
// has no error result for prompts, so a non-nil error from h also makes
// get_prompt fail, with the error's text as the message.
//
// AddPrompt is meant to be called from init functions. A bad or duplicate
// name is reported by every export; an argument type that is not a struct
// of string fields, or a malformed tag, is reported by list_prompts and by
// get_prompt for that prompt, so a host refuses the plugin when it loads it.
func AddPrompt[In any](p Prompt, h func(c *Context, in In) (*PromptResult, error)) {
	addPrompt(defaultRegistry, p, h)
}

func addPrompt[In any](r *registry, p Prompt, h func(c *Context, in In) (*PromptResult, error)) {
	if h == nil {
		r.defErrs = append(r.defErrs, fmt.Errorf("prompt %q: nil handler", p.Name))
		return
	}
	if !validName(p.Name) {
		r.defErrs = append(r.defErrs, fmt.Errorf("prompt name %q: expected 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' and '.'", p.Name))
		return
	}
	if _, dup := r.promptByName[p.Name]; dup {
		r.defErrs = append(r.defErrs, fmt.Errorf("prompt %q is registered twice", p.Name))
		return
	}
	e := &promptEntry{prompt: p, in: reflect.TypeFor[In](), run: func(c *Context, args any) (*PromptResult, error) {
		var in In
		if err := jsonv.Decode(args, &in); err != nil {
			return nil, promptArgsError(p.Name, err)
		}
		return h(c, in)
	}}
	if r.promptByName == nil {
		r.promptByName = map[string]*promptEntry{}
	}
	r.promptByName[p.Name] = e
	r.prompts = append(r.prompts, e)
}

// promptEntry is a registered prompt. Like a tool's, its definition is
// derived on first use.
type promptEntry struct {
	prompt Prompt
	in     reflect.Type
	run    func(c *Context, args any) (*PromptResult, error)

	once   sync.Once
	args   *schema.Schema  // the arguments as an object schema
	def    json.RawMessage // the MCP Prompt object
	defErr error
}

// definition derives the prompt's argument schema and its MCP Prompt
// object.
func (e *promptEntry) definition() (json.RawMessage, error) {
	e.once.Do(func() {
		e.args, e.defErr = promptArgs(e.in)
		if e.defErr != nil {
			e.defErr = fmt.Errorf("prompt %q: arguments: %w", e.prompt.Name, e.defErr)
			return
		}
		p := e.prompt
		b := append([]byte(nil), `{"name":`...)
		b = jsonv.AppendString(b, p.Name)
		b = appendOptional(b, "title", p.Title)
		b = appendOptional(b, "description", p.Description)
		if len(e.args.Properties) > 0 {
			b = append(b, `,"arguments":[`...)
			for i, a := range e.args.Properties {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = jsonv.AppendString(b, a.Name)
				b = appendOptional(b, "title", a.Schema.Title)
				b = appendOptional(b, "description", a.Schema.Description)
				if slices.Contains(e.args.Required, a.Name) {
					b = append(b, `,"required":true`...)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		e.def = append(b, '}')
	})
	return e.def, e.defErr
}

// appendOptional appends ,"key":"value" when value is not empty.
func appendOptional(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return jsonv.AppendString(dst, value)
}

// promptArgs checks that t is a struct of string fields and returns its
// schema.
func promptArgs(t reflect.Type) (*schema.Schema, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct: prompt arguments are the string fields of a struct (struct{} for none)", t)
	}
	for _, f := range jsonv.Fields(t) {
		if f.Type.Kind() != reflect.String {
			return nil, fmt.Errorf("%s.%s (argument %q) is %s: MCP prompt arguments are strings, so use a string field (an absent optional argument is \"\")", t, f.GoName, f.Name, f.Type)
		}
	}
	return schema.For(t, schema.Input)
}

// promptArgsError is the failure for arguments that do not fit the prompt.
func promptArgsError(prompt string, err error) error {
	return fmt.Errorf("invalid arguments for prompt %q: %v", prompt, err)
}

// invoke validates the arguments, runs the handler and encodes its result.
// Every failure, a handler's error included, is an ABI failure: MCP has no
// error result for prompts.
func (e *promptEntry) invoke(args any, hostCtx json.RawMessage) (out []byte, err error) {
	name := e.prompt.Name
	if problems := e.args.Validate(args); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return nil, promptArgsError(name, errors.New(strings.Join(msgs, "; ")))
	}
	raw, err := jsonv.Append(nil, args)
	if err != nil {
		return nil, promptArgsError(name, err)
	}
	c := &Context{Prompt: name, Arguments: raw, HostContext: hostCtx}

	defer func() {
		if p := recover(); p != nil {
			Log.Error(fmt.Sprintf("prompt %q panicked: %v", name, p), "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("prompt %q panicked: %v", name, p)
		}
	}()
	res, err := e.run(c, args)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &PromptResult{}
	}
	return appendPromptResult(nil, res, name)
}
