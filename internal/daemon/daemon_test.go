package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/internal/config"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/registry"
)

// fakeLoader serves modules built from example packages, by plugin name.
type fakeLoader map[string]string

func (f fakeLoader) Load(_ context.Context, _ *config.Config, name string) (*Loaded, error) {
	pkg, ok := f[name]
	if !ok {
		return nil, fmt.Errorf("plugin %s is not installed", name)
	}
	wasm, err := os.ReadFile(pkg)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	return &Loaded{Wasm: wasm, Digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

func writeConfig(t *testing.T, path, plugins string) {
	t.Helper()
	cfg := "apiVersion: warden.dev/v1\nkind: Host\nlisten: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nstore: ./store\nplugins:\n" + plugins
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func toolsList(t *testing.T, addr string) string {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result struct{ Tools []struct{ Name string } }
	}
	json.NewDecoder(resp.Body).Decode(&out)
	var names []string
	for _, tl := range out.Result.Tools {
		names = append(names, tl.Name)
	}
	return strings.Join(names, ",")
}

func TestServeReloadShutdown(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeConfig(t, cfgPath, "  - name: hello\n  - name: missing\n")
	loader := fakeLoader{
		"hello": testutil.BuildPlugin(t, "./examples/hello"),
		"hash":  testutil.BuildPlugin(t, "./examples/hash"),
	}
	var logs testutil.Buffer
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Loader: loader, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			PollInterval: 50 * time.Millisecond, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("not ready")
	}
	if got := toolsList(t, addr); got != "hello.echo,hello.greet" {
		t.Fatalf("tools = %q", got)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "plugin missing is not installed") {
		t.Fatalf("readyz = %d %s", resp.StatusCode, b)
	}

	// A changed config is picked up.
	time.Sleep(20 * time.Millisecond)
	writeConfig(t, cfgPath, "  - name: hello\n  - name: hash\n    expose: [sha256]\n")
	waitFor(t, func() bool { return toolsList(t, addr) == "hash.sha256,hello.echo,hello.greet" })

	// A broken config is refused and the old set keeps serving.
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(cfgPath, []byte("apiVersion: warden.dev/v1\nkind: Host\nlisten: [oops\n"), 0o644)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "reload refused") })
	if got := toolsList(t, addr); got != "hash.sha256,hello.echo,hello.greet" {
		t.Fatalf("after a bad reload tools = %q", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

func TestRefusesPublicListenWithoutAuth(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "warden.yaml")
	os.WriteFile(cfgPath, []byte("apiVersion: warden.dev/v1\nkind: Host\nlisten: 0.0.0.0:0\n"), 0o644)
	err := Run(context.Background(), Options{ConfigPath: cfgPath, Loader: fakeLoader{}})
	if err == nil || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Fatalf("err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // a cold compile under -race on a busy machine is slow
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLoadFailureReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("plugin x: %w", registry.ErrTampered), "tampered"},
		{fmt.Errorf("%w: no entry", registry.ErrNotInstalled), "not_installed"},
		{fmt.Errorf("%w: sha256:…", registry.ErrDenied), "denied"},
		{fmt.Errorf("%w since install", registry.ErrToolsChanged), "tools_changed"},
		{fmt.Errorf("x: %w", registry.ErrVerification), "verification"},
		{errors.New("compile: bad magic"), "load"},
	}
	for _, tt := range tests {
		if got := loadFailureReason(tt.err); got != tt.want {
			t.Errorf("loadFailureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestHostOptionsTasks(t *testing.T) {
	t.Setenv("TEST_TASKS_PW", "s3cret")
	cfg, err := config.Parse("w.yaml", []byte(`apiVersion: warden.dev/v1
kind: Host
tasks:
  backend: redis
  redis: {addr: 127.0.0.1:6379, username: w, passwordEnv: TEST_TASKS_PW, db: 3, keyPrefix: "x:"}
  defaultTTL: 30m
  maxTTL: 2h
  maxOpenPerSubject: 4
  pollInterval: 250ms
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := hostOptions(cfg, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	tc := o.Tasks
	if tc == nil || tc.Backend != "redis" || tc.RedisAddr != "127.0.0.1:6379" || tc.RedisUsername != "w" || tc.RedisPassword != "s3cret" ||
		tc.RedisDB != 3 || tc.RedisKeyPrefix != "x:" || tc.DefaultTTL != 30*time.Minute || tc.MaxTTL != 2*time.Hour ||
		tc.MaxOpenPerSubject != 4 || tc.PollInterval != 250*time.Millisecond {
		t.Fatalf("host task options: %+v", tc)
	}
}
