package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/internal/demo"
	"github.com/wardenmcp/warden/internal/testutil"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCall(t *testing.T) {
	hello := testutil.BuildPlugin(t, "./examples/hello")
	secrets := testutil.BuildPlugin(t, "./examples/secrets")
	loop := testutil.BuildPlugin(t, "./plugins/testdata/loop")
	cache := "--cache-dir=" + testutil.CompileCacheDir(t)
	badGrant := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badGrant, []byte("apiVersion: warden.dev/v1\nkind: Grant\nnetwork:\n  allow:\n    - host: x.com\n      schemes: [ftp]\n"), 0o644)

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderr     string
		jsonResult bool
	}{
		{"greet", []string{"call", cache, hello, "greet", `{"name":"Ada"}`}, exitOK, "Hello, Ada!", "", true},
		{"isError still exits 0", []string{"call", cache, hello, "greet", `{}`}, exitOK, `"isError": true`, "", true},
		{"secret flag", []string{"call", cache, "--secret", "SIGNING_KEY=s3cr3t-value", secrets, "sign", `{"message":"hi"}`}, exitOK, "382b6e2ba8c07301dd81da2765a26ffe1577acf680e44d40920956d5b47e61b3", "", true},
		{"secret flag, redacted", []string{"call", cache, "--secret", "SIGNING_KEY=s3cr3t-value", hello, "echo", `{"text":"s3cr3t-value"}`}, exitOK, "[REDACTED:SIGNING_KEY]", "", true},
		{"third-party Extism plugin (AssemblyScript PDK)", []string{"call", cache, filepath.Join(testutil.ModuleRoot(t), "plugins/testdata/asplugin/plugin.wasm"), "reverse", `{"text":"warden"}`}, exitOK, "nedraw", "", true},
		{"third-party plugin's error_set", []string{"call", cache, filepath.Join(testutil.ModuleRoot(t), "plugins/testdata/asplugin/plugin.wasm"), "fail"}, exitFailure, "", "deliberate failure", false},
		{"unknown tool", []string{"call", cache, hello, "nope"}, exitFailure, "", "unknown tool", false},
		{"timeout", []string{"call", cache, "--timeout", "200ms", loop, "spin"}, exitFailure, "", "timed out", false},
		{"args not JSON", []string{"call", cache, hello, "greet", `{name}`}, exitUsage, "", "ARGS_JSON must be a JSON object", false},
		{"missing file", []string{"call", cache, "nope.wasm", "greet"}, exitUsage, "", "no such file", false},
		{"not a module", []string{"call", cache, badGrant, "greet"}, exitFailure, "", "invalid plugin module", false},
		{"bad grant", []string{"call", cache, "--grant", badGrant, hello, "greet"}, exitUsage, "", "bad.yaml:6", false},
		{"too few args", []string{"call", hello}, exitUsage, "", "takes 2 to 3 arguments", false},
		{"bad flag", []string{"call", "--nope", hello, "greet"}, exitUsage, "", "unknown flag", false},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", "unknown command", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("stdout %q, stderr %q; want %q and %q", stdout, stderr, tt.stdout, tt.stderr)
			}
			if tt.jsonResult && !json.Valid([]byte(stdout)) {
				t.Fatalf("stdout is not JSON: %s", stdout)
			}
			if strings.Contains(stdout+stderr, "s3cr3t-value") {
				t.Fatalf("the secret leaked: %s %s", stdout, stderr)
			}
		})
	}
}

func TestPackAndInspect(t *testing.T) {
	root := testutil.ModuleRoot(t)
	hello := testutil.BuildPlugin(t, "./examples/hello")
	out := filepath.Join(t.TempDir(), "hello.wasm")
	code, _, stderr := runCLI(t, "plugin", "pack", "--manifest", filepath.Join(root, "examples/hello/manifest.yaml"), hello, "-o", out)
	if code != exitOK {
		t.Fatalf("pack: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "plugin", "inspect", "--json", out)
	if code != exitOK {
		t.Fatalf("inspect: %d %s", code, stderr)
	}
	var in inspection
	if err := json.Unmarshal([]byte(stdout), &in); err != nil {
		t.Fatal(err)
	}
	if in.Manifest == nil || in.Manifest.Name != "hello" || len(in.Tools) != 2 || !strings.HasPrefix(in.ABI, "v2") {
		t.Fatalf("inspection = %+v", in)
	}
	code, stdout, _ = runCLI(t, "plugin", "inspect", out)
	for _, want := range []string{"name:", "hello", "tools (2):", "greet", "extism:host/env."} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Fatalf("text inspect lacks %q:\n%s", want, stdout)
		}
	}
	// The packed plugin still runs, under its manifest name.
	if code, stdout, stderr := runCLI(t, "call", "--cache-dir=", out, "echo", `{"text":"packed"}`); code != exitOK || !strings.Contains(stdout, "packed") {
		t.Fatalf("call packed: %d %s %s", code, stdout, stderr)
	}
	// A bad manifest changes nothing and says where the problem is.
	bad := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(bad, []byte("apiVersion: warden.dev/v1\nkind: Manifest\nname: Bad.Name\n"), 0o644)
	before, _ := os.ReadFile(out)
	code, _, stderr = runCLI(t, "plugin", "pack", "--manifest", bad, out, "-o", out)
	after, _ := os.ReadFile(out)
	if code != exitUsage || !strings.Contains(stderr, "m.yaml:3") || !bytes.Equal(before, after) {
		t.Fatalf("bad manifest: code %d stderr %q, file changed: %v", code, stderr, !bytes.Equal(before, after))
	}
}

