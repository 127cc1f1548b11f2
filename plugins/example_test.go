package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/plugins"
)

// buildExample compiles an example plugin the way a plugin author would.
func buildExample(pkg string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "example-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, b)
	}
	return os.ReadFile(out)
}

// A runtime loads a module once and runs every call in a fresh instance.
func ExampleRuntime_Load() {
	ctx := context.Background()
	wasm, err := buildExample("./examples/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, err := plugins.NewRuntime(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)

	p, err := rt.Load(ctx, "hello", wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range p.Tools() {
		fmt.Println("tool:", t.Name)
	}
	res, err := p.Call(ctx, "greet", json.RawMessage(`{"name":"Ada"}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(res.JSON))
	// Output:
	// tool: greet
	// tool: echo
	// {"content":[{"type":"text","text":"Hello, Ada!"}]}
}

// Limits come from the sandbox; a call that passes one fails with an error
// that errors.Is matches.
func ExamplePlugin_Call_limits() {
	ctx := context.Background()
	wasm, err := buildExample("./plugins/testdata/loop")
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, _ := plugins.NewRuntime(ctx)
	defer rt.Close(ctx)
	p, err := rt.Load(ctx, "loop", wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	sb := &plugins.Sandbox{Limits: capabilities.Limits{Timeout: capabilities.Duration(100 * time.Millisecond)}}
	_, err = p.Call(ctx, "spin", nil, sb)
	fmt.Println(errors.Is(err, plugins.ErrTimeout))
	fmt.Println(err)
	// Output:
	// true
	// loop.spin: plugin call timed out: it ran longer than its 100ms limit and was stopped
}

// CheckSchema refuses schemas whose references leave the document.
func ExampleCheckSchema() {
	err := plugins.CheckSchema(json.RawMessage(`{"type":"object","properties":{"p":{"$ref":"file:///etc/passwd"}}}`), true)
	fmt.Println(err)
	// Output:
	// /properties/p/$ref is "file:///etc/passwd"; only local references ("#...") are allowed
}
