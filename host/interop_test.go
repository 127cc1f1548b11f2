package host_test

// Interop tests: official MCP clients against Warden serving the example
// plugins, and the MCP conformance suite against Warden serving
// examples/conformance.
//
// The TypeScript clients and the suite live in the Node project
// host/testdata/interop (install it with `npm ci --prefix
// host/testdata/interop`). Without node_modules those tests skip, or fail
// when WARDEN_REQUIRE_INTEROP is set (CI sets it). The Go SDK client needs
// nothing but the module and always runs.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

// interopDir is the Node project, relative to the module root.
const interopDir = "host/testdata/interop"

const (
	interopSigningKey = "interop-signing-key-5f0c2a"
	interopPage       = "hello from the interop fixture"
	interopReport     = "quarterly numbers"
	interopModern     = "2026-07-28"
)

var (
	interopRTOnce sync.Once
	interopRT     *plugins.Runtime
	interopRTErr  error
	interopMu     sync.Mutex
	interopMods   = map[string]*plugins.Plugin{}
)

// interopModule builds and loads ./examples/<name> once per test binary.
// Compiled code is kept in the user's cache directory, since compiling
// five modules with the race detector on takes minutes.
func interopModule(t testing.TB, name string) *plugins.Plugin {
	t.Helper()
	interopRTOnce.Do(func() {
		var opts []plugins.Option
		if dir, err := os.UserCacheDir(); err == nil {
			opts = append(opts, plugins.WithCacheDir(filepath.Join(dir, "warden-test-plugins", "wazero")))
		}
		interopRT, interopRTErr = plugins.NewRuntime(context.Background(), opts...)
	})
	if interopRTErr != nil {
		t.Fatal(interopRTErr)
	}
	interopMu.Lock()
	defer interopMu.Unlock()
	if m, ok := interopMods[name]; ok {
		return m
	}
	m, err := interopRT.Load(context.Background(), name, testutil.ReadPlugin(t, "./examples/"+name))
	if err != nil {
		t.Fatal(err)
	}
	interopMods[name] = m
	return m
}

func interopGrant(t testing.TB, yaml string) *capabilities.Grant {
	t.Helper()
	g, err := capabilities.ParseGrant("interop.yaml", []byte("apiVersion: warden.dev/v1\nkind: Grant\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// interopListen reserves a loopback address for a test server, so its origin is
// known before the handler is built.
func interopListen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serveWarden serves set on l (closed at the end of the test) and returns
// the MCP endpoint URL. Browser origins allowed: the server's own (as
// 127.0.0.1 and localhost) and extraOrigins.
func serveWarden(t testing.TB, l net.Listener, set []*host.Plugin, extraOrigins ...string) string {
	t.Helper()
	port := l.Addr().(*net.TCPAddr).Port
	origins := append([]string{fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("http://localhost:%d", port)}, extraOrigins...)
	s, err := host.New(host.Options{Runtime: interopRT, AllowedOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(set, nil); err != nil {
		t.Fatal(err)
	}
	return serveOn(t, l, s)
}

// serveOn serves h on l (a listener on a port chosen beforehand, which the
// allowed origins name) until the test ends, and returns its /mcp URL.
func serveOn(t testing.TB, l net.Listener, h http.Handler) string {
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// interopExamples is Warden serving every example plugin with the grants they
// need: a secret for secrets, a read-only mount for files and a loopback
// page for fetch.
type interopExamples struct {
	url      string // the MCP endpoint
	fetchURL string // the page fetch.get is granted
	tools    []string
}

func serveExamples(t *testing.T) *interopExamples {
	t.Helper()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, interopPage)
	}))
	t.Cleanup(page.Close)
	pageURL, _ := url.Parse(page.URL)

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile := filepath.Join(dir, "signing.key")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "report.txt"), []byte(interopReport), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(interopSigningKey), 0o600); err != nil {
		t.Fatal(err)
	}
	grants := map[string]string{
		"secrets": fmt.Sprintf("plugin: secrets\nsecrets:\n  - name: SIGNING_KEY\n    from: file:%s\n", keyFile),
		"files":   fmt.Sprintf("plugin: files\nfilesystem:\n  - host: %s\n    guest: /data\n    mode: ro\n", data),
		"fetch": fmt.Sprintf("plugin: fetch\nnetwork:\n  allow:\n    - host: 127.0.0.1\n      ports: [%s]\n      schemes: [http]\n      privateNetwork: allow\n",
			pageURL.Port()),
	}
	ex := &interopExamples{fetchURL: page.URL + "/page.txt"}
	var set []*host.Plugin
	for _, name := range []string{"hello", "hash", "secrets", "files", "fetch"} {
		p := &host.Plugin{Name: name, Module: interopModule(t, name)}
		if g, ok := grants[name]; ok {
			p.Grant = interopGrant(t, g)
		}
		for _, tool := range p.Module.Tools() {
			ex.tools = append(ex.tools, name+"."+tool.Name)
		}
		set = append(set, p)
	}
	sort.Strings(ex.tools)
	ex.url = serveWarden(t, interopListen(t), set)
	return ex
}