func TestGrantsCheckAndDiff(t *testing.T) {
	root := testutil.ModuleRoot(t)
	dir := t.TempDir()
	risky := filepath.Join(dir, "risky.yaml")
	os.WriteFile(risky, []byte("apiVersion: warden.dev/v1\nkind: Grant\nfilesystem:\n  - host: /etc\n    guest: /etc\n    mode: rw\n"), 0o644)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("apiVersion: warden.dev/v1\nkind: Grant\nnetwork:\n  allow:\n    - host: x.com\n      schemes: [ftp]\n"), 0o644)

	if code, out, stderr := runCLI(t, "grants", "check", filepath.Join(root, "examples/grants")); code != exitOK {
		t.Fatalf("examples/grants: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ := runCLI(t, "grants", "check", risky, broken)
	if code != exitFailure || !strings.Contains(out, "risky.yaml:4: error:") || !strings.Contains(out, "broken.yaml:6: error: network.allow[0].schemes") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}

	fetch := testutil.BuildPlugin(t, "./examples/fetch")
	packed := filepath.Join(dir, "fetch.wasm")
	if code, _, stderr := runCLI(t, "plugin", "pack", "--manifest", filepath.Join(root, "examples/fetch/manifest.yaml"), fetch, "-o", packed); code != exitOK {
		t.Fatal(stderr)
	}
	if code, out, stderr := runCLI(t, "grants", "diff", packed, filepath.Join(root, "examples/grants/fetch.yaml")); code != exitOK || !strings.Contains(out, "match network example.com:443") {
		t.Fatalf("diff with its own grant: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "grants", "diff", packed, filepath.Join(root, "examples/grants/files.yaml"))
	if code != exitFailure || !strings.Contains(out, "not-granted network example.com:443") || !strings.Contains(out, "over-grant filesystem /data") {
		t.Fatalf("diff with another grant: exit %d\n%s", code, out)
	}
}

func TestDemoServesSignedExamples(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out testutil.Buffer
	go func() {
		done <- demo.Run(ctx, demo.Options{Listen: "127.0.0.1:0", Out: &out, Loader: &storeLoader{}, ToolsHash: toolsHash,
			Logger: slog.New(slog.DiscardHandler), Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("demo: %v\n%s", err, out.String())
	case <-time.After(5 * time.Minute):
		t.Fatal("demo not ready")
	}
	call := func(tool, args string) string {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for tool, want := range map[string][2]string{
		"hello.greet":  {`{"name":"Ada"}`, "Hello, Ada!"},
		"hash.sha256":  {`{"text":"abc"}`, "ba7816bf"},
		"files.list":   {`{"path":"/data"}`, "quarterly.csv"},
		"secrets.sign": {`{"message":"hi"}`, `"isError"`},
	} {
		got := call(tool, want[0])
		if tool == "secrets.sign" {
			if strings.Contains(got, `"isError":true`) {
				t.Errorf("%s: %s", tool, got)
			}
			continue
		}
		if !strings.Contains(got, want[1]) {
			t.Errorf("%s = %s, want %q", tool, got, want[1])
		}
	}
	if !strings.Contains(out.String(), "claude mcp add --transport http warden http://"+addr+"/mcp") {
		t.Errorf("connection instructions missing:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("demo exit: %v", err)
	}
}

func TestSignInstallVerify(t *testing.T) {
	dir := t.TempDir()
	root := testutil.ModuleRoot(t)
	wasm := filepath.Join(dir, "hello.wasm")
	b, _ := os.ReadFile(testutil.BuildPlugin(t, "./examples/hello"))
	os.WriteFile(wasm, b, 0o644)
	key := filepath.Join(dir, "keys", "dev")
	store := "--store=" + filepath.Join(dir, "store")
	lock := "--lockfile=" + filepath.Join(dir, "warden.lock")
	must := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != want {
			t.Fatalf("warden %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out + errOut
	}
	must(exitOK, "plugin", "pack", "--manifest", filepath.Join(root, "examples/hello/manifest.yaml"), wasm, "-o", wasm)
	must(exitOK, "plugin", "keygen", "--out", key)
	// Unsigned: refused, nothing installed.
	out := must(exitFailure, "plugin", "install", "hello", wasm, "--key", key+".pub", store, lock)
	if _, err := os.Stat(filepath.Join(dir, "warden.lock")); err == nil {
		t.Fatalf("a failed install wrote the lockfile: %s", out)
	}
	must(exitUsage, "plugin", "install", "hello", wasm, "--key", "/nonexistent.pub", store, lock)
	must(exitOK, "plugin", "sign", "--key", key, wasm)
	// Signed by another key: refused.
	must(exitOK, "plugin", "keygen", "--out", filepath.Join(dir, "keys", "other"))
	out = must(exitFailure, "plugin", "install", "hello", wasm, "--key", filepath.Join(dir, "keys", "other.pub"), store, lock)
	if !strings.Contains(out, "key") {
		t.Errorf("wrong-key message: %s", out)
	}
	// A plugin name that differs from the manifest's: refused.
	must(exitFailure, "plugin", "install", "other", wasm, "--key", key+".pub", store, lock)
	out = must(exitOK, "plugin", "install", "hello", wasm, "--key", key+".pub", store, lock)
	if !strings.Contains(out, "installed hello 0.1.0") {
		t.Fatalf("install output: %s", out)
	}
	out = must(exitOK, "plugin", "list", store, lock)
	if !strings.Contains(out, "hello") || !strings.Contains(out, "enabled") {
		t.Fatalf("list: %s", out)
	}
	must(exitOK, "plugin", "verify", "hello", "--key", key+".pub", store, lock)
	// One flipped byte in the store is caught.
	files, _ := filepath.Glob(filepath.Join(dir, "store", "sha256", "*.wasm"))
	if len(files) != 1 {
		t.Fatalf("store has %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 1
	os.WriteFile(files[0], data, 0o600)
	out = must(exitFailure, "plugin", "verify", "hello", "--key", key+".pub", store, lock)
	if !strings.Contains(out, "the store was modified") {
		t.Fatalf("tamper message: %s", out)
	}
	must(exitOK, "plugin", "disable", "hello", store, lock)
	if out = must(exitOK, "plugin", "list", store, lock); !strings.Contains(out, "DISABLED") {
		t.Fatalf("disable: %s", out)
	}
	must(exitOK, "plugin", "remove", "hello", store, lock)
	must(exitUsage, "plugin", "verify", store, lock)
}

func TestPushAndInstallFromOCI(t *testing.T) {
	reg := testutil.StartRegistry(t)
	dir := t.TempDir()
	root := testutil.ModuleRoot(t)
	wasm := filepath.Join(dir, "hello.wasm")
	b, _ := os.ReadFile(testutil.BuildPlugin(t, "./examples/hello"))
	os.WriteFile(wasm, b, 0o644)
	key := filepath.Join(dir, "keys", "dev")
	a := []string{"--store=" + filepath.Join(dir, "a", "store"), "--lockfile=" + filepath.Join(dir, "a", "warden.lock")}
	bflags := []string{"--store=" + filepath.Join(dir, "b", "store"), "--lockfile=" + filepath.Join(dir, "b", "warden.lock")}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("warden %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out + errOut
	}
	must("plugin", "pack", "--manifest", filepath.Join(root, "examples/hello/manifest.yaml"), wasm, "-o", wasm)
	must("plugin", "keygen", "--out", key)
	must("plugin", "sign", "--key", key, wasm)
	must(append([]string{"plugin", "install", "hello", wasm, "--key", key + ".pub"}, a...)...)
	ref := "oci://" + reg + "/plugins/hello:0.1.0"
	must(append([]string{"plugin", "push", "hello", ref, "--insecure-loopback-http"}, a...)...)
	out := must(append([]string{"plugin", "install", "hello", ref, "--key", key + ".pub", "--insecure-loopback-http"}, bflags...)...)
	if !strings.Contains(out, "installed hello 0.1.0") {
		t.Fatalf("install from OCI: %s", out)
	}
	must(append([]string{"plugin", "verify", "hello", "--key", key + ".pub"}, bflags...)...)
}
