package main

// End to end: MCP tasks across two `warden serve` processes sharing one
// real Redis. A task started on one replica is followed, fetched and
// cancelled on the other; when the replica running a task is killed, the
// other reports the task failed, naming the replica; another subject can
// see none of it.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenmcp/warden/internal/testutil"
)

const (
	e2eIssuer   = "https://id.test"
	e2eAudience = "https://mcp.test/mcp"
)

// e2eIDP signs tokens with an Ed25519 key published as a JWKS file.
type e2eIDP struct{ priv ed25519.PrivateKey }

func (p e2eIDP) token(t *testing.T, sub string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: p.priv, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(map[string]any{"iss": e2eIssuer, "aud": e2eAudience, "sub": sub,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// replica is one `warden serve` process.
type replica struct {
	name  string
	cmd   *exec.Cmd
	url   string // the MCP endpoint
	audit string
	out   *testutil.Buffer
	done  chan struct{}
}

// buildWarden builds the warden binary into dir.
func buildWarden(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "warden")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/warden")
	cmd.Dir = testutil.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/warden: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs `warden serve` with config cfg and waits until it
// serves.
func startReplica(t *testing.T, bin, dir, name, cfg string) *replica {
	t.Helper()
	r := &replica{name: name, out: &testutil.Buffer{}, done: make(chan struct{}), audit: filepath.Join(dir, "audit-"+name+".log")}
	path := filepath.Join(dir, "warden-"+name+".yaml")
	if err := os.WriteFile(path, []byte(cfg+"audit: {path: "+r.audit+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	r.cmd = exec.Command(bin, "serve", "--config", path)
	r.cmd.Dir = dir
	r.cmd.Stdout = r.out
	r.cmd.Stderr = io.MultiWriter(r.out, pw)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); pw.Close(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, r.out.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Endpoint string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				ready <- line.Endpoint
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case r.url = <-ready:
	case <-r.done:
		t.Fatalf("replica %s exited before serving:\n%s", name, r.out.String())
	case <-time.After(5 * time.Minute): // a cold compile under load is slow
		t.Fatalf("replica %s not serving after 5 minutes:\n%s", name, r.out.String())
	}
	return r
}

// e2eCall is one JSON-RPC request to an endpoint.
type e2eClient struct {
	t       *testing.T
	token   string
	version string
	declare bool // 2026-07-28: declare the tasks extension
}

type e2eReply struct {
	status int
	Result map[string]any `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c e2eClient) rpc(url, method string, params map[string]any) e2eReply {
	c.t.Helper()
	version := c.version
	if version == "" {
		version = "2025-11-25"
	}
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", version)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if version >= "2026-07-28" {
		caps := map[string]any{}
		if c.declare {
			caps["extensions"] = map[string]any{"io.modelcontextprotocol/tasks": map[string]any{}}
		}
		params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": version,
			"io.modelcontextprotocol/clientInfo": map[string]any{"name": "e2e", "version": "1"}, "io.modelcontextprotocol/clientCapabilities": caps}
		req.Header.Set("Mcp-Method", method)
		for _, k := range []string{"name", "taskId"} {
			if v, ok := params[k].(string); ok {
				req.Header.Set("Mcp-Name", v)
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := e2eReply{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil && resp.StatusCode == http.StatusOK {
		c.t.Fatalf("%s: %q: %v", method, raw, err)
	}
	return out
}

func (c e2eClient) ok(url, method string, params map[string]any) map[string]any {
	c.t.Helper()
	r := c.rpc(url, method, params)
	if r.Error != nil || r.Result == nil {
		c.t.Fatalf("%s on %s: status %d, error %+v", method, url, r.status, r.Error)
	}
	return r.Result
}

// start starts slow.work as a task on url.
func (c e2eClient) start(url string, args map[string]any) string {
	c.t.Helper()
	params := map[string]any{"name": "slow.work", "arguments": args}
	if c.version < "2026-07-28" {
		params["task"] = map[string]any{}
	}
	res := c.ok(url, "tools/call", params)
	task := res
	if t, ok := res["task"].(map[string]any); ok {
		task = t
	}
	id, _ := task["taskId"].(string)
	if id == "" {
		c.t.Fatalf("tools/call answered %v, not a task", res)
	}
	return id
}

// waitFor polls tasks/get on url until cond holds.
func (c e2eClient) waitFor(url, id, what string, within time.Duration, cond func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last e2eReply
	for time.Now().Before(deadline) {
		last = c.rpc(url, "tasks/get", map[string]any{"taskId": id})
		if last.Error == nil && cond(last.Result) {
			return last.Result
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("task %s on %s: not %s within %v; last: %v %+v", id, url, what, within, last.Result, last.Error)
	return nil
}

func statusIs(s string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["status"] == s }
}

func progressing(r map[string]any) bool {
	m, _ := r["statusMessage"].(string)
	return r["status"] == "working" && strings.Contains(m, "step")
}

func text(res map[string]any) string {
	var s []string
	content, _ := res["content"].([]any)
	for _, c := range content {
		if m, ok := c.(map[string]any); ok {
			if t, ok := m["text"].(string); ok {
				s = append(s, t)
			}
		}
	}
	return strings.Join(s, "\n")
}

// auditOutcome waits for the audit line of task id in path and returns its
// outcome.
func auditOutcome(t *testing.T, path, id string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var rec struct{ Method, TaskID, Outcome string }
			if json.Unmarshal(line, &rec) == nil && rec.TaskID == id && rec.Method == "tools/call" {
				return rec.Outcome
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no audit line for task %s in %s within %v", id, path, within)
	return ""
}

func TestTasksAcrossTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two warden processes")
	}
	redisAddr, _ := testutil.StartRedis(t)
	dir := t.TempDir()
	bin := buildWarden(t, dir)

	// The slow example, packed with its manifest, signed and installed.
	wasm := filepath.Join(dir, "slow.wasm")
	b, err := os.ReadFile(testutil.BuildPlugin(t, "./examples/slow"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(wasm, b, 0o644)
	root := testutil.ModuleRoot(t)
	store, lock, key := "--store="+filepath.Join(dir, "store"), "--lockfile="+filepath.Join(dir, "warden.lock"), filepath.Join(dir, "dev")
	for _, args := range [][]string{
		{"plugin", "pack", "--manifest", filepath.Join(root, "examples/slow/manifest.yaml"), wasm, "-o", wasm},
		{"plugin", "keygen", "--out", key},
		{"plugin", "sign", "--key", key, wasm},
		{"plugin", "install", "slow", wasm, "--key", key + ".pub", store, lock},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("warden %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: string(jose.EdDSA), Use: "sig"}}})
	os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o644)
	idp := e2eIDP{priv: priv}
	grant, _ := os.ReadFile(filepath.Join(root, "examples/grants/slow.yaml"))
	os.WriteFile(filepath.Join(dir, "slow.yaml"), grant, 0o644)
	cfg := fmt.Sprintf(`apiVersion: warden.dev/v1
kind: Host
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
store: ./store
lockfile: ./warden.lock
auth: {mode: jwt, issuer: %s, audience: %s, jwksFile: ./jwks.json}
trust:
  - plugins: [slow]
    key: ./dev.pub
tasks: {backend: redis, redis: {addr: %s}, pollInterval: 100ms}
plugins:
  - name: slow
    grant: ./slow.yaml
`, e2eIssuer, e2eAudience, redisAddr)
	a := startReplica(t, bin, dir, "a", cfg)
	b2 := startReplica(t, bin, dir, "b", cfg)
	alice := e2eClient{t: t, token: idp.token(t, "alice")}
	bob := e2eClient{t: t, token: idp.token(t, "bob")}

	// Started on A, followed and fetched on B.
	id := alice.start(a.url, map[string]any{"steps": 5, "stepMillis": 100})
	alice.waitFor(b2.url, id, "completed", time.Minute, statusIs("completed"))
	if got := text(alice.ok(b2.url, "tasks/result", map[string]any{"taskId": id})); got != "done: 5 steps" {
		t.Fatalf("tasks/result on B: %q", got)
	}
	if outcome := auditOutcome(t, a.audit, id, 10*time.Second); outcome != "ok" {
		t.Errorf("A's audit outcome: %s", outcome)
	}

	// The same across replicas on 2026-07-28.
	am := e2eClient{t: t, token: alice.token, version: "2026-07-28", declare: true}
	id = am.start(a.url, map[string]any{"steps": 3, "stepMillis": 50})
	if got := am.waitFor(b2.url, id, "completed", time.Minute, statusIs("completed")); text(got["result"].(map[string]any)) != "done: 3 steps" {
		t.Errorf("2026-07-28 tasks/get on B: %v", got)
	}

	// Started on A, cancelled from B: A's call stops.
	id = alice.start(a.url, map[string]any{"steps": 600, "stepMillis": 100})
	alice.waitFor(b2.url, id, "reporting progress", time.Minute, progressing)
	// Another subject sees nothing of it, on either replica.
	for _, url := range []string{a.url, b2.url} {
		for _, m := range []string{"tasks/get", "tasks/cancel", "tasks/result"} {
			if r := bob.rpc(url, m, map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32602 {
				t.Errorf("bob's %s of alice's task: %v %+v", m, r.Result, r.Error)
			}
		}
		if list := bob.ok(url, "tasks/list", map[string]any{}); len(list["tasks"].([]any)) != 0 {
			t.Errorf("bob's tasks/list: %v", list)
		}
	}
	if got := alice.ok(b2.url, "tasks/cancel", map[string]any{"taskId": id}); got["status"] != "cancelled" {
		t.Fatalf("tasks/cancel on B: %v", got)
	}
	if outcome := auditOutcome(t, a.audit, id, 20*time.Second); outcome != "canceled" {
		t.Errorf("A's call after the cancel on B: outcome %s", outcome)
	}
	if got := alice.ok(a.url, "tasks/get", map[string]any{"taskId": id}); got["status"] != "cancelled" {
		t.Errorf("on A after the cancel: %v", got)
	}

	// A dies while running a task: B reports it failed, naming A.
	id = alice.start(a.url, map[string]any{"steps": 600, "stepMillis": 100})
	alice.waitFor(b2.url, id, "reporting progress", time.Minute, progressing)
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	killed := time.Now()
	got := alice.waitFor(b2.url, id, "failed", 30*time.Second, statusIs("failed"))
	msg, _ := got["statusMessage"].(string)
	if !strings.Contains(msg, "replica") || !strings.Contains(msg, fmt.Sprintf("-%d-", a.cmd.Process.Pid)) {
		t.Errorf("statusMessage %q does not name the dead replica (pid %d)", msg, a.cmd.Process.Pid)
	}
	t.Logf("failed %v after the kill: %s", time.Since(killed).Round(100*time.Millisecond), msg)
	if r := alice.rpc(b2.url, "tasks/result", map[string]any{"taskId": id}); r.Error == nil || !strings.Contains(r.Error.Message, "replica") {
		t.Errorf("tasks/result of the dead replica's task: %v %+v", r.Result, r.Error)
	}
	list := alice.ok(b2.url, "tasks/list", map[string]any{})
	if n := len(list["tasks"].([]any)); n != 4 {
		t.Errorf("alice's tasks/list has %d tasks, want 4: %v", n, list)
	}

	// B shuts down (SIGTERM) with a task running: the task fails at once
	// with the reason, and B exits.
	id = alice.start(b2.url, map[string]any{"steps": 600, "stepMillis": 100})
	alice.waitFor(b2.url, id, "reporting progress", time.Minute, progressing)
	b2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b2.done:
	case <-time.After(40 * time.Second):
		t.Fatal("B did not exit on SIGTERM")
	}
	c := startReplica(t, bin, dir, "c", cfg)
	got = alice.ok(c.url, "tasks/get", map[string]any{"taskId": id})
	if msg, _ := got["statusMessage"].(string); got["status"] != "failed" || !strings.Contains(msg, "shutting down") {
		t.Errorf("B's task after SIGTERM, seen from C: %v", got)
	}
}
