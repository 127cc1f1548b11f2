// Package demo is `warden demo`: it builds the example plugins with the Go
// toolchain, signs them with an ephemeral key, installs them into a
// temporary store with grants, and serves them on loopback, printing how to
// connect. Everything it makes lives in a temporary directory removed on
// exit.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/config"
	"github.com/wardenmcp/warden/internal/daemon"
	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/plugins"
	"github.com/wardenmcp/warden/registry"
	"github.com/wardenmcp/warden/registry/signing"
)

// Examples are the plugins the demo serves, in order.
var Examples = []string{"hello", "hash", "notes", "files", "secrets", "fetch"}

// Options configure Run.
type Options struct {
	Listen string    // default 127.0.0.1:8080
	Out    io.Writer // where the connection instructions go
	Logger *slog.Logger
	// Loader and ToolsHash are serve's (the demo serves exactly as serve does).
	Loader    daemon.Loader
	ToolsHash daemon.ToolsHasher
	// Ready is called with the endpoint address once serving (tests).
	Ready func(addr string)
	// KeepDir keeps the temporary directory (for inspection).
	KeepDir bool
}

// Run builds, signs, installs and serves the examples until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if !config.IsLoopback(o.Listen) {
		return fmt.Errorf("demo: %s is not a loopback address; the demo runs without authentication and serves only on loopback", o.Listen)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "warden-demo-")
	if err != nil {
		return err
	}
	if !o.KeepDir {
		defer os.RemoveAll(dir)
	}
	step := func(format string, a ...any) { fmt.Fprintf(o.Out, "• "+format+"\n", a...) }

	step("building %d example plugins with %s (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared)…", len(Examples), goVersion())
	keyPath := filepath.Join(dir, "keys", "demo")
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return err
	}
	if err := signing.WriteKeyPair(keyPath, false); err != nil {
		return err
	}
	priv, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	store, err := registry.OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	policy := signing.Policy{Entries: []signing.Entry{{Plugins: []string{"*"}, Key: keyPath + ".pub"}}}
	verifier, err := signing.NewVerifier(policy)
	if err != nil {
		return err
	}
	rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(store.CompiledDir()))
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	lockPath := filepath.Join(dir, "warden.lock")
	for _, name := range Examples {
		wasmPath := filepath.Join(dir, name+".wasm")
		if err := build(ctx, root, "./examples/"+name, wasmPath); err != nil {
			return err
		}
		if err := pack(filepath.Join(root, "examples", name, "manifest.yaml"), wasmPath); err != nil {
			return err
		}
		wasm, err := os.ReadFile(wasmPath)
		if err != nil {
			return err
		}
		bundle, err := signing.SignBlob(priv, wasm)
		if err != nil {
			return err
		}
		if err := os.WriteFile(wasmPath+".sigstore.json", bundle, 0o644); err != nil {
			return err
		}
		_, err = registry.Install(ctx, name, wasmPath, registry.InstallOptions{
			Verifier: verifier, Store: store, Lockfile: lockPath,
			ListTools: func(ctx context.Context, wasm []byte) ([]json.RawMessage, error) {
				p, err := rt.Load(ctx, name, wasm)
				if err != nil {
					return nil, err
				}
				defer p.Close(ctx)
				var defs []json.RawMessage
				for _, t := range p.Tools() {
					defs = append(defs, t.Definition)
				}
				return defs, nil
			},
		})
		if err != nil {
			return fmt.Errorf("demo: install %s: %w", name, err)
		}
		step("signed and installed %-8s %s", name, registry.Digest(wasm))
	}
	cfgPath, err := writeConfig(dir, o.Listen, keyPath+".pub")
	if err != nil {
		return err
	}
	step("wrote %s (grants in %s)", cfgPath, filepath.Join(dir, "grants"))

	ready := func(addr string) {
		url := "http://" + addr + "/mcp"
		fmt.Fprintf(o.Out, `
Warden is serving %d signed plugins at %s  (Ctrl-C to stop)

  MCP Inspector:  npx @modelcontextprotocol/inspector   → Transport "Streamable HTTP", URL %s
  Claude Code:    claude mcp add --transport http warden %s
  Claude Desktop / Cursor (mcp.json):
                  {"mcpServers": {"warden": {"type": "http", "url": "%s"}}}
  curl:           curl -s %s -H 'Content-Type: application/json' \
                    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \
                    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hello.greet","arguments":{"name":"Ada"}}}'

  Readiness:      http://%s/readyz
  Files:          %s
`, len(Examples), url, url, url, url, url, addr, dir)
		if o.Ready != nil {
			o.Ready(addr)
		}
	}
	return daemon.Run(ctx, daemon.Options{
		ConfigPath: cfgPath, Loader: o.Loader, ToolsHash: o.ToolsHash, Logger: o.Logger,
		Ready: ready, PollInterval: -1,
	})
}

