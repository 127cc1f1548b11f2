// Package sdktest runs a plugin's tools on the build machine, without a
// WebAssembly host, so that plugin authors can unit-test them with go test.
//
// Tools registered with sdk.AddTool and sdk.AddStructuredTool are called
// through the same dispatcher the Wasm exports use, so argument validation,
// error results and panics behave exactly as in a host. Keep a plugin's
// handlers in files without the wasip1 build tag to test them this way.
//
// A Host stands in for the Extism host: config values and secrets, HTTP
// served by an http.Handler, and a log that records what the plugin wrote.
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
// and no network, and records every log message.
type Host struct {
	// Config holds config values and granted secrets by name; sdk.Config
	// and sdk.Secret both read it.
	Config map[string]string
	// HTTP serves the requests the plugin makes with sdk.HTTP. When nil,
	// such requests fail.
	HTTP http.Handler
	// LogLevel is the lowest level recorded; the zero value records all.
	LogLevel sdk.Level

	mu   sync.Mutex
	logs []LogEntry
}

// LogEntry is one message the plugin logged.
type LogEntry struct {
	Level   sdk.Level
	Message string
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

// Tool is a tool definition as list_tools reports it.
type Tool struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  sdk.Annotations `json:"annotations,omitzero"`
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

// Invoke runs one export ("list_tools", "call_tool", "describe" or "call")
// on raw input and returns its raw output; a non-nil error is the message
// the export would pass to error_set.
func Invoke(export string, input []byte) ([]byte, error) {
	return bridge.Dispatch(export, input)
}
