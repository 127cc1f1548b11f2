package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/wardenmcp/warden/sdk/internal/bridge"
	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

func init() {
	bridge.Dispatch = defaultRegistry.dispatch
}

// Export names, as the host calls them.
const (
	exportListTools = "list_tools" // v2
	exportCallTool  = "call_tool"  // v2
	exportDescribe  = "describe"   // v1
	exportCall      = "call"       // v1
)

// dispatch runs one export on its input and returns the output. A non-nil
// error is an ABI failure: the export returns non-zero with the error's text.
func (r *registry) dispatch(export string, input []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("sdk: internal error in %s: %v", export, p)
		}
	}()
	if len(r.errs) > 0 {
		msgs := make([]string, len(r.errs))
		for i, e := range r.errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("plugin has invalid tool definitions: %s", strings.Join(msgs, "; "))
	}
	switch export {
	case exportListTools, exportDescribe:
		return r.list()
	case exportCallTool, exportCall:
		return r.call(export, input)
	}
	return nil, fmt.Errorf("unknown export %q", export)
}

// list returns the ListToolsResult: {"tools":[…]} in registration order,
// or an error naming every tool whose definition is invalid.
func (r *registry) list() ([]byte, error) {
	var b bytes.Buffer
	var errs []string
	b.WriteString(`{"tools":[`)
	for i, e := range r.tools {
		def, err := e.definition()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(def)
	}
	b.WriteString(`]}`)
	if len(errs) > 0 {
		return nil, fmt.Errorf("plugin has invalid tool definitions: %s", strings.Join(errs, "; "))
	}
	return b.Bytes(), nil
}

// call is a parsed call_tool or call request.
type call struct {
	name    string
	args    any             // parsed arguments; nil when absent or null
	hostCtx json.RawMessage // the v2 "context" object, or nil
}

// parseCall reads a call_tool request, {"request":{"name","arguments"},
// "context"}, or a call request, {"params":{"name","arguments"}}; each
// export accepts both envelopes. The input is parsed once: the arguments are
// validated and decoded from the parsed value.
func parseCall(export string, input []byte) (*call, error) {
	shape := `{"request":{"name":"…","arguments":{…}},"context":{…}}`
	if export == exportCall {
		shape = `{"params":{"name":"…","arguments":{…}}}`
	}
	bad := func(found string) error {
		return fmt.Errorf("invalid %s request: expected JSON of the form %s, found %s", export, shape, found)
	}
	v, err := jsonv.Parse(input)
	if err != nil {
		return nil, bad(fmt.Sprintf("%s (%v)", describeInput(input), err))
	}
	env, ok := v.(map[string]any)
	if !ok {
		return nil, bad(describeInput(input))
	}
	p, ok := env["request"].(map[string]any)
	if !ok {
		p, ok = env["params"].(map[string]any)
	}
	if !ok {
		return nil, bad(`no "request" or "params" object`)
	}
	name, ok := p["name"].(string)
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid %s request: expected a tool name (a non-empty string), found %s", export, describeValue(p["name"]))
	}
	c := &call{name: name, args: p["arguments"]}
	if hc, ok := env["context"]; ok && hc != nil {
		if c.hostCtx, err = jsonv.Append(nil, hc); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// describeValue names the kind of a parsed value for error messages.
func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "none"
	case string:
		return "an empty string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// describeInput summarises input for error messages without echoing much of it.
func describeInput(input []byte) string {
	s := strings.TrimSpace(string(input))
	switch {
	case s == "":
		return "empty input"
	case len(s) > 60:
		return fmt.Sprintf("%d bytes starting %q", len(input), s[:40])
	}
	return fmt.Sprintf("%q", s)
}

func (r *registry) call(export string, input []byte) ([]byte, error) {
	req, err := parseCall(export, input)
	if err != nil {
		return nil, err
	}
	e := r.byName[req.name]
	if e == nil {
		names := make([]string, len(r.tools))
		for i, t := range r.tools {
			names[i] = t.name
		}
		return nil, fmt.Errorf("unknown tool %q: this plugin has %s", req.name, listOrNone(names))
	}
	// Only the called tool's definition is checked (and derived) here;
	// list_tools checks them all.
	check := func() error { _, err := e.inputSchema(); return err }
	if e.out != nil {
		check = func() error { _, err := e.definition(); return err }
	}
	if err := check(); err != nil {
		return nil, fmt.Errorf("plugin has invalid tool definitions: %w", err)
	}
	args := req.args
	if args == nil {
		args = map[string]any{}
	}
	res, err := e.invoke(args, req.hostCtx)
	if err != nil {
		return nil, err
	}
	return appendResult(nil, res)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no tools"
	}
	return "tools " + strings.Join(names, ", ")
}

// invoke validates the decoded arguments and runs the handler. Handler
// errors and bad arguments become isError results; a panic becomes the
// returned error.
func (e *entry) invoke(args any, hostCtx json.RawMessage) (res *Result, err error) {
	in, err := e.inputSchema()
	if err != nil {
		return nil, err
	}
	if problems := in.Validate(args); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return argsError(e.name, errors.New(strings.Join(msgs, "; "))), nil
	}
	raw, err := jsonv.Append(nil, args)
	if err != nil {
		return argsError(e.name, err), nil
	}
	c := &Context{Tool: e.name, Arguments: raw, HostContext: hostCtx}

	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			Log.Error(fmt.Sprintf("tool %q panicked: %v", e.name, p), "stack", string(stack))
			res, err = nil, fmt.Errorf("tool %q panicked: %v", e.name, p)
		}
	}()
	res, herr := e.run(c, args)
	switch {
	case herr != nil:
		return &Result{Content: []Content{{Type: "text", Text: herr.Error()}}, IsError: true}, nil
	case res == nil:
		return &Result{}, nil
	}
	return res, nil
}

// argsError is the isError result for arguments that do not fit the tool.
func argsError(tool string, err error) *Result {
	return &Result{
		Content: []Content{{Type: "text", Text: fmt.Sprintf("invalid arguments for tool %q: %v", tool, err)}},
		IsError: true,
	}
}
