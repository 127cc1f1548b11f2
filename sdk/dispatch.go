package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
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

	// v2, optional: prompts and resources.
	exportListPrompts           = "list_prompts"
	exportGetPrompt             = "get_prompt"
	exportListResources         = "list_resources"
	exportListResourceTemplates = "list_resource_templates"
	exportReadResource          = "read_resource"
	exportComplete              = "complete"
)

// dispatch runs one export on its input and returns the output. A non-nil
// error is an ABI failure: the export returns non-zero with the error's text.
func (r *registry) dispatch(export string, input []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("sdk: internal error in %s: %v", export, p)
		}
	}()
	if err := r.registrationErrors(); err != nil {
		return nil, err
	}
	switch export {
	case exportListTools, exportDescribe:
		return r.list()
	case exportCallTool, exportCall:
		return r.call(export, input)
	case exportListPrompts:
		return r.listPrompts()
	case exportGetPrompt:
		return r.getPrompt(input)
	case exportListResources:
		return r.listResources(), nil
	case exportListResourceTemplates:
		return r.listResourceTemplates(), nil
	case exportReadResource:
		return r.readResource(input)
	case exportComplete:
		return r.completeRequest(input)
	}
	return nil, fmt.Errorf("unknown export %q", export)
}

// registrationErrors reports the definitions that registration refused;
// they make every export fail.
func (r *registry) registrationErrors() error {
	if len(r.errs) == 0 && len(r.defErrs) == 0 {
		return nil
	}
	var parts []string
	for _, g := range []struct {
		what string
		errs []error
	}{{"tool", r.errs}, {"prompt or resource", r.defErrs}} {
		if len(g.errs) == 0 {
			continue
		}
		msgs := make([]string, len(g.errs))
		for i, e := range g.errs {
			msgs[i] = e.Error()
		}
		parts = append(parts, fmt.Sprintf("plugin has invalid %s definitions: %s", g.what, strings.Join(msgs, "; ")))
	}
	return errors.New(strings.Join(parts, "; "))
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
	if c, ok := parseCallFast(input); ok {
		return c, nil
	}
	return parseCallGeneral(export, input)
}

// parseCallGeneral is parseCall for any input: it parses the whole
// envelope and names what is wrong with it.
func parseCallGeneral(export string, input []byte) (*call, error) {
	shape := `{"request":{"name":"…","arguments":{…}},"context":{…}}`
	if export == exportCall {
		shape = `{"params":{"name":"…","arguments":{…}}}`
	}
	p, hostCtx, err := parseEnvelope(export, shape, input)
	if err != nil {
		return nil, err
	}
	name, ok := p["name"].(string)
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid %s request: expected a tool name (a non-empty string), found %s", export, describeValue(p["name"]))
	}
	return &call{name: name, args: p["arguments"], hostCtx: hostCtx}, nil
}

// parseCallFast is parseCall for a well-formed request: only the tool
// name and the arguments are parsed into values, not the envelope around
// them (in a plugin, building those maps and strings was most of the
// SDK's work in a small call). Anything unusual returns false, and the
// general path gives the answer, errors included.
func parseCallFast(input []byte) (*call, bool) {
	var req, params, ctx []byte
	if jsonv.Members(input, func(k, v []byte) error {
		switch string(k) {
		case "request":
			req = v
		case "params":
			params = v
		case "context":
			ctx = v
		}
		return nil
	}) != nil {
		return nil, false
	}
	p := req
	if len(p) == 0 || p[0] != '{' {
		p = params // as parseEnvelope: "request" unless it is not an object
	}
	if len(p) == 0 || p[0] != '{' {
		return nil, false
	}
	var name, args []byte
	if jsonv.Members(p, func(k, v []byte) error {
		switch string(k) {
		case "name":
			name = v
		case "arguments":
			args = v
		}
		return nil
	}) != nil || len(name) < 3 || name[0] != '"' {
		return nil, false // absent, not a string, or ""
	}
	c := &call{}
	if v, err := jsonv.Parse(name); err == nil {
		c.name, _ = v.(string)
	}
	if c.name == "" {
		return nil, false
	}
	if args != nil {
		v, err := jsonv.Parse(args)
		if err != nil {
			return nil, false
		}
		c.args = v
	}
	switch {
	case ctx == nil || string(ctx) == "null":
	case string(ctx) == "{}":
		c.hostCtx = json.RawMessage("{}")
	default:
		v, err := jsonv.Parse(ctx)
		if err != nil {
			return nil, false
		}
		if c.hostCtx, err = jsonv.Append(nil, v); err != nil {
			return nil, false
		}
	}
	return c, true
}

