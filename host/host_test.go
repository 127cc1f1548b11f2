package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

var (
	rtOnce sync.Once
	rt     *plugins.Runtime
	modMu  sync.Mutex
	mods   = map[string]*plugins.Plugin{}
)

func module(t testing.TB, name, pkg string) *plugins.Plugin {
	t.Helper()
	rtOnce.Do(func() {
		r, err := plugins.NewRuntime(context.Background(), plugins.WithCacheDir(testutil.CompileCacheDir(t)))
		if err != nil {
			t.Fatal(err)
		}
		rt = r
	})
	modMu.Lock()
	defer modMu.Unlock()
	if m, ok := mods[name]; ok {
		return m
	}
	var wasm []byte
	if strings.HasSuffix(pkg, ".wasm") {
		b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), pkg))
		if err != nil {
			t.Fatal(err)
		}
		wasm = b
	} else {
		wasm = testutil.ReadPlugin(t, pkg)
	}
	m, err := rt.Load(context.Background(), name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	mods[name] = m
	return m
}

func tr(b bool) *bool { return &b }

// newServer serves hello, hash, loop and the third-party plugin.
func newServer(t *testing.T, opts ...func(*host.Options)) (*host.Server, string) {
	t.Helper()
	o := host.Options{Runtime: nil, AllowedOrigins: []string{"http://localhost:6274"}, MaxBodyBytes: 64 << 10}
	module(t, "hello", "./examples/hello")
	o.Runtime = rt
	for _, f := range opts {
		f(&o)
	}
	s, err := host.New(o)
	if err != nil {
		t.Fatal(err)
	}
	loopGrant := &capabilities.Grant{Limits: capabilities.Limits{Timeout: capabilities.Duration(300 * time.Millisecond)}}
	err = s.Swap([]*host.Plugin{
		{Name: "hello", Module: module(t, "hello", "./examples/hello"),
			Tools: map[string]host.ToolOverride{"greet": {Description: "Greet someone (operator's words).", Annotations: host.Annotations{ReadOnlyHint: tr(true)}}}},
		{Name: "hash", Module: module(t, "hash", "./examples/hash"), Expose: []string{"sha256"}},
		{Name: "loop", Module: module(t, "loop", "./plugins/testdata/loop"), Grant: loopGrant},
		{Name: "third", Module: module(t, "third", "plugins/testdata/asplugin/plugin.wasm")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// post sends one JSON-RPC request; modern requests carry the 2026-07-28
// _meta and headers.
func post(t *testing.T, url, version, method string, params map[string]any, hdr map[string]string) (*http.Response, rpcResponse) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	if version != "" && method != "initialize" {
		h["Mcp-Protocol-Version"] = version
	}
	if version >= "2026-07-28" {
		params["_meta"] = map[string]any{
			"io.modelcontextprotocol/protocolVersion":    version,
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "test", "version": "1"},
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		}
		h["Mcp-Method"] = method
		if n, ok := params["name"].(string); ok {
			h["Mcp-Name"] = n
		}
	}
	for k, v := range hdr {
		h[k] = v
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, _ := http.NewRequest(http.MethodPost, url+"/mcp", bytes.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out rpcResponse
	if resp.StatusCode == http.StatusOK {
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			for _, line := range strings.Split(string(raw), "\n") {
				if strings.HasPrefix(line, "data: ") {
					raw = []byte(strings.TrimPrefix(line, "data: "))
				}
			}
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: response %q: %v", method, raw, err)
		}
	}
	return resp, out
}

func callText(t *testing.T, res json.RawMessage) (string, bool) {
	t.Helper()
	var r struct {
		Content []struct{ Text string } `json:"content"`
		IsError bool                    `json:"isError"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatalf("result %s: %v", res, err)
	}
	var s []string
	for _, c := range r.Content {
		s = append(s, c.Text)
	}
	return strings.Join(s, "\n"), r.IsError
}

func TestBothEras(t *testing.T) {
	_, url := newServer(t)
	for _, version := range []string{"2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			if version < "2026-07-28" {
				resp, out := post(t, url, version, "initialize", map[string]any{
					"protocolVersion": version, "capabilities": map[string]any{},
					"clientInfo": map[string]any{"name": "test", "version": "1"},
				}, nil)
				if out.Error != nil || resp.Header.Get("Mcp-Session-Id") != "" {
					t.Fatalf("initialize: %+v, session %q", out.Error, resp.Header.Get("Mcp-Session-Id"))
				}
				var init struct{ ProtocolVersion string }
				json.Unmarshal(out.Result, &init)
				if init.ProtocolVersion != version {
					t.Fatalf("negotiated %q, want %q", init.ProtocolVersion, version)
				}
			} else {
				_, out := post(t, url, version, "server/discover", nil, nil)
				if out.Error != nil || !strings.Contains(string(out.Result), "2026-07-28") {
					t.Fatalf("server/discover: %s %+v", out.Result, out.Error)
				}
			}
			_, out := post(t, url, version, "tools/list", nil, nil)
			if out.Error != nil {
				t.Fatalf("tools/list: %+v", out.Error)
			}
			var list struct {
				Tools []struct {
					Name        string
					Description string
					Annotations map[string]any
				}
			}
			json.Unmarshal(out.Result, &list)
			var names []string
			for _, tl := range list.Tools {
				names = append(names, tl.Name)
				if tl.Name == "hello.greet" && (tl.Description != "Greet someone (operator's words)." || tl.Annotations["readOnlyHint"] != true) {
					t.Errorf("greet overrides not applied: %+v", tl)
				}
				if tl.Name == "hello.echo" && tl.Annotations["readOnlyHint"] != nil {
					t.Errorf("a plugin's own readOnlyHint was trusted: %+v", tl)
				}
			}
			if got := strings.Join(names, ","); got != "hash.sha256,hello.echo,hello.greet,loop.sleep,loop.spin,third.config,third.fail,third.fetch_status,third.reverse" {
				t.Fatalf("tools = %s", got)
			}
			_, out = post(t, url, version, "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "Ada"}}, nil)
			if text, isErr := callText(t, out.Result); out.Error != nil || isErr || text != "Hello, Ada!" {
				t.Fatalf("call: %s %+v", out.Result, out.Error)
			}
			_, out = post(t, url, version, "tools/call", map[string]any{"name": "third.reverse", "arguments": map[string]any{"text": "abc"}}, nil)
			if text, _ := callText(t, out.Result); text != "cba" {
				t.Fatalf("third-party call: %s %+v", out.Result, out.Error)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	_, url := newServer(t)
	v := "2025-11-25"
	tests := []struct {
		name     string
		tool     string
		args     map[string]any
		rpcCode  int    // JSON-RPC error expected
		toolErr  string // or an isError result containing this
		modernOK bool
	}{
		{"unknown tool", "nope.nothing", nil, -32602, "", false},
		{"hidden by expose", "hash.base64_encode", nil, -32602, "", false},
		{"bad arguments", "hello.greet", map[string]any{"name": 42}, 0, "name", false},
		{"missing arguments", "hello.greet", map[string]any{}, 0, "name", false},
		{"timeout", "loop.spin", nil, 0, "timed out", false},
		{"plugin error_set", "third.fail", nil, 0, "deliberate failure", false},
		{"denied network", "third.fetch_status", map[string]any{"url": "https://example.com/"}, 0, "the grant allows no hosts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := post(t, url, v, "tools/call", map[string]any{"name": tt.tool, "arguments": tt.args}, nil)
			if tt.rpcCode != 0 {
				if out.Error == nil || out.Error.Code != tt.rpcCode {
					t.Fatalf("want JSON-RPC error %d, got %s %+v", tt.rpcCode, out.Result, out.Error)
				}
				return
			}
			if out.Error != nil {
				t.Fatalf("want an isError result, got JSON-RPC error %+v", out.Error)
			}
			text, isErr := callText(t, out.Result)
			if !isErr || !strings.Contains(text, tt.toolErr) {
				t.Fatalf("result %q (isError %v), want isError mentioning %q", text, isErr, tt.toolErr)
			}
		})
	}
}

func TestHTTPRules(t *testing.T) {
	_, url := newServer(t)
	do := func(method, path string, body []byte, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(method, url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		status int
	}{
		{"GET is not allowed", http.MethodGet, "/mcp", nil, nil, http.StatusMethodNotAllowed},
		{"DELETE is not allowed", http.MethodDelete, "/mcp", nil, nil, http.StatusMethodNotAllowed},
		{"foreign origin", http.MethodPost, "/mcp", ping, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"allowed origin", http.MethodPost, "/mcp", ping, map[string]string{"Origin": "http://localhost:6274", "Mcp-Protocol-Version": "2025-11-25"}, http.StatusOK},
		{"body too large", http.MethodPost, "/mcp", bytes.Repeat([]byte(" "), 65<<10), nil, http.StatusRequestEntityTooLarge},
		{"healthz", http.MethodGet, "/healthz", nil, nil, http.StatusOK},
		{"readyz", http.MethodGet, "/readyz", nil, nil, http.StatusOK},
		{"unknown path", http.MethodGet, "/nope", nil, nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := do(tt.method, tt.path, tt.body, tt.hdr); resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

func TestModernHeadersMustMatchBody(t *testing.T) {
	_, url := newServer(t)
	resp, out := post(t, url, "2026-07-28", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}},
		map[string]string{"Mcp-Name": "hello.echo"})
	if resp.StatusCode == http.StatusOK && out.Error == nil {
		t.Fatalf("a mismatched Mcp-Name header was accepted: %s", out.Result)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

func TestSwapKeepsOldSetOnError(t *testing.T) {
	s, url := newServer(t)
	err := s.Swap([]*host.Plugin{
		{Name: "hello", Module: module(t, "hello", "./examples/hello")},
		{Name: "hello", Module: module(t, "hash", "./examples/hash")},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("err = %v", err)
	}
	if err := s.Swap([]*host.Plugin{{Name: "bad.name", Module: module(t, "hello", "./examples/hello")}}, nil); err == nil {
		t.Fatal("a plugin name with a dot was accepted")
	}
	_, out := post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hash.sha256", "arguments": map[string]any{"text": "a"}}, nil)
	if out.Error != nil {
		t.Fatalf("the old set is gone: %+v", out.Error)
	}
	// A good swap takes effect for the next request, and /readyz reports failures.
	if err := s.Swap([]*host.Plugin{{Name: "hello", Module: module(t, "hello", "./examples/hello")}}, []host.PluginStatus{{Name: "broken", Error: "signature mismatch"}}); err != nil {
		t.Fatal(err)
	}
	_, out = post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hash.sha256", "arguments": map[string]any{"text": "a"}}, nil)
	if out.Error == nil {
		t.Fatal("a removed plugin still answers")
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "signature mismatch") {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
}

func TestPromptsAndResources(t *testing.T) {
	srvURL := serveSet(t, &host.Plugin{Name: "notes", Module: module(t, "notes", "./examples/notes")})
	for _, v := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			_, out := post(t, srvURL, v, "prompts/list", nil, nil)
			if out.Error != nil || !strings.Contains(string(out.Result), `"name":"notes.summarize"`) {
				t.Fatalf("prompts/list: %s %+v", out.Result, out.Error)
			}
			_, out = post(t, srvURL, v, "prompts/get", map[string]any{"name": "notes.summarize", "arguments": map[string]any{"topic": "Go"}}, nil)
			if out.Error != nil || !strings.Contains(string(out.Result), "Summarize my notes on Go") {
				t.Fatalf("prompts/get: %s %+v", out.Result, out.Error)
			}
			_, out = post(t, srvURL, v, "resources/list", nil, nil)
			if out.Error != nil || !strings.Contains(string(out.Result), "notes://readme") {
				t.Fatalf("resources/list: %s %+v", out.Result, out.Error)
			}
			_, out = post(t, srvURL, v, "resources/templates/list", nil, nil)
			if out.Error != nil || !strings.Contains(string(out.Result), "notes://topic/{name}") {
				t.Fatalf("resources/templates/list: %s %+v", out.Result, out.Error)
			}
			for uri, want := range map[string]string{"notes://readme": "it does not store them", "notes://topic/wasm": "# wasm"} {
				_, out = post(t, srvURL, v, "resources/read", map[string]any{"uri": uri}, map[string]string{"Mcp-Name": uri})
				if out.Error != nil || !strings.Contains(string(out.Result), want) {
					t.Fatalf("resources/read %s: %s %+v", uri, out.Result, out.Error)
				}
			}
			resp, out := post(t, srvURL, v, "resources/read", map[string]any{"uri": "other://x"}, map[string]string{"Mcp-Name": "other://x"})
			if resp.StatusCode == http.StatusOK && out.Error == nil {
				t.Fatalf("unknown resource answered: %s", out.Result)
			}
		})
	}
}

func TestPromptMissingArgumentIsInvalidParams(t *testing.T) {
	srvURL := serveSet(t, &host.Plugin{Name: "notes", Module: module(t, "notes", "./examples/notes")})
	_, out := post(t, srvURL, "2025-11-25", "prompts/get", map[string]any{"name": "notes.summarize", "arguments": map[string]any{}}, nil)
	if out.Error == nil || out.Error.Code != -32602 || !strings.Contains(out.Error.Message, `"topic"`) {
		t.Fatalf("error = %+v", out.Error)
	}
	// Bad tool arguments are a tool execution error that says where and what.
	_, url := newServer(t)
	_, out = post(t, url, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": 42}}, nil)
	text, isErr := callText(t, out.Result)
	if !isErr || !strings.Contains(text, "invalid arguments for hello.greet: /name:") || strings.Contains(text, "&{") {
		t.Fatalf("bad-argument result = %q", text)
	}
}

func TestDeepReadinessAndStatusPage(t *testing.T) {
	module(t, "hello", "./examples/hello")
	s, err := host.New(host.Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	loopGrant := &capabilities.Grant{Limits: capabilities.Limits{Timeout: capabilities.Duration(200 * time.Millisecond)}}
	err = s.Swap([]*host.Plugin{
		{Name: "hello", Module: module(t, "hello", "./examples/hello"), Signer: "sha256:feedface", Probe: &host.Probe{Tool: "greet", Arguments: json.RawMessage(`{"name":"probe"}`)}},
		{Name: "sad", Module: module(t, "hello", "./examples/hello"), Probe: &host.Probe{Tool: "greet", Arguments: json.RawMessage(`{}`)}},
		{Name: "loop", Module: module(t, "loop", "./plugins/testdata/loop"), Grant: loopGrant, Probe: &host.Probe{Tool: "spin"}},
		{Name: "hash", Module: module(t, "hash", "./examples/hash")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	api := httptest.NewServer(s)
	defer api.Close()
	post(t, api.URL, "2025-11-25", "tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}}, nil)

	resp, err := http.Get(admin.URL + "/readyz?deep=1")
	if err != nil {
		t.Fatal(err)
	}
	var d host.DeepStatus
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	got := map[string]string{}
	for _, p := range d.Plugins {
		got[p.Plugin] = p.Status
	}
	want := map[string]string{"hello": host.Healthy, "sad": host.Degraded, "loop": host.Unhealthy, "hash": host.Unprobed}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s (%+v)", k, got[k], v, d.Plugins)
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable || d.Ready {
		t.Errorf("an unhealthy plugin must make deep readiness fail: %d %+v", resp.StatusCode, d)
	}
	// Results are cached: a second request does not run the probes again.
	before := d.Plugins[0].Checked
	resp, _ = http.Get(admin.URL + "/readyz?deep=1")
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if !d.Plugins[0].Checked.Equal(before) {
		t.Error("probes ran again within the cache interval")
	}

	resp, err = http.Get(admin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"<h2 id=\"plugin-hello\">hello</h2>", "sha256:feedface", "hello.greet", "nothing but computation", "/ 200ms /"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") {
		t.Error("the status page references external assets")
	}
	resp, _ = http.Get(admin.URL + "/metrics")
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `warden_calls_total{outcome="ok",tool="hello.greet"}`) {
		t.Errorf("metrics lack the call:\n%s", metrics)
	}
}

func TestCompletionsRouteToThePlugin(t *testing.T) {
	srvURL := serveSet(t, &host.Plugin{Name: "conformance", Module: module(t, "conformance", "./examples/conformance")})
	var prompt string
	for _, p := range module(t, "conformance", "./examples/conformance").Prompts() {
		prompt = "conformance." + p.Name
	}
	_, out := post(t, srvURL, "2025-11-25", "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": prompt}, "argument": map[string]any{"name": "arg1", "value": "pa"}}, nil)
	if out.Error != nil || !strings.Contains(string(out.Result), `"paris"`) || strings.Contains(string(out.Result), `"test"`) {
		t.Fatalf("completion: %s %+v", out.Result, out.Error)
	}
	_, out = post(t, srvURL, "2025-11-25", "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "nope.nothing"}, "argument": map[string]any{"name": "a", "value": "p"}}, nil)
	if out.Error != nil || !strings.Contains(string(out.Result), `"values":[]`) {
		t.Fatalf("unknown prompt completion: %s %+v", out.Result, out.Error)
	}
}

// serveSet serves set on a fresh Server with default options and returns
// its URL.
func serveSet(t *testing.T, set ...*host.Plugin) string {
	t.Helper()
	module(t, "hello", "./examples/hello") // starts the shared runtime
	s, err := host.New(host.Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(set, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}