// callOutcome is what a client got back from one tools/call, in the shape
// the Node scripts print (lib.mjs summarizeCall).
type callOutcome struct {
	IsError           bool            `json:"isError"`
	Types             []string        `json:"types"`
	Text              string          `json:"text"`
	StructuredContent json.RawMessage `json:"structuredContent"`
}

// goSDKCalls are the calls the Go SDK client makes: one tool of every
// example, as in lib.mjs.
func (ex *interopExamples) goSDKCalls() []mcp.CallToolParams {
	return []mcp.CallToolParams{
		{Name: "hello.greet", Arguments: map[string]any{"name": "Ada"}},
		{Name: "hash.sha256", Arguments: map[string]any{"text": "abc"}},
		{Name: "secrets.sign", Arguments: map[string]any{"message": "hello"}},
		{Name: "files.list", Arguments: map[string]any{"path": ""}},
		{Name: "fetch.get", Arguments: map[string]any{"url": ex.fetchURL}},
	}
}

// checkTools compares a client's tools/list with what the examples declare.
func (ex *interopExamples) checkTools(t *testing.T, got []string) {
	t.Helper()
	got = slices.Clone(got)
	sort.Strings(got)
	if !slices.Equal(got, ex.tools) {
		t.Errorf("tools/list:\n got  %v\n want %v", got, ex.tools)
	}
}

