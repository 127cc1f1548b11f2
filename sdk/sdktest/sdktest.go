// Package sdktest runs a plugin's tools, prompts and resources on the build
// machine, without a WebAssembly host, so that plugin authors can unit-test
// them with go test.
//
// Tools registered with sdk.AddTool and sdk.AddStructuredTool, prompts
// registered with sdk.AddPrompt and resources registered with
// sdk.AddResource and sdk.AddResourceTemplate are reached through the same
// dispatcher the Wasm exports use, so argument validation, error results
// and panics behave exactly as in a host. Keep a plugin's
// handlers in files without the wasip1 build tag to test them this way.
//
// A Host stands in for the Extism host: config values and secrets, HTTP
// served by an http.Handler, a log that records what the plugin wrote, and
// the progress reports it made.
package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/wardenmcp/warden/sdk"
	"github.com/wardenmcp/warden/sdk/internal/bridge"
)

// Host is a fake plugin host. The zero value offers no config, no secrets
// and no network, and records every log message and progress report.
type Host struct {
	// Config holds config values and granted secrets by name; sdk.Config
	// and sdk.Secret both read it.
	Config map[string]string
	// HTTP serves the requests the plugin makes with sdk.HTTP. When nil,
	// such requests fail.
	HTTP http.Handler
	// LogLevel is the lowest level recorded; the zero value records all.
	LogLevel sdk.Level

	mu       sync.Mutex
	logs     []LogEntry
	progress []Progress
}

// LogEntry is one message the plugin logged.
type LogEntry struct {
	Level   sdk.Level
	Message string
}

// Progress is one progress report the plugin made with sdk.Progress, as
// the host received it. The host does not check reports here; Warden
// drops a report whose Progress is not greater than the previous one's in
// the same call.
type Progress struct {
	Progress float64 `json:"progress"`
	Total    float64 `json:"total"` // 0 when unknown
	Message  string  `json:"message"`
}

// Install makes h the host of the SDK until restore is called.
func (h *Host) Install() (restore func()) {
	prev := bridge.Current
	bridge.Current = fakeHost{h}
	return func() { bridge.Current = prev }
}

// Logs returns the messages logged so far.
func (h *Host) Logs() []LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogEntry(nil), h.logs...)
}

// Progress returns the progress reports made so far, in order.
func (h *Host) Progress() []Progress {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Progress(nil), h.progress...)
}

type fakeHost struct{ h *Host }

func (f fakeHost) ConfigGet(key string) (string, bool) {
	v, ok := f.h.Config[key]
	return v, ok
}

func (f fakeHost) HTTPRequest(spec, body []byte) (int, []byte, []byte, error) {
	if f.h.HTTP == nil {
		return 0, nil, nil, errors.New("sdktest: the host has no HTTP handler")
	}
	var req struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(spec, &req); err != nil {
		return 0, nil, nil, err
	}
	r := httptest.NewRequest(req.Method, req.URL, bytes.NewReader(body))
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.HTTP.ServeHTTP(w, r)
	resp := w.Result()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	headers := map[string]string{}
	for k, v := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	hdrs, err := json.Marshal(headers)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, hdrs, data, nil
}

func (f fakeHost) Log(level int, msg string) {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.logs = append(f.h.logs, LogEntry{Level: sdk.Level(level), Message: msg})
}

func (f fakeHost) LogLevel() int { return int(f.h.LogLevel) }

func (f fakeHost) Progress(report []byte) {
	var p Progress
	if err := json.Unmarshal(report, &p); err != nil {
		// The SDK always sends valid JSON; say so loudly if it did not.
		p.Message = "sdktest: malformed progress report: " + err.Error()
	}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.progress = append(f.h.progress, p)
}

// Tool is a tool definition as list_tools reports it.
type Tool struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  sdk.Annotations `json:"annotations,omitzero"`
	Execution    Execution       `json:"execution,omitzero"`
}

// Execution is a tool's MCP execution object; its zero value means the
// tool declares none.
type Execution struct {
	// TaskSupport is empty when the tool does not declare it.
	TaskSupport sdk.TaskSupport `json:"taskSupport,omitempty"`
}