// parseEnvelope reads a request of the form {"request":{…},"context":{…}}
// (or the v1 {"params":{…}}) and returns its parameters and the compact
// "context" object, or nil when there is none. shape is the expected form,
// for error messages.
func parseEnvelope(export, shape string, input []byte) (map[string]any, json.RawMessage, error) {
	bad := func(found string) error {
		return fmt.Errorf("invalid %s request: expected JSON of the form %s, found %s", export, shape, found)
	}
	v, err := jsonv.Parse(input)
	if err != nil {
		return nil, nil, bad(fmt.Sprintf("%s (%v)", describeInput(input), err))
	}
	env, ok := v.(map[string]any)
	if !ok {
		return nil, nil, bad(describeInput(input))
	}
	p, ok := env["request"].(map[string]any)
	if !ok {
		p, ok = env["params"].(map[string]any)
	}
	if !ok {
		return nil, nil, bad(`no "request" or "params" object`)
	}
	var hostCtx json.RawMessage
	if hc, ok := env["context"]; ok && hc != nil {
		if hostCtx, err = jsonv.Append(nil, hc); err != nil {
			return nil, nil, err
		}
	}
	return p, hostCtx, nil
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

// listPrompts returns the ListPromptsResult: {"prompts":[…]} in
// registration order, or an error naming every prompt whose definition is
// invalid.
func (r *registry) listPrompts() ([]byte, error) {
	var errs []string
	b := append([]byte(nil), `{"prompts":[`...)
	for i, e := range r.prompts {
		def, err := e.definition()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, def...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("plugin has invalid prompt definitions: %s", strings.Join(errs, "; "))
	}
	return append(b, "]}"...), nil
}

// getPrompt runs get_prompt: {"request":{"name","arguments"},"context"}.
func (r *registry) getPrompt(input []byte) ([]byte, error) {
	const export = exportGetPrompt
	p, hostCtx, err := parseEnvelope(export, `{"request":{"name":"…","arguments":{"…":"…"}},"context":{…}}`, input)
	if err != nil {
		return nil, err
	}
	name, ok := p["name"].(string)
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid %s request: expected a prompt name (a non-empty string), found %s", export, describeValue(p["name"]))
	}
	e := r.promptByName[name]
	if e == nil {
		names := make([]string, len(r.prompts))
		for i, pe := range r.prompts {
			names[i] = pe.prompt.Name
		}
		has := "no prompts"
		if len(names) > 0 {
			has = "prompts " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("unknown prompt %q: this plugin has %s", name, has)
	}
	if _, err := e.definition(); err != nil {
		return nil, fmt.Errorf("plugin has invalid prompt definitions: %w", err)
	}
	args := p["arguments"]
	if args == nil {
		args = map[string]any{}
	}
	return e.invoke(args, hostCtx)
}

// listResources returns the ListResourcesResult: {"resources":[…]}.
func (r *registry) listResources() []byte {
	b := append([]byte(nil), `{"resources":[`...)
	for i, e := range r.resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResourceDef(b, &e.res)
	}
	return append(b, "]}"...)
}

// listResourceTemplates returns the ListResourceTemplatesResult:
// {"resourceTemplates":[…]}.
func (r *registry) listResourceTemplates() []byte {
	b := append([]byte(nil), `{"resourceTemplates":[`...)
	for i, e := range r.templates {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTemplateDef(b, &e.tmpl)
	}
	return append(b, "]}"...)
}