// checkCalls checks the result of one call to each example.
func (ex *interopExamples) checkCalls(t *testing.T, calls map[string]callOutcome) {
	t.Helper()
	sum := sha256.Sum256([]byte("abc"))
	mac := hmac.New(sha256.New, []byte(interopSigningKey))
	mac.Write([]byte("hello"))
	structured := func(c callOutcome, v any) error {
		if len(c.StructuredContent) == 0 || string(c.StructuredContent) == "null" {
			return fmt.Errorf("no structuredContent")
		}
		return json.Unmarshal(c.StructuredContent, v)
	}
	checks := map[string]func(c callOutcome) error{
		"hello.greet": func(c callOutcome) error {
			if c.Text != "Hello, Ada!" {
				return fmt.Errorf("text %q, want %q", c.Text, "Hello, Ada!")
			}
			return nil
		},
		"hash.sha256": func(c callOutcome) error {
			var d struct{ Algorithm, Digest string }
			if err := structured(c, &d); err != nil {
				return err
			}
			if d.Algorithm != "sha256" || d.Digest != hex.EncodeToString(sum[:]) {
				return fmt.Errorf("structuredContent %s, want the sha256 of %q", c.StructuredContent, "abc")
			}
			return nil
		},
		"secrets.sign": func(c callOutcome) error {
			if want := hex.EncodeToString(mac.Sum(nil)); c.Text != want {
				return fmt.Errorf("text %q, want the HMAC %s", c.Text, want)
			}
			return nil
		},
		"files.list": func(c callOutcome) error {
			var l struct {
				Path    string
				Entries []struct {
					Name string
					Size int
				}
			}
			if err := structured(c, &l); err != nil {
				return err
			}
			if l.Path != "/data" || len(l.Entries) != 1 || l.Entries[0].Name != "report.txt" || l.Entries[0].Size != len(interopReport) {
				return fmt.Errorf("structuredContent %s, want /data holding report.txt", c.StructuredContent)
			}
			return nil
		},
		"fetch.get": func(c callOutcome) error {
			if !strings.HasPrefix(c.Text, "HTTP 200\n") || !strings.Contains(c.Text, interopPage) {
				return fmt.Errorf("text %q, want HTTP 200 and the page", c.Text)
			}
			return nil
		},
	}
	for name, check := range checks {
		c, ok := calls[name]
		switch {
		case !ok:
			t.Errorf("%s was not called", name)
		case c.IsError:
			t.Errorf("%s: isError: %s", name, c.Text)
		default:
			if err := check(c); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// clientSummary is what ts-sdk-client.mjs and client-2026.mjs print.
type clientSummary struct {
	Client                    string                 `json:"client"`
	Failures                  []string               `json:"failures"`
	Mode                      string                 `json:"mode"`
	ProtocolVersion           string                 `json:"protocolVersion"`
	Era                       string                 `json:"era"`
	SessionID                 *string                `json:"sessionId"`
	ServerInfo                *mcp.Implementation    `json:"serverInfo"`
	DiscoverSupportedVersions []string               `json:"discoverSupportedVersions"`
	Tools                     []string               `json:"tools"`
	Skipped                   []string               `json:"skipped"`
	Calls                     map[string]callOutcome `json:"calls"`
}

// runClientScript runs one of the Node client scripts against ex and
// checks what every client must have seen.
func runClientScript(t *testing.T, node string, ex *interopExamples, script string, args ...string) clientSummary {
	t.Helper()
	res := testutil.RunNode(t, node, 2*time.Minute, []string{"WARDEN_URL=" + ex.url, "WARDEN_FETCH_URL=" + ex.fetchURL}, script, args...)
	var sum clientSummary
	if err := json.Unmarshal(res.Stdout, &sum); err != nil {
		t.Fatalf("%s printed no summary (%v): %v\nstdout:\n%s", script, res.Err, err, res.Stdout)
	}
	t.Logf("%s: protocol %s, %d tools, %d calls in %v", sum.Client, sum.ProtocolVersion, len(sum.Tools), len(sum.Calls), res.Elapsed.Round(time.Millisecond))
	for _, f := range sum.Failures {
		t.Errorf("%s: %s", sum.Client, f)
	}
	if res.Err != nil && len(sum.Failures) == 0 {
		t.Errorf("%s: %v with no failure reported", script, res.Err)
	}
	if len(sum.Skipped) > 0 {
		t.Errorf("%s skipped calls: %v", script, sum.Skipped)
	}
	if sum.SessionID != nil {
		t.Errorf("%s: the server gave a session id %q; the endpoint is stateless", sum.Client, *sum.SessionID)
	}
	if sum.ServerInfo == nil || sum.ServerInfo.Name != "warden" || sum.ServerInfo.Version != host.Version {
		t.Errorf("%s: serverInfo %+v, want warden %s", sum.Client, sum.ServerInfo, host.Version)
	}
	ex.checkTools(t, sum.Tools)
	ex.checkCalls(t, sum.Calls)
	return sum
}

// TestInteropTSSDKClient: the TypeScript SDK v1 client (initialize era).
func TestInteropTSSDKClient(t *testing.T) {
	node := testutil.NodeProject(t, interopDir)
	ex := serveExamples(t)
	sum := runClientScript(t, node, ex, "ts-sdk-client.mjs")
	// 1.32.2 offers its LATEST_PROTOCOL_VERSION, which Warden accepts.
	if sum.ProtocolVersion != "2025-11-25" {
		t.Errorf("negotiated protocol %q, want 2025-11-25", sum.ProtocolVersion)
	}
}

// TestInteropClient2026: the TypeScript SDK v2 client on 2026-07-28, both
// probing (auto: server/discover, legacy fallback) and pinned.
func TestInteropClient2026(t *testing.T) {
	node := testutil.NodeProject(t, interopDir)
	ex := serveExamples(t)
	for _, mode := range []string{"auto", "pinned"} {
		t.Run(mode, func(t *testing.T) {
			sum := runClientScript(t, node, ex, "client-2026.mjs", mode)
			if sum.ProtocolVersion != interopModern || sum.Era != "modern" {
				t.Errorf("negotiated protocol %q (era %q), want %s (modern)", sum.ProtocolVersion, sum.Era, interopModern)
			}
			if !slices.Contains(sum.DiscoverSupportedVersions, interopModern) {
				t.Errorf("server/discover supportedVersions %v lacks %s", sum.DiscoverSupportedVersions, interopModern)
			}
		})
	}
}

// TestGoSDKClient: the official Go SDK client, at its default (2026-07-28,
// server/discover) and at each initialize-era revision.
func TestGoSDKClient(t *testing.T) {
	ex := serveExamples(t)
	for _, version := range []string{interopModern, "2025-11-25", "2025-06-18", "2025-03-26"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			client := mcp.NewClient(&mcp.Implementation{Name: "warden-interop-go-sdk", Version: "1.0.0"}, nil)
			opts := &mcp.ClientSessionOptions{ProtocolVersion: version}
			if version == interopModern {
				opts = nil // the client's default must be the modern era
			}
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: ex.url, MaxRetries: -1}, opts)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			init := cs.InitializeResult()
			if init.ProtocolVersion != version {
				t.Errorf("negotiated protocol %q, want %q", init.ProtocolVersion, version)
			}
			if init.ServerInfo == nil || init.ServerInfo.Name != "warden" {
				t.Errorf("serverInfo %+v", init.ServerInfo)
			}
			if id := cs.ID(); id != "" {
				t.Errorf("session id %q; the endpoint is stateless", id)
			}
			var names []string
			for tool, err := range cs.Tools(ctx, nil) {
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				names = append(names, tool.Name)
			}
			ex.checkTools(t, names)
			calls := map[string]callOutcome{}
			for _, p := range ex.goSDKCalls() {
				res, err := cs.CallTool(ctx, &p)
				if err != nil {
					t.Errorf("%s: %v", p.Name, err)
					continue
				}
				calls[p.Name] = goSDKOutcome(t, res)
			}
			ex.checkCalls(t, calls)
		})
	}
}