// Tools returns the registered tools as the list_tools export reports them.
func Tools() ([]Tool, error) {
	out, err := Invoke("list_tools", []byte("{}"))
	if err != nil {
		return nil, err
	}
	var list struct {
		Tools []Tool `json:"tools"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, err
	}
	return list.Tools, nil
}

// Call calls a tool through the call_tool export. args is encoded with
// encoding/json unless it is a json.RawMessage; nil means no arguments.
// A non-nil error is what a host would see as an ABI failure (an unknown
// tool, a panic); a tool's own failure is a Result with IsError set.
func Call(tool string, args any) (*sdk.Result, error) {
	var raw json.RawMessage
	switch a := args.(type) {
	case nil:
		raw = json.RawMessage("{}")
	case json.RawMessage:
		raw = a
	default:
		var err error
		if raw, err = json.Marshal(a); err != nil {
			return nil, err
		}
	}
	req, err := json.Marshal(map[string]any{
		"request": map[string]any{"name": tool, "arguments": raw},
		"context": map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	out, err := Invoke("call_tool", req)
	if err != nil {
		return nil, err
	}
	var res sdk.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Invoke runs one export ("list_tools", "call_tool", "describe", "call",
// "list_prompts", "get_prompt", "list_resources",
// "list_resource_templates", "read_resource" or "complete") on raw input
// and returns its raw output; a non-nil error is the message the export
// would pass to error_set.
func Invoke(export string, input []byte) ([]byte, error) {
	return bridge.Dispatch(export, input)
}

// Prompt is a prompt definition as list_prompts reports it.
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
}

// PromptArgument is one argument of a Prompt.
type PromptArgument struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

// request runs a v2 export on {"request": params, "context": {}} and
// decodes its output into out.
func request(export string, params any, out any) error {
	req, err := json.Marshal(map[string]any{"request": params, "context": map[string]any{}})
	if err != nil {
		return err
	}
	data, err := Invoke(export, req)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// Prompts returns the registered prompts as the list_prompts export
// reports them; an invalid definition is an error, as a host would see it.
func Prompts() ([]Prompt, error) {
	var list struct {
		Prompts []Prompt `json:"prompts"`
	}
	if err := request("list_prompts", map[string]any{}, &list); err != nil {
		return nil, err
	}
	return list.Prompts, nil
}

// GetPrompt expands a prompt through the get_prompt export; nil args
// means none. A non-nil error is what a host would see as an ABI failure:
// an unknown prompt, arguments that do not fit, the handler's error or a
// panic.
func GetPrompt(name string, args map[string]string) (*sdk.PromptResult, error) {
	if args == nil {
		args = map[string]string{}
	}
	var res sdk.PromptResult
	if err := request("get_prompt", map[string]any{"name": name, "arguments": args}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Resources returns the registered resources with fixed URIs as the
// list_resources export reports them.
func Resources() ([]sdk.Resource, error) {
	var list struct {
		Resources []sdk.Resource `json:"resources"`
	}
	if err := request("list_resources", map[string]any{}, &list); err != nil {
		return nil, err
	}
	return list.Resources, nil
}

// ResourceTemplates returns the registered resource templates as the
// list_resource_templates export reports them.
func ResourceTemplates() ([]sdk.ResourceTemplate, error) {
	var list struct {
		Templates []sdk.ResourceTemplate `json:"resourceTemplates"`
	}
	if err := request("list_resource_templates", map[string]any{}, &list); err != nil {
		return nil, err
	}
	return list.Templates, nil
}

// ReadResource reads uri through the read_resource export, which serves
// both fixed URIs and those matching a template. A non-nil error is what a
// host would see as an ABI failure: a URI the plugin does not serve, the
// handler's error or a panic.
func ReadResource(uri string) (*sdk.ResourceResult, error) {
	var res sdk.ResourceResult
	if err := request("read_resource", map[string]any{"uri": uri}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Complete asks the complete export for the values of argument arg of ref
// that fit value, the text typed so far.
func Complete(ref sdk.CompletionRef, arg, value string) ([]string, error) {
	var res struct {
		Completion struct {
			Values []string `json:"values"`
		} `json:"completion"`
	}
	params := map[string]any{"ref": ref, "argument": map[string]string{"name": arg, "value": value}}
	if err := request("complete", params, &res); err != nil {
		return nil, err
	}
	return res.Completion.Values, nil
}
