package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/wardenmcp/warden/sdk/internal/jsonv"
	"github.com/wardenmcp/warden/sdk/internal/schema"
)

// Tool describes a tool as MCP clients see it. The input schema comes from
// the handler's argument type and, for AddStructuredTool, the output schema
// from its result type.
type Tool struct {
	// Name identifies the tool within the plugin: 1 to 128 characters of
	// A-Z, a-z, 0-9, '_', '-' and '.'. The host shows it as
	// "<plugin>.<name>".
	Name string
	// Title is an optional human-readable name.
	Title string
	// Description tells a model what the tool does and when to use it.
	Description string
	// Annotations are hints about the tool's behaviour.
	Annotations Annotations
	// TaskSupport says whether a client may (TaskOptional) or must
	// (TaskRequired) run the tool as an MCP task, a call that returns at
	// once and is polled for its result: worth declaring for calls that
	// take a while (report how far they got with Progress). Empty declares
	// nothing, which clients read as TaskForbidden.
	TaskSupport TaskSupport
}

// TaskSupport is a tool's execution.taskSupport (MCP 2025-11-25): whether it
// may, must or must not run as an MCP task.
type TaskSupport string

// The values of TaskSupport.
const (
	// TaskForbidden: the tool runs as an ordinary call only.
	TaskForbidden TaskSupport = "forbidden"
	// TaskOptional: a client may run the tool as a task or call it
	// directly.
	TaskOptional TaskSupport = "optional"
	// TaskRequired: a client must run the tool as a task.
	TaskRequired TaskSupport = "required"
)

func (ts TaskSupport) valid() bool {
	switch ts {
	case "", TaskForbidden, TaskOptional, TaskRequired:
		return true
	}
	return false
}

// Annotations are the MCP tool annotations. They are hints for clients, not
// guarantees, and a nil hint is left to the client's default.
type Annotations struct {
	// Title is a human-readable name for the tool.
	Title string `json:"title,omitempty"`
	// ReadOnlyHint says the tool does not modify its environment.
	ReadOnlyHint *bool `json:"readOnlyHint,omitempty"`
	// DestructiveHint says the tool may delete or overwrite data.
	DestructiveHint *bool `json:"destructiveHint,omitempty"`
	// IdempotentHint says repeating a call with the same arguments has no
	// further effect.
	IdempotentHint *bool `json:"idempotentHint,omitempty"`
	// OpenWorldHint says the tool talks to the outside world (the network).
	OpenWorldHint *bool `json:"openWorldHint,omitempty"`
}

func (a Annotations) isZero() bool {
	return a.Title == "" && a.ReadOnlyHint == nil && a.DestructiveHint == nil &&
		a.IdempotentHint == nil && a.OpenWorldHint == nil
}

// Bool returns a pointer to b, for the hints in Annotations.
func Bool(b bool) *bool { return &b }

// Context describes the call being handled. Host services (HTTP, Config,
// Secret, Log) are package-level functions and may be used from any handler.
type Context struct {
	// Tool is the name of the called tool, or "" outside a tool call.
	Tool string
	// Prompt is the name of the requested prompt, or "" outside get_prompt
	// (and complete for a prompt's argument).
	Prompt string
	// Arguments is the arguments object as compact JSON with sorted keys
	// ({} when the host sent none), for handlers that want the raw form.
	Arguments json.RawMessage
	// HostContext is the "context" object of a v2 request, as the host sent
	// it, or nil (v1 calls have none).
	HostContext json.RawMessage
}

// AddTool registers a tool whose arguments are decoded into In, typically a
// struct whose fields carry `json` and `jsonschema` tags (see the package
// documentation). The tool's input schema is derived from In.
//
// Arguments that do not match the schema never reach h: the caller gets a
// result with isError set that says what was expected and what was found.
// A non-nil error from h also becomes an isError result carrying its text.
//
// AddTool is meant to be called from init functions. A definition that
// cannot be used (a bad or duplicate name, an argument type without a JSON
// object form, a malformed tag) is reported by the plugin's exports, as the
// package documentation describes, rather than by a panic at start-up.
func AddTool[In any](t Tool, h func(c *Context, in In) (*Result, error)) {
	addTool(defaultRegistry, t, h)
}

