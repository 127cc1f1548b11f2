package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

var (
	sharedRT   *plugins.Runtime
	sharedOnce sync.Once
	loadedMu   sync.Mutex
	loaded     = map[string]*plugins.Plugin{}
)

// runtime returns a Runtime shared by the package's tests, so each module
// is compiled once per test binary.
func runtime(t testing.TB) *plugins.Runtime {
	t.Helper()
	sharedOnce.Do(func() {
		rt, err := plugins.NewRuntime(context.Background(), plugins.WithCacheDir(testutil.CompileCacheDir(t)))
		if err != nil {
			t.Fatal(err)
		}
		sharedRT = rt
	})
	if sharedRT == nil {
		t.Fatal("runtime failed to start")
	}
	return sharedRT
}

// load builds the Go plugin package pkg and loads it under name.
func load(t testing.TB, pkg, name string) *plugins.Plugin {
	t.Helper()
	loadedMu.Lock()
	defer loadedMu.Unlock()
	key := pkg + "|" + name
	if p, ok := loaded[key]; ok {
		return p
	}
	wasm := testutil.ReadPlugin(t, pkg)
	p, err := runtime(t).Load(context.Background(), name, wasm)
	if err != nil {
		t.Fatalf("load %s: %v", pkg, err)
	}
	loaded[key] = p
	return p
}

