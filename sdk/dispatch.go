package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/wardenmcp/warden/sdk/internal/bridge"
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
		return nil, fmt.Errorf("plugin has invalid tool definitions: %w", errors.Join(r.errs...))
	}
	switch export {
	case exportListTools, exportDescribe:
		return r.list(), nil
	case exportCallTool, exportCall:
		return r.call(export, input)
	}
	return nil, fmt.Errorf("unknown export %q", export)
}

// list returns the ListToolsResult: {"tools":[…]} in registration order.
func (r *registry) list() []byte {
	var b bytes.Buffer
	b.WriteString(`{"tools":[`)
	for i, e := range r.tools {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.def)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// callParams is the {name, arguments} part of a call request.
type callParams struct {
	Name      *string         `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// callRequest accepts both envelopes: v2 {"request":{…},"context":{…}} and
// v1 {"params":{…}}.
type callRequest struct {
	Request *callParams     `json:"request"`
	Params  *callParams     `json:"params"`
	Context json.RawMessage `json:"context"`
}

// parseCall reads a call_tool or call request.
func parseCall(export string, input []byte) (*callParams, json.RawMessage, error) {
	shape := `{"request":{"name":"…","arguments":{…}},"context":{…}}`
	if export == exportCall {
		shape = `{"params":{"name":"…","arguments":{…}}}`
	}
	var req callRequest
	if err := json.Unmarshal(input, &req); err != nil {
		return nil, nil, fmt.Errorf("invalid %s request: expected JSON of the form %s, found %s (%v)", export, shape, describeInput(input), err)
	}
	p := req.Request
	if p == nil {
		p = req.Params
	}
	if p == nil {
		return nil, nil, fmt.Errorf("invalid %s request: expected JSON of the form %s, found no \"request\" or \"params\" object", export, shape)
	}
	if p.Name == nil || *p.Name == "" {
		return nil, nil, fmt.Errorf("invalid %s request: expected a tool name, found none", export)
	}
	return p, req.Context, nil
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
	p, hostCtx, err := parseCall(export, input)
	if err != nil {
		return nil, err
	}
	e := r.byName[*p.Name]
	if e == nil {
		names := make([]string, len(r.tools))
		for i, t := range r.tools {
			names[i] = t.name
		}
		return nil, fmt.Errorf("unknown tool %q: this plugin has %s", *p.Name, listOrNone(names))
	}
	args := []byte(p.Arguments)
	if t := bytes.TrimSpace(args); len(t) == 0 || string(t) == "null" {
		args = []byte("{}")
	}
	c := &Context{Tool: e.name, Arguments: json.RawMessage(args), HostContext: hostCtx}
	res, err := e.invoke(c, args)
	if err != nil {
		return nil, err
	}
	return marshalJSON(res)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no tools"
	}
	return "tools " + strings.Join(names, ", ")
}

// invoke validates the arguments and runs the handler. Handler errors and
// bad arguments become isError results; a panic becomes the returned error.
func (e *entry) invoke(c *Context, args []byte) (res *Result, err error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return argsError(e.name, fmt.Errorf("expected a JSON object, found invalid JSON (%v)", err)), nil
	}
	if problems := e.input.Validate(v); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return argsError(e.name, errors.New(strings.Join(msgs, "; "))), nil
	}

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

// decodeArgs decodes validated arguments into dst and rewrites decoding
// errors as "expected …, found …".
func decodeArgs(args []byte, dst any) error {
	err := json.Unmarshal(args, dst)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		where := te.Field
		if where == "" {
			where = "arguments"
		}
		return fmt.Errorf("%s: expected %s, found %s", where, te.Type, te.Value)
	}
	return err
}

// argsError is the isError result for arguments that do not fit the tool.
func argsError(tool string, err error) *Result {
	return &Result{
		Content: []Content{{Type: "text", Text: fmt.Sprintf("invalid arguments for tool %q: %v", tool, err)}},
		IsError: true,
	}
}