func addTool[In any](r *registry, t Tool, h func(c *Context, in In) (*Result, error)) {
	if h == nil {
		r.errs = append(r.errs, fmt.Errorf("tool %q: nil handler", t.Name))
		return
	}
	r.add(t, reflect.TypeFor[In](), nil, func(c *Context, args any) (*Result, error) {
		var in In
		if err := jsonv.Decode(args, &in); err != nil {
			return argsError(t.Name, err), nil
		}
		return h(c, in)
	})
}

// AddStructuredTool registers a tool that returns structured content. Its
// input schema is derived from In and its output schema from Out, which must
// be a struct (or a map with string keys). A successful call returns Out as
// structuredContent and, for clients that only read text, the same JSON as
// a text block. A non-nil error becomes an isError result carrying its text.
func AddStructuredTool[In, Out any](t Tool, h func(c *Context, in In) (Out, error)) {
	addStructuredTool(defaultRegistry, t, h)
}

func addStructuredTool[In, Out any](r *registry, t Tool, h func(c *Context, in In) (Out, error)) {
	if h == nil {
		r.errs = append(r.errs, fmt.Errorf("tool %q: nil handler", t.Name))
		return
	}
	r.add(t, reflect.TypeFor[In](), reflect.TypeFor[Out](), func(c *Context, args any) (*Result, error) {
		var in In
		if err := jsonv.Decode(args, &in); err != nil {
			return argsError(t.Name, err), nil
		}
		out, err := h(c, in)
		if err != nil {
			return nil, err
		}
		data, err := marshalJSON(out)
		if err != nil {
			return nil, fmt.Errorf("encoding the result: %w", err)
		}
		if string(data) == "null" {
			return nil, errors.New("the tool returned no result")
		}
		return &Result{
			Content:           []Content{{Type: "text", Text: string(data)}},
			StructuredContent: json.RawMessage(data),
		}, nil
	})
}

// handlerFunc runs a tool on its parsed (and validated) arguments.
type handlerFunc func(c *Context, args any) (*Result, error)

// entry is a registered tool. Its schemas are derived on first use, not at
// registration: registration runs in every instance's start-up, while a
// call needs only the called tool's input schema.
type entry struct {
	name string
	tool Tool
	in   reflect.Type
	out  reflect.Type // nil unless the tool returns structured content
	run  handlerFunc

	inputOnce sync.Once
	input     *schema.Schema
	inputErr  error

	defOnce sync.Once
	def     json.RawMessage // the MCP Tool object
	defErr  error
}

// inputSchema returns the schema of the tool's arguments.
func (e *entry) inputSchema() (*schema.Schema, error) {
	e.inputOnce.Do(func() {
		e.input, e.inputErr = schema.For(e.in, schema.Input)
		if e.inputErr != nil {
			e.inputErr = fmt.Errorf("tool %q: arguments: %w", e.name, e.inputErr)
		}
	})
	return e.input, e.inputErr
}

// definition returns the MCP Tool object.
func (e *entry) definition() (json.RawMessage, error) {
	e.defOnce.Do(func() {
		in, err := e.inputSchema()
		if err != nil {
			e.defErr = err
			return
		}
		t := e.tool
		def := toolJSON{Name: t.Name, Title: t.Title, Description: t.Description, InputSchema: in}
		if e.out != nil {
			if def.OutputSchema, err = schema.For(e.out, schema.Output); err != nil {
				e.defErr = fmt.Errorf("tool %q: result: %w", t.Name, err)
				return
			}
		}
		if !t.Annotations.isZero() {
			a := t.Annotations
			def.Annotations = &a
		}
		if t.TaskSupport != "" {
			def.Execution = &executionJSON{TaskSupport: t.TaskSupport}
		}
		if e.def, err = marshalJSON(def); err != nil {
			e.defErr = fmt.Errorf("tool %q: %w", t.Name, err)
		}
	})
	return e.def, e.defErr
}