// text returns the concatenated text content of a CallToolResult.
func text(t testing.TB, res *plugins.Result) string {
	t.Helper()
	var r struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(res.JSON, &r); err != nil {
		t.Fatalf("result %s: %v", res.JSON, err)
	}
	var parts []string
	for _, c := range r.Content {
		if c.Type == "text" {
			parts = append(parts, c.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func call(t testing.TB, p *plugins.Plugin, tool, args string, sb *plugins.Sandbox) (*plugins.Result, error) {
	t.Helper()
	return p.Call(context.Background(), tool, json.RawMessage(args), sb)
}

func mustCall(t testing.TB, p *plugins.Plugin, tool, args string, sb *plugins.Sandbox) *plugins.Result {
	t.Helper()
	res, err := call(t, p, tool, args, sb)
	if err != nil {
		t.Fatalf("%s %s: %v", tool, args, err)
	}
	return res
}

func TestHelloTools(t *testing.T) {
	p := load(t, "./examples/hello", "hello")
	if p.ABI() != plugins.ABIv2 {
		t.Errorf("ABI = %v, want v2", p.ABI())
	}
	var names []string
	for _, tool := range p.Tools() {
		names = append(names, tool.Name)
	}
	if got := strings.Join(names, ","); got != "greet,echo" {
		t.Errorf("tools = %s, want greet,echo (declaration order)", got)
	}
	tests := []struct {
		tool, args, want string
		isError          bool
	}{
		{"greet", `{"name":"Ada"}`, "Hello, Ada!", false},
		{"echo", `{"text":"a \"quoted\" line\nand more"}`, "a \"quoted\" line\nand more", false},
		{"greet", `{}`, "name", true},                 // missing required field
		{"greet", `{"name":42}`, "name", true},        // wrong type
		{"greet", `{"name":"x","extra":1}`, "", true}, // additionalProperties: false
	}
	for _, tt := range tests {
		t.Run(tt.tool+tt.args, func(t *testing.T) {
			res := mustCall(t, p, tt.tool, tt.args, nil)
			if res.IsError != tt.isError {
				t.Fatalf("isError = %v, want %v: %s", res.IsError, tt.isError, res.JSON)
			}
			if got := text(t, res); !strings.Contains(got, tt.want) {
				t.Fatalf("text = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestHashStructuredOutput(t *testing.T) {
	p := load(t, "./examples/hash", "hash")
	tool, ok := p.Tool("sha256")
	if !ok || tool.OutputSchema == nil {
		t.Fatalf("sha256 tool has no outputSchema: %+v", tool)
	}
	res := mustCall(t, p, "sha256", `{"text":"abc"}`, nil)
	var r struct {
		StructuredContent map[string]any `json:"structuredContent"`
	}
	if err := json.Unmarshal(res.JSON, &r); err != nil {
		t.Fatal(err)
	}
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if !strings.Contains(string(res.JSON), want) || r.StructuredContent == nil {
		t.Fatalf("sha256(abc) result = %s, want digest %s in structuredContent", res.JSON, want)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	p := load(t, "./examples/secrets", "secrets")
	res := mustCall(t, p, "sign", `{"message":"hi"}`, nil)
	if !res.IsError || !strings.Contains(text(t, res), "SIGNING_KEY") {
		t.Fatalf("without the secret: want an isError result naming SIGNING_KEY, got %s", res.JSON)
	}
	sb := &plugins.Sandbox{Config: map[string]string{"SIGNING_KEY": "k3y-value"}}
	res = mustCall(t, p, "sign", `{"message":"hi"}`, sb)
	// HMAC-SHA256("k3y-value", "hi")
	if res.IsError || len(text(t, res)) < 64 {
		t.Fatalf("sign = %s", res.JSON)
	}
	// A plugin that echoes the secret has it masked.
	echo := load(t, "./examples/hello", "hello")
	sb.Redactor = capabilities.NewRedactor(map[string]string{"SIGNING_KEY": "k3y-value"})
	res = mustCall(t, echo, "echo", `{"text":"the key is k3y-value"}`, sb)
	if got := text(t, res); strings.Contains(got, "k3y-value") || !strings.Contains(got, "[REDACTED:SIGNING_KEY]") {
		t.Fatalf("echo of a secret = %q, want it masked", got)
	}
}

func TestFreshInstancePerCall(t *testing.T) {
	p := load(t, "./plugins/testdata/counter", "counter")
	for i := 0; i < 5; i++ {
		if got := text(t, mustCall(t, p, "count", "", nil)); got != "1" {
			t.Fatalf("call %d: count = %q, want 1 (state survived a call)", i, got)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	seen := sync.Map{}
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Call(context.Background(), "count", nil, nil)
			if err != nil {
				errs <- err
				return
			}
			var r struct {
				Content []struct{ Text string } `json:"content"`
			}
			json.Unmarshal(res.JSON, &r)
			if len(r.Content) != 1 || r.Content[0].Text != "1" {
				errs <- fmt.Errorf("concurrent count = %s", res.JSON)
			}
			rnd, err := p.Call(context.Background(), "random", nil, nil)
			if err != nil {
				errs <- err
				return
			}
			if _, dup := seen.LoadOrStore(string(rnd.JSON), true); dup {
				errs <- fmt.Errorf("two calls saw the same random bytes: %s", rnd.JSON)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHundredConcurrentCalls(t *testing.T) {
	p := load(t, "./examples/hello", "hello")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := p.Call(context.Background(), "greet", json.RawMessage(fmt.Sprintf(`{"name":"n%d"}`, i)), nil)
			if err != nil {
				errs <- err
				return
			}
			if want := fmt.Sprintf("Hello, n%d!", i); !strings.Contains(string(res.JSON), want) {
				errs <- fmt.Errorf("call %d: %s, want %s", i, res.JSON, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestContainment(t *testing.T) {
	loop := load(t, "./plugins/testdata/loop", "loop")
	bomb := load(t, "./plugins/testdata/membomb", "membomb")
	big := load(t, "./plugins/testdata/bigout", "bigout")
	panicky := load(t, "./plugins/testdata/panicky", "panicky")
	hello := load(t, "./examples/hello", "hello")

	limits := func(l capabilities.Limits) *plugins.Sandbox { return &plugins.Sandbox{Limits: l} }
	tests := []struct {
		name    string
		p       *plugins.Plugin
		tool    string
		args    string
		sb      *plugins.Sandbox
		kind    error
		message string
	}{
		{"infinite loop", loop, "spin", "", limits(capabilities.Limits{Timeout: capabilities.Duration(300 * time.Millisecond)}), plugins.ErrTimeout, "300ms"},
		{"sleep past deadline", loop, "sleep", `{"ms":5000}`, limits(capabilities.Limits{Timeout: capabilities.Duration(200 * time.Millisecond)}), plugins.ErrTimeout, "200ms"},
		{"memory bomb", bomb, "grow", "", limits(capabilities.Limits{Memory: 32 << 20, Timeout: capabilities.Duration(time.Minute)}), plugins.ErrMemoryLimit, "32MiB"},
		{"huge output", big, "big", `{"mb":4}`, limits(capabilities.Limits{Output: 1 << 20, Timeout: capabilities.Duration(time.Minute)}), plugins.ErrOutputLimit, "limit is 1048576 bytes"},
		{"panic", panicky, "boom", "", nil, plugins.ErrPluginFailed, "panic"},
		{"unknown tool", hello, "nope", "", nil, plugins.ErrUnknownTool, "greet, echo"},
		{"arguments not an object", hello, "greet", `[1,2]`, nil, plugins.ErrBadArguments, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := call(t, tt.p, tt.tool, tt.args, tt.sb)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v (result %v), want %v", err, res, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
			var ce *plugins.CallError
			if !errors.As(err, &ce) || ce.Tool != tt.tool {
				t.Errorf("want a *CallError naming tool %s, got %#v", tt.tool, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("containment took %v", d)
			}
			// The host keeps serving: the next call works.
			if got := text(t, mustCall(t, hello, "greet", `{"name":"after"}`, nil)); got != "Hello, after!" {
				t.Fatalf("call after %s = %q", tt.name, got)
			}
		})
	}
	// A handler's Go error is a result with isError, not a failed call.
	res := mustCall(t, panicky, "fail", "", nil)
	if !res.IsError {
		t.Fatalf("fail: want isError, got %s", res.JSON)
	}
}

func TestLoadRefusesBadModules(t *testing.T) {
	rt := runtime(t)
	tests := []struct {
		name string
		wasm []byte
		kind error
		msg  string
	}{
		{"not wasm", []byte("hello"), plugins.ErrInvalidModule, "magic"},
		{"no entry points", module(nil, nil), plugins.ErrInvalidModule, "want exports list_tools and call_tool"},
		{"unknown import module", module([]imp{{"env", "evil", nil, nil}}, nil), plugins.ErrInvalidModule, "env.evil"},
		{"unknown host function", module([]imp{{"extism:host/env", "spawn_shell", nil, nil}}, nil), plugins.ErrInvalidModule, "extism:host/env.spawn_shell"},
		{"wrong host signature", module([]imp{{"extism:host/env", "alloc", []byte{i32}, []byte{i32}}}, nil), plugins.ErrInvalidModule, "Warden provides (i64) -> (i64)"},
		{"export with params", module(nil, []exp{{"list_tools", []byte{i32}, []byte{i32}}, {"call_tool", nil, []byte{i32}}}), plugins.ErrInvalidModule, "list_tools has type"},
		// Five bytes of a type section would have wazero allocate 4 GB:
		// a type with 4,294,967,280 results.
		{"4 billion results", []byte("\x00asm\x01\x00\x00\x00\x01\t\x02`\x00\xf0\xff\xff\xff\x0f\v\v\x05\x00\xee\x7fh\f"), plugins.ErrInvalidModule, "4294967280 results"},
		// With no globals of its own, global 0 would be the interrupt flag.
		{"sets a global it does not have", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x08\x01\x06\x00\x41\x00\x24\x00\x0b"), plugins.ErrInvalidModule, "sets global 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Load(context.Background(), "bad", tt.wasm)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.kind, tt.msg)
			}
		})
	}
}

func TestPluginLogsAreEscapedAndCapped(t *testing.T) {
	p := load(t, "./plugins/testdata/logger", "logger")
	var buf testutil.Buffer
	sb := &plugins.Sandbox{Log: newJSONLogger(&buf), LogBytes: 4096}
	mustCall(t, p, "spam", "", sb)
	out := buf.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "\r") {
		t.Fatalf("raw control characters reached the log: %q", out)
	}
	if !strings.Contains(out, `plugin log truncated`) {
		t.Errorf("no truncation notice in %d bytes of log", len(out))
	}
	if len(out) > 64<<10 {
		t.Errorf("log is %d bytes; the cap is 4096 of messages", len(out))
	}
}

func TestThirdPartyExtismPlugin(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join("testdata", "asplugin", "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := runtime(t).Load(context.Background(), "asplugin", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if p.ABI() != plugins.ABIv1 {
		t.Fatalf("ABI = %v, want v1", p.ABI())
	}
	if got := text(t, mustCall(t, p, "reverse", `{"text":"warden"}`, nil)); got != "nedraw" {
		t.Fatalf("reverse = %q", got)
	}
	sb := &plugins.Sandbox{Config: map[string]string{"greeting": "hi"}}
	if got := text(t, mustCall(t, p, "config", `{"key":"greeting"}`, sb)); !strings.Contains(got, "hi") {
		t.Fatalf("config = %q", got)
	}
	_, err = call(t, p, "fail", "", nil)
	if !errors.Is(err, plugins.ErrPluginFailed) || !strings.Contains(err.Error(), "deliberate failure") {
		t.Fatalf("fail: err = %v", err)
	}
	_, err = call(t, p, "fetch_status", `{"url":"https://example.com/"}`, nil)
	if !errors.Is(err, plugins.ErrDenied) || !strings.Contains(err.Error(), "example.com:443") {
		t.Fatalf("fetch without a grant: err = %v, want ErrDenied naming example.com:443", err)
	}
}

func TestBusyQueue(t *testing.T) {
	ctx := context.Background()
	rt, err := plugins.NewRuntime(ctx, plugins.WithConcurrency(2, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	p, err := rt.Load(ctx, "loop", testutil.ReadPlugin(t, "./plugins/testdata/loop"))
	if err != nil {
		t.Fatal(err)
	}
	sb := &plugins.Sandbox{Limits: capabilities.Limits{Timeout: capabilities.Duration(10 * time.Second)}}
	started := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ { // one runs, one waits
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			p.Call(ctx, "sleep", json.RawMessage(`{"ms":3000}`), sb)
		}()
	}
	<-started
	<-started
	time.Sleep(time.Second) // both are in the gate by now: one running, one queued
	_, err = p.Call(ctx, "sleep", json.RawMessage(`{"ms":1}`), sb)
	var ce *plugins.CallError
	if !errors.Is(err, plugins.ErrBusy) || !errors.As(err, &ce) || ce.RetryAfter <= 0 {
		t.Fatalf("third call: err = %v, want ErrBusy with a retry hint", err)
	}
	wg.Wait()
	if _, err := p.Call(ctx, "sleep", json.RawMessage(`{"ms":1}`), sb); err != nil {
		t.Fatalf("after the burst: %v", err)
	}
	if _, err := plugins.NewRuntime(ctx, plugins.WithConcurrency(1, 2, 0)); err == nil {
		t.Fatal("perPlugin > total accepted")
	}
}

// TestRuntimeRandomnessPerCall checks that calls started from a memory image
// do not replay the Go runtime's random state: math/rand, math/rand/v2 and
// map iteration order differ between calls, sequential and concurrent, with
// images on and off.
func TestRuntimeRandomnessPerCall(t *testing.T) {
	for _, images := range []bool{true, false} {
		t.Run(fmt.Sprintf("images=%v", images), func(t *testing.T) {
			ctx := context.Background()
			p := loadCounter(t, plugins.WithMemoryImages(images))
			var mu sync.Mutex
			seen := map[string]int{}
			maps := map[string]bool{}
			record := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				for _, f := range strings.Fields(s) {
					k, _, _ := strings.Cut(f, "=")
					switch k {
					case "v1", "v2":
						seen[f]++
					case "map":
						maps[f] = true
					}
				}
			}
			for range 10 {
				record(text(t, mustCall(t, p, "runtime-random", "", nil)))
			}
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					res, err := p.Call(ctx, "runtime-random", nil, nil)
					if err != nil {
						t.Error(err)
						return
					}
					record(text(t, res))
				})
			}
			wg.Wait()
			for v, n := range seen {
				if n > 1 {
					t.Errorf("%d calls drew %s: the runtime's random state was replayed", n, v)
				}
			}
			if len(seen) != 60 {
				t.Errorf("got %d distinct values from 30 calls, want 60", len(seen))
			}
			// 30 calls iterating a 64-key map in the same order would be
			// a replayed seed; a few repeats by chance are fine.
			if len(maps) < 10 {
				t.Errorf("30 calls saw only %d map iteration orders", len(maps))
			}
		})
	}
}

// TestTaskDeadline checks that a call run as a task gets the task deadline,
// beyond the call deadline (and the runtime's call ceiling).
func TestTaskDeadline(t *testing.T) {
	p := load(t, "./examples/slow", "slow")
	limits := capabilities.Limits{Timeout: capabilities.Duration(200 * time.Millisecond), TaskTimeout: capabilities.Duration(time.Minute)}
	args := `{"steps":3,"stepMillis":200}`
	if _, err := call(t, p, "work", args, &plugins.Sandbox{Limits: limits}); !errors.Is(err, plugins.ErrTimeout) {
		t.Fatalf("as a call: err = %v, want ErrTimeout", err)
	}
	res := mustCall(t, p, "work", args, &plugins.Sandbox{Limits: limits, Task: true})
	if got := text(t, res); got != "done: 3 steps" {
		t.Fatalf("as a task: %q", got)
	}
}