// readResource runs read_resource: {"request":{"uri"},"context"}. A fixed
// URI wins over templates, and earlier templates over later ones.
func (r *registry) readResource(input []byte) ([]byte, error) {
	const export = exportReadResource
	p, hostCtx, err := parseEnvelope(export, `{"request":{"uri":"…"},"context":{…}}`, input)
	if err != nil {
		return nil, err
	}
	uri, ok := p["uri"].(string)
	if !ok || uri == "" {
		return nil, fmt.Errorf("invalid %s request: expected a resource URI (a non-empty string), found %s", export, describeValue(p["uri"]))
	}
	if e := r.resourceByURI[uri]; e != nil {
		return readResource(uri, e.res.MIMEType, hostCtx, func(c *Context) (*ResourceResult, error) {
			return e.run(c, uri)
		})
	}
	for _, e := range r.templates {
		if vars := e.match(uri); vars != nil {
			return readResource(uri, e.tmpl.MIMEType, hostCtx, func(c *Context) (*ResourceResult, error) {
				return e.run(c, uri, vars)
			})
		}
	}
	var served []string
	if len(r.resources) > 0 {
		uris := make([]string, len(r.resources))
		for i, e := range r.resources {
			uris[i] = e.res.URI
		}
		served = append(served, "resources "+strings.Join(uris, ", "))
	}
	if len(r.templates) > 0 {
		ts := make([]string, len(r.templates))
		for i, e := range r.templates {
			ts[i] = e.tmpl.URITemplate
		}
		served = append(served, "templates "+strings.Join(ts, ", "))
	}
	if len(served) == 0 {
		served = []string{"no resources"}
	}
	return nil, fmt.Errorf("unknown resource %q: this plugin has %s", uri, strings.Join(served, " and "))
}

// completeRequest runs complete: {"request":{"ref":{"type","name"|"uri"},
// "argument":{"name","value"},"context":{"arguments":{…}}},"context"}.
func (r *registry) completeRequest(input []byte) ([]byte, error) {
	const export = exportComplete
	p, hostCtx, err := parseEnvelope(export, `{"request":{"ref":{"type":"ref/prompt","name":"…"},"argument":{"name":"…","value":"…"}},"context":{…}}`, input)
	if err != nil {
		return nil, err
	}
	bad := func(what string, v any) error {
		return fmt.Errorf("invalid %s request: expected %s, found %s", export, what, describeValue(v))
	}
	refObj, ok := p["ref"].(map[string]any)
	if !ok {
		return nil, bad(`a "ref" object`, p["ref"])
	}
	var ref CompletionRef
	switch ref.Type, _ = refObj["type"].(string); ref.Type {
	case RefPrompt:
		if ref.Name, ok = refObj["name"].(string); !ok || ref.Name == "" {
			return nil, bad(`a prompt name in "ref"`, refObj["name"])
		}
	case RefResource:
		if ref.URI, ok = refObj["uri"].(string); !ok || ref.URI == "" {
			return nil, bad(`a template URI in "ref"`, refObj["uri"])
		}
	default:
		found := describeValue(refObj["type"])
		if ref.Type != "" {
			found = strconv.Quote(ref.Type)
		}
		return nil, fmt.Errorf("invalid %s request: expected a \"ref\" of type %q or %q, found %s", export, RefPrompt, RefResource, found)
	}
	argObj, ok := p["argument"].(map[string]any)
	if !ok {
		return nil, bad(`an "argument" object`, p["argument"])
	}
	arg, ok := argObj["name"].(string)
	if !ok || arg == "" {
		return nil, bad(`an argument name`, argObj["name"])
	}
	value, ok := argObj["value"].(string)
	if !ok && argObj["value"] != nil {
		return nil, bad(`an argument value (a string)`, argObj["value"])
	}
	resolved := json.RawMessage("{}")
	if cx, ok := p["context"].(map[string]any); ok {
		if args, ok := cx["arguments"].(map[string]any); ok {
			if resolved, err = jsonv.Append(nil, args); err != nil {
				return nil, err
			}
		}
	}
	return r.runComplete(ref, arg, value, resolved, hostCtx)
}