// registry holds a plugin's tools, prompts and resources in registration
// order.
type registry struct {
	tools  []*entry
	byName map[string]*entry
	errs   []error // invalid tool registrations

	prompts       []*promptEntry
	promptByName  map[string]*promptEntry
	resources     []*resourceEntry
	resourceByURI map[string]*resourceEntry
	templates     []*templateEntry
	complete      completeFunc
	defErrs       []error // invalid prompt, resource and completion registrations
}

var defaultRegistry = &registry{}

// toolJSON is the MCP Tool object.
type toolJSON struct {
	Name         string         `json:"name"`
	Title        string         `json:"title,omitempty"`
	Description  string         `json:"description,omitempty"`
	InputSchema  *schema.Schema `json:"inputSchema"`
	OutputSchema *schema.Schema `json:"outputSchema,omitempty"`
	Annotations  *Annotations   `json:"annotations,omitempty"`
	Execution    *executionJSON `json:"execution,omitempty"`
}

// executionJSON is the MCP ToolExecution object.
type executionJSON struct {
	TaskSupport TaskSupport `json:"taskSupport"`
}

func validName(name string) bool {
	if len(name) < 1 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func (r *registry) add(t Tool, in, out reflect.Type, run handlerFunc) {
	if err := r.register(t, in, out, run); err != nil {
		r.errs = append(r.errs, err)
	}
}

func (r *registry) register(t Tool, in, out reflect.Type, run handlerFunc) error {
	if !validName(t.Name) {
		return fmt.Errorf("tool name %q: expected 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' and '.'", t.Name)
	}
	if _, dup := r.byName[t.Name]; dup {
		return fmt.Errorf("tool %q is registered twice", t.Name)
	}
	if !t.TaskSupport.valid() {
		return fmt.Errorf("tool %q: TaskSupport is %q; want sdk.TaskForbidden, sdk.TaskOptional, sdk.TaskRequired or empty", t.Name, string(t.TaskSupport))
	}
	e := &entry{name: t.Name, tool: t, in: in, out: out, run: run}
	if r.byName == nil {
		r.byName = map[string]*entry{}
	}
	r.byName[t.Name] = e
	r.tools = append(r.tools, e)
	return nil
}

// prepare derives every definition and argument schema now rather than on
// first use; errors stay recorded in the entries and surface as before.
func (r *registry) prepare() {
	for _, e := range r.tools {
		e.inputSchema()
		e.definition()
	}
	for _, e := range r.prompts {
		e.definition()
	}
}

// warm runs, once per tool, the parts of a call that are the same for any
// arguments: parsing a request, checking arguments against the schema,
// encoding a result. It calls no handler. Run after the garbage collector
// and before a host takes its memory image, it leaves the allocator's
// per-size caches filled (a collection empties them), so calls do not
// each refill them first: for a small tool that was half of the guest's
// work in a call.
func (r *registry) warm() {
	for _, e := range r.tools {
		input := append(jsonv.AppendString([]byte(`{"request":{"name":`), e.name), `,"arguments":{}},"context":{}}`...)
		req, err := parseCall(exportCallTool, input)
		if err != nil {
			continue
		}
		if in, err := e.inputSchema(); err == nil {
			in.Validate(req.args)
		}
		if e.in != nil {
			// Fills jsonv's per-type field cache in the image.
			_ = jsonv.Decode(map[string]any{}, reflect.New(e.in).Interface())
		}
		appendResult(nil, &Result{Content: []Content{{Type: "text", Text: e.name}}})
	}
}