func writeConfig(dir, listen, pub string) (string, error) {
	grants := filepath.Join(dir, "grants")
	data := filepath.Join(dir, "data")
	for _, d := range []string{grants, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	files := map[string]string{
		filepath.Join(data, "README.md"):      "# Demo data\n\nThe files plugin can list and read this directory, read-only, and nothing else.\n",
		filepath.Join(data, "quarterly.csv"):  "quarter,revenue\nQ1,100\nQ2,120\n",
		filepath.Join(dir, "signing-key.txt"): "demo-signing-key-" + fmt.Sprint(time.Now().UnixNano()) + "\n",
		filepath.Join(grants, "hello.yaml"):   "apiVersion: warden.dev/v1\nkind: Grant\nplugin: hello\nlimits: {memory: 32MiB, timeout: 5s, output: 256KiB}\n",
		filepath.Join(grants, "files.yaml"):   fmt.Sprintf("apiVersion: warden.dev/v1\nkind: Grant\nplugin: files\nfilesystem:\n  - host: %s\n    guest: /data\n    mode: ro\nlimits: {memory: 32MiB, timeout: 5s}\n", data),
		filepath.Join(grants, "secrets.yaml"): fmt.Sprintf("apiVersion: warden.dev/v1\nkind: Grant\nplugin: secrets\nsecrets:\n  - name: SIGNING_KEY\n    from: file:%s\nlimits: {memory: 32MiB, timeout: 5s}\n", filepath.Join(dir, "signing-key.txt")),
		filepath.Join(grants, "fetch.yaml"):   "apiVersion: warden.dev/v1\nkind: Grant\nplugin: fetch\nnetwork:\n  allow:\n    - host: example.com\nlimits: {memory: 32MiB, timeout: 10s, httpResponse: 1MiB}\n",
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "signing-key.txt") {
			mode = 0o600
		}
		if err := os.WriteFile(p, []byte(c), mode); err != nil {
			return "", err
		}
	}
	ro := "{readOnlyHint: true, destructiveHint: false, openWorldHint: false}"
	cfg := fmt.Sprintf(`apiVersion: warden.dev/v1
kind: Host
listen: %s
admin: {listen: 127.0.0.1:0}
allowedOrigins: [http://localhost:6274, http://127.0.0.1:6274]
store: ./store
lockfile: ./warden.lock
trust:
  - plugins: ["*"]
    key: %s
plugins:
  - name: hello
    grant: grants/hello.yaml
    tools: {greet: {annotations: %[3]s}, echo: {annotations: %[3]s}}
  - name: hash
  - name: notes
  - name: files
    grant: grants/files.yaml
    tools: {list: {annotations: %[3]s}, read: {annotations: %[3]s}}
  - name: secrets
    grant: grants/secrets.yaml
  - name: fetch
    grant: grants/fetch.yaml
`, listen, pub, ro)
	path := filepath.Join(dir, "warden.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

func build(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("demo: building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func pack(manifestPath, wasmPath string) error {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	m, err := capabilities.ParseManifestYAML(manifestPath, data)
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	out, err := wasmbin.SetCustomSection(wasm, plugins.ManifestSection, raw)
	if err != nil {
		return err
	}
	return os.WriteFile(wasmPath, out, 0o644)
}

// moduleRoot finds the Warden checkout the demo builds the examples from.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			root := filepath.Dir(gomod)
			if _, err := os.Stat(filepath.Join(root, "examples", "hello", "main.go")); err == nil {
				return root, nil
			}
		}
	}
	return "", fmt.Errorf("demo: run it from a Warden checkout (it builds ./examples with the Go toolchain): go run ./cmd/warden demo")
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "go"
	}
	return strings.TrimSpace(string(out))
}