func goSDKOutcome(t *testing.T, res *mcp.CallToolResult) callOutcome {
	t.Helper()
	out := callOutcome{IsError: res.IsError}
	var texts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			out.Types = append(out.Types, "text")
			texts = append(texts, c.Text)
		case *mcp.ImageContent:
			out.Types = append(out.Types, "image")
		case *mcp.AudioContent:
			out.Types = append(out.Types, "audio")
		default:
			out.Types = append(out.Types, fmt.Sprintf("%T", c))
		}
	}
	out.Text = strings.Join(texts, "\n")
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		out.StructuredContent = b
	}
	return out
}

// conformanceResults is results.json as run-conformance.mjs writes it.
type conformanceResults struct {
	Suite     string   `json:"suite"`
	Order     []string `json:"order"`
	Scenarios map[string]struct {
		Passed bool `json:"passed"`
		Checks []struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"checks"`
	} `json:"scenarios"`
}

// TestConformance runs the MCP conformance suite's server scenarios against
// Warden serving examples/conformance as plugin "conformance" (so its tools
// are "conformance.test_simple_text" and so on):
//
//   - warden: Warden as it is. Every scenario must pass unless
//     conformance-expected-failures.json lists it with a reason, and every
//     listed scenario must still fail, so the list stays true.
//   - unprefixed: the same server behind unprefixProxy, which shows tools
//     and prompts under the plugin's own names, as the suite expects. It
//     tells the scenarios that fail only because of Warden's naming from
//     those that fail for another reason (listed, with the same rules, in
//     conformance-expected-failures-unprefixed.json).
//
// Set WARDEN_CONFORMANCE_OUT to keep the suite's output in that directory.
func TestConformance(t *testing.T) {
	node := testutil.NodeProject(t, interopDir)
	set := []*host.Plugin{{Name: "conformance", Module: interopModule(t, "conformance")}}
	wardenL, proxyL := interopListen(t), interopListen(t)
	endpoint := serveWarden(t, wardenL, set, "http://"+proxyL.Addr().String())
	proxied := unprefixProxy(t, proxyL, endpoint, "conformance")

	out := os.Getenv("WARDEN_CONFORMANCE_OUT")
	if out == "" {
		out = t.TempDir()
	}
	t.Run("warden", func(t *testing.T) {
		runConformance(t, node, endpoint, filepath.Join(out, "warden"), "conformance-expected-failures.json")
	})
	t.Run("unprefixed", func(t *testing.T) {
		runConformance(t, node, proxied, filepath.Join(out, "unprefixed"), "conformance-expected-failures-unprefixed.json")
	})
}

// runConformance runs the suite against endpoint, writing to out, and
// compares the outcome with the expected failures in the named file
// (a JSON object: scenario → reason).
func runConformance(t *testing.T, node, endpoint, out, expectedFile string) {
	expected := map[string]string{}
	raw, err := os.ReadFile(filepath.Join(node, expectedFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatalf("%s: %v", expectedFile, err)
	}
	run := testutil.RunNode(t, node, 10*time.Minute, nil, "run-conformance.mjs", endpoint, out)
	if run.Err != nil {
		t.Fatalf("run-conformance.mjs: %v\n%s", run.Err, run.Stdout)
	}
	raw, err = os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res conformanceResults
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}

	var table bytes.Buffer
	passed, failedAsExpected := 0, 0
	fmt.Fprintf(&table, "%s against %s (%v):\n", res.Suite, endpoint, run.Elapsed.Round(time.Second))
	for _, name := range res.Order {
		sc := res.Scenarios[name]
		var problems []string
		for _, c := range sc.Checks {
			if c.Status == "FAILURE" {
				problems = append(problems, fmt.Sprintf("%s: %s", c.ID, c.ErrorMessage))
			}
		}
		reason, listed := expected[name]
		switch {
		case sc.Passed && listed:
			t.Errorf("%s now passes: remove it from %s (it said: %s)", name, expectedFile, reason)
			fmt.Fprintf(&table, "  PASS (listed as an expected failure) %s\n", name)
		case sc.Passed:
			passed++
			fmt.Fprintf(&table, "  pass  %s\n", name)
		case listed:
			failedAsExpected++
			fmt.Fprintf(&table, "  xfail %s: %s\n", name, reason)
		default:
			t.Errorf("%s fails and %s does not list it:\n  %s", name, expectedFile, strings.Join(problems, "\n  "))
			fmt.Fprintf(&table, "  FAIL  %s: %s\n", name, strings.Join(problems, "; "))
		}
	}
	for name := range expected {
		if _, ok := res.Scenarios[name]; !ok {
			t.Errorf("%s lists %q, which the suite does not have", expectedFile, name)
		}
	}
	fmt.Fprintf(&table, "%d passed, %d failed as expected, of %d scenarios", passed, failedAsExpected, len(res.Order))
	t.Log(table.String())
}

// unprefixProxy serves, on l, the MCP endpoint target with the tools and
// prompts of plugin under their own names ("test_simple_text" rather than
// "conformance.test_simple_text"): it adds the prefix to the names in
// tools/call, prompts/get and completion/complete requests (and the
// Mcp-Name header) and strips it from tools/list and prompts/list results.
// Everything else passes through unchanged. It exists only to run the
// conformance suite, which calls its tools by exact name; Warden itself
// always prefixes.
func unprefixProxy(t testing.TB, l net.Listener, target, plugin string) string {
	t.Helper()
	prefix := plugin + "."
	return serveOn(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg map[string]any
		method := ""
		if json.Unmarshal(body, &msg) == nil {
			method, _ = msg["method"].(string)
			params, _ := msg["params"].(map[string]any)
			var name string
			switch method {
			case "tools/call", "prompts/get":
				if n, ok := params["name"].(string); ok {
					name = prefix + n
					params["name"] = name
				}
			case "completion/complete":
				if ref, ok := params["ref"].(map[string]any); ok && ref["type"] == "ref/prompt" {
					if n, ok := ref["name"].(string); ok {
						name = prefix + n
						ref["name"] = name
					}
				}
			}
			if name != "" {
				body, _ = json.Marshal(msg)
				if r.Header.Get("Mcp-Name") != "" {
					r.Header.Set("Mcp-Name", name)
				}
			}
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range r.Header {
			req.Header[k] = v
		}
		req.Header.Del("Content-Length")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		respBody, _ := io.ReadAll(resp.Body)
		list := map[string]string{"tools/list": "tools", "prompts/list": "prompts"}[method]
		var reply map[string]any
		if list != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(respBody, &reply) == nil {
			if result, ok := reply["result"].(map[string]any); ok {
				items, _ := result[list].([]any)
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						if n, ok := m["name"].(string); ok {
							m["name"] = strings.TrimPrefix(n, prefix)
						}
					}
				}
				respBody, _ = json.Marshal(reply)
			}
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(respBody)
	}))
}

// TestInteropTSSDKTasks: the TypeScript SDK v1 client's experimental tasks
// (2025-11-25) against two Warden replicas sharing their task records in
// Redis, one client on each: a task started through one is watched,
// fetched and cancelled through the other.
func TestInteropTSSDKTasks(t *testing.T) {
	node := testutil.NodeProject(t, interopDir)
	redisAddr, _ := testutil.StartRedis(t)
	slow := interopModule(t, "slow")
	var urls []string
	for _, name := range []string{"a", "b"} {
		l := interopListen(t)
		s, err := host.New(host.Options{Runtime: interopRT, Tasks: &host.TaskConfig{
			Backend: "redis", RedisAddr: redisAddr, Replica: "interop-" + name, PollInterval: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		grant := interopGrant(t, "plugin: slow\nlimits: {timeout: 30s, taskTimeout: 2m}\n")
		if err := s.Swap([]*host.Plugin{{Name: "slow", Module: slow, Grant: grant}}, nil); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, serveOn(t, l, s))
	}
	res := testutil.RunNode(t, node, 2*time.Minute, []string{"WARDEN_URL=" + urls[0], "WARDEN_URL_B=" + urls[1]}, "tasks-client.mjs")
	var sum struct {
		Failures     []string          `json:"failures"`
		Capabilities json.RawMessage   `json:"capabilities"`
		TaskSupport  map[string]string `json:"taskSupport"`
		Completed    struct {
			TaskID, StatusOnB, ResultOnB, RelatedTask, FinalOnB string
			Messages                                            []string
		} `json:"completed"`
		StreamResult string `json:"streamResult"`
		Cancelled    struct {
			TaskID, CancelOnB, StreamError, StatusOnA string
		} `json:"cancelled"`
		Required struct {
			CallToolRefused, StreamResult string
		} `json:"required"`
	}
	if err := json.Unmarshal(res.Stdout, &sum); err != nil {
		t.Fatalf("tasks-client.mjs printed no summary (%v): %v\n%s", res.Err, err, res.Stdout)
	}
	for _, f := range sum.Failures {
		t.Errorf("tasks-client.mjs: %s", f)
	}
	if res.Err != nil && len(sum.Failures) == 0 {
		t.Errorf("tasks-client.mjs: %v with no failure reported", res.Err)
	}
	var caps bytes.Buffer
	json.Compact(&caps, sum.Capabilities)
	if caps.String() != `{"cancel":{},"requests":{"tools":{"call":{}}}}` {
		t.Errorf("capabilities.tasks as the client saw them: %s", sum.Capabilities)
	}
	if sum.TaskSupport["slow.work"] != "optional" || sum.TaskSupport["slow.report"] != "required" {
		t.Errorf("taskSupport: %v", sum.TaskSupport)
	}
	c := sum.Completed
	if c.TaskID == "" || c.StatusOnB != "working" || c.ResultOnB != "done: 5 steps" || c.RelatedTask != c.TaskID || c.FinalOnB != "completed" ||
		sum.StreamResult != "done: 5 steps" || !slices.Contains(c.Messages, "taskCreated") || !slices.Contains(c.Messages, "taskStatus") {
		t.Errorf("completed task: %+v, stream result %q", c, sum.StreamResult)
	}
	x := sum.Cancelled
	if x.CancelOnB != "cancelled" || !strings.Contains(x.StreamError, "cancelled") || x.StatusOnA != "cancelled" {
		t.Errorf("cancelled task: %+v", x)
	}
	if !strings.Contains(sum.Required.CallToolRefused, "requires task-based execution") || sum.Required.StreamResult != "done: 2 steps" {
		t.Errorf("required tool: %+v", sum.Required)
	}
}
