package host_test

import (
	"bufio"
	"bytes"
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
)

const modern = "2026-07-28"

// slowGrant is examples/grants/slow.yaml, with mod applied to its limits.
func slowGrant(t testing.TB, mod func(*capabilities.Limits)) *capabilities.Grant {
	t.Helper()
	g, err := capabilities.LoadGrant(filepath.Join(testutil.ModuleRoot(t), "examples/grants/slow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&g.Limits)
	}
	return g
}

// taskServer serves slow (work: optional, report: required) and hello
// (no tasks) with task records in memory, fast polling and short leases.
type taskServer struct {
	s     *host.Server
	url   string
	audit string
}

func newTaskServer(t *testing.T, grant *capabilities.Grant, opts ...func(*host.Options)) *taskServer {
	t.Helper()
	module(t, "hello", "./examples/hello")
	ts := &taskServer{audit: filepath.Join(t.TempDir(), "audit.log")}
	o := host.Options{Runtime: rt, AuditPath: ts.audit,
		Tasks: &host.TaskConfig{PollInterval: 50 * time.Millisecond, Lease: 3 * time.Second, RenewInterval: 200 * time.Millisecond}}
	for _, f := range opts {
		f(&o)
	}
	s, err := host.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(t.Context()) })
	if grant == nil {
		grant = slowGrant(t, nil)
	}
	err = s.Swap([]*host.Plugin{
		{Name: "slow", Module: module(t, "slow", "./examples/slow"), Grant: grant},
		{Name: "hello", Module: module(t, "hello", "./examples/hello")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	ts.s, ts.url = s, srv.URL
	return ts
}

// auditFor returns the audit records of task id.
func (ts *taskServer) auditFor(t *testing.T, id string) []map[string]any {
	t.Helper()
	return auditRecords(t, ts.audit, id)
}

func auditRecords(t *testing.T, path, id string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if rec["taskId"] == id {
			out = append(out, rec)
		}
	}
	return out
}

// mcpClient speaks one protocol version to an endpoint, as one subject.
type mcpClient struct {
	t       *testing.T
	url     string
	version string
	token   string
	// declare, on 2026-07-28, declares the tasks extension in every
	// request's client capabilities.
	declare bool
}

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type reply struct {
	status int
	Result map[string]any `json:"result"`
	Error  *rpcError      `json:"error"`
}

func (c mcpClient) rpc(method string, params map[string]any) reply {
	c.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("Mcp-Protocol-Version", c.version)
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	if c.version >= modern {
		caps := map[string]any{}
		if c.declare {
			caps["extensions"] = map[string]any{"io.modelcontextprotocol/tasks": map[string]any{}}
		}
		params["_meta"] = map[string]any{
			"io.modelcontextprotocol/protocolVersion":    c.version,
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "test", "version": "1"},
			"io.modelcontextprotocol/clientCapabilities": caps,
		}
		h.Set("Mcp-Method", method)
		for _, k := range []string{"name", "taskId"} {
			if v, ok := params[k].(string); ok {
				h.Set("Mcp-Name", v)
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	req, _ := http.NewRequest(http.MethodPost, c.url+"/mcp", bytes.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := reply{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil && resp.StatusCode == http.StatusOK {
		c.t.Fatalf("%s: response %q: %v", method, raw, err)
	}
	return out
}

// ok calls method and fails the test on a JSON-RPC error.
func (c mcpClient) ok(method string, params map[string]any) map[string]any {
	c.t.Helper()
	r := c.rpc(method, params)
	if r.Error != nil || r.Result == nil {
		c.t.Fatalf("%s %v: status %d, error %+v", method, params, r.status, r.Error)
	}
	return r.Result
}

// start starts tool as a task and returns its ID.
func (c mcpClient) start(tool string, args map[string]any) string {
	c.t.Helper()
	params := map[string]any{"name": tool, "arguments": args}
	if c.version < modern {
		params["task"] = map[string]any{}
	}
	res := c.ok("tools/call", params)
	task := res
	if c.version < modern {
		task, _ = res["task"].(map[string]any)
	} else if res["resultType"] != "task" {
		c.t.Fatalf("tools/call %s answered %v, not a task", tool, res)
	}
	id, _ := task["taskId"].(string)
	if id == "" || task["status"] != "working" {
		c.t.Fatalf("tools/call %s: CreateTaskResult %v", tool, res)
	}
	return id
}

// waitFor polls tasks/get until cond holds for its result (60s at most).
func (c mcpClient) waitFor(id string, what string, cond func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last reply
	for time.Now().Before(deadline) {
		last = c.rpc("tasks/get", map[string]any{"taskId": id})
		if last.Error == nil && cond(last.Result) {
			return last.Result
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("task %s: not %s within 60s; last tasks/get: %v %+v", id, what, last.Result, last.Error)
	return nil
}

func (c mcpClient) waitStatus(id, status string) map[string]any {
	c.t.Helper()
	return c.waitFor(id, status, func(r map[string]any) bool { return r["status"] == status })
}

func resultText(t *testing.T, res any) string {
	t.Helper()
	m, _ := res.(map[string]any)
	content, _ := m["content"].([]any)
	var s []string
	for _, c := range content {
		if cm, ok := c.(map[string]any); ok {
			if text, ok := cm["text"].(string); ok {
				s = append(s, text)
			}
		}
	}
	return strings.Join(s, "\n")
}

func toolExecution(t *testing.T, c mcpClient) map[string]any {
	t.Helper()
	list := c.ok("tools/list", nil)
	out := map[string]any{}
	for _, tl := range list["tools"].([]any) {
		m := tl.(map[string]any)
		out[m["name"].(string)] = nil
		if ex, ok := m["execution"].(map[string]any); ok {
			out[m["name"].(string)] = ex["taskSupport"]
		}
	}
	return out
}

func TestTaskCapabilities(t *testing.T) {
	ts := newTaskServer(t, nil)
	legacy := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	init := legacy.ok("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"}})
	caps, _ := json.Marshal(init["capabilities"])
	if !strings.Contains(string(caps), `"tasks":{"cancel":{},"requests":{"tools":{"call":{}}}}`) {
		t.Errorf("2025-11-25 capabilities %s: want tasks with cancel and tools/call, and no list (no authentication)", caps)
	}
	if strings.Contains(string(caps), "extensions") {
		t.Errorf("2025-11-25 capabilities %s carry the 2026 extension", caps)
	}
	old := mcpClient{t: t, url: ts.url, version: "2025-06-18"}
	init = old.ok("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"}})
	if caps, _ := json.Marshal(init["capabilities"]); strings.Contains(string(caps), "tasks") {
		t.Errorf("2025-06-18 capabilities %s offer tasks, which that revision does not have", caps)
	}
	m := mcpClient{t: t, url: ts.url, version: modern}
	disc := m.ok("server/discover", nil)
	caps, _ = json.Marshal(disc["capabilities"])
	if !strings.Contains(string(caps), `"extensions":{"io.modelcontextprotocol/tasks":{}}`) || strings.Contains(string(caps), `"tasks":{`) {
		t.Errorf("2026-07-28 capabilities %s: want the tasks extension and not the legacy capability", caps)
	}
	for _, c := range []mcpClient{legacy, m} {
		ex := toolExecution(t, c)
		if ex["slow.work"] != "optional" || ex["slow.report"] != "required" || ex["hello.greet"] != nil {
			t.Errorf("%s tools/list execution.taskSupport: %v", c.version, ex)
		}
	}

	// A catalog without task tools advertises no tasks.
	url := serveSet(t, &host.Plugin{Name: "hello", Module: module(t, "hello", "./examples/hello")})
	legacy.url, m.url = url, url
	init = legacy.ok("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"}})
	disc = m.ok("server/discover", nil)
	if a, b := mustJSON(init["capabilities"]), mustJSON(disc["capabilities"]); strings.Contains(a+b, "tasks") {
		t.Errorf("no task tools, yet tasks are advertised: %s / %s", a, b)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTaskLegacyLifecycle: 2025-11-25 — create, poll with progress, block
// on tasks/result, and the task stays completed.
func TestTaskLegacyLifecycle(t *testing.T) {
	ts := newTaskServer(t, nil)
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	res := c.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 8, "stepMillis": 150}, "task": map[string]any{"ttl": 60000}})
	task := res["task"].(map[string]any)
	id := task["taskId"].(string)
	// The TTL is never shorter than the task deadline (2m) plus a minute.
	if task["status"] != "working" || task["ttl"] != float64(180000) || task["pollInterval"] != float64(50) || task["createdAt"] == "" || task["lastUpdatedAt"] == "" {
		t.Fatalf("CreateTaskResult task = %v", task)
	}
	if len(id) < 20 {
		t.Fatalf("task id %q is guessable", id)
	}
	got := c.waitFor(id, "reporting progress", func(r map[string]any) bool {
		return r["status"] == "working" && strings.Contains(mustJSON(r["statusMessage"]), "of 8")
	})
	if meta, _ := got["_meta"].(map[string]any); meta["dev.warden/progress"] == nil {
		t.Errorf("a working task's tasks/get lacks its progress in _meta: %v", got)
	}
	out := c.ok("tasks/result", map[string]any{"taskId": id})
	if text := resultText(t, out); text != "done: 8 steps" {
		t.Fatalf("tasks/result = %v", out)
	}
	if meta, _ := out["_meta"].(map[string]any); mustJSON(meta["io.modelcontextprotocol/related-task"]) != `{"taskId":"`+id+`"}` {
		t.Errorf("tasks/result _meta = %v", out["_meta"])
	}
	done := c.ok("tasks/get", map[string]any{"taskId": id})
	if done["status"] != "completed" || done["result"] != nil {
		t.Errorf("tasks/get after the end = %v", done)
	}
	// A terminal task cannot be cancelled.
	if r := c.rpc("tasks/cancel", map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32602 || !strings.Contains(r.Error.Message, "'completed'") {
		t.Errorf("cancelling a completed task: %+v", r.Error)
	}
	// Unknown task IDs are invalid params.
	for _, m := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		if r := c.rpc(m, map[string]any{"taskId": "nosuchtask"}); r.Error == nil || r.Error.Code != -32602 {
			t.Errorf("%s of an unknown task: %+v", m, r.Error)
		}
	}
	// Without authentication, tasks/list is not offered.
	if r := c.rpc("tasks/list", nil); r.Error == nil || r.Error.Code != -32601 {
		t.Errorf("tasks/list without authentication: %v %+v", r.Result, r.Error)
	}
	// One audit line for the task's call, when it ended.
	recs := ts.auditFor(t, id)
	if len(recs) != 1 || recs[0]["outcome"] != "ok" || recs[0]["tool"] != "slow.work" || recs[0]["subject"] != "anonymous" {
		t.Errorf("audit records of the task: %v", recs)
	}
}

// TestTaskModernLifecycle: 2026-07-28 — the server makes a task for a
// client that declares the extension, tasks/get carries the result.
func TestTaskModernLifecycle(t *testing.T) {
	ts := newTaskServer(t, nil)
	c := mcpClient{t: t, url: ts.url, version: modern, declare: true}
	id := c.start("slow.work", map[string]any{"steps": 3, "stepMillis": 50})
	got := c.waitStatus(id, "completed")
	if got["resultType"] != "complete" || got["ttlMs"] == nil || got["pollIntervalMs"] != float64(50) || resultText(t, got["result"]) != "done: 3 steps" {
		t.Fatalf("tasks/get of a completed task = %v", got)
	}
	if meta, _ := got["_meta"].(map[string]any); meta["io.modelcontextprotocol/serverInfo"] == nil {
		t.Errorf("tasks/get _meta lacks serverInfo: %v", got["_meta"])
	}
	// tasks/update is acknowledged (no Warden task asks for input).
	if r := c.ok("tasks/update", map[string]any{"taskId": id, "inputResponses": map[string]any{"x": map[string]any{}}}); r["resultType"] != "complete" {
		t.Errorf("tasks/update = %v", r)
	}
	// tasks/cancel of a finished task is acknowledged, and changes nothing.
	c.ok("tasks/cancel", map[string]any{"taskId": id})
	if got := c.ok("tasks/get", map[string]any{"taskId": id}); got["status"] != "completed" {
		t.Errorf("after cancelling a completed task: %v", got)
	}
	// The required tool, too.
	id = c.start("slow.report", map[string]any{"steps": 2, "stepMillis": 20})
	if got := c.waitStatus(id, "completed"); resultText(t, got["result"]) != "done: 2 steps" {
		t.Errorf("slow.report = %v", got)
	}
	// tasks/result and tasks/list are gone in this era.
	for _, m := range []string{"tasks/result", "tasks/list"} {
		if r := c.rpc(m, map[string]any{"taskId": id}); r.status != http.StatusNotFound || r.Error == nil || r.Error.Code != -32601 {
			t.Errorf("%s on 2026-07-28: %d %+v", m, r.status, r.Error)
		}
	}
	// Unknown task: invalid params (400).
	if r := c.rpc("tasks/get", map[string]any{"taskId": "nosuchtask"}); r.status != http.StatusBadRequest || r.Error == nil || r.Error.Code != -32602 {
		t.Errorf("tasks/get of an unknown task: %d %+v", r.status, r.Error)
	}

	// A client that does not declare the extension gets no task: the
	// optional tool runs now, the required one is refused with -32021,
	// and the task methods too.
	plain := mcpClient{t: t, url: ts.url, version: modern}
	res := plain.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 1, "stepMillis": 10}})
	if res["resultType"] != "complete" || resultText(t, res) != "done: 1 steps" {
		t.Errorf("slow.work without the extension = %v", res)
	}
	for _, call := range []struct {
		method string
		params map[string]any
	}{
		{"tools/call", map[string]any{"name": "slow.report", "arguments": map[string]any{}}},
		{"tasks/get", map[string]any{"taskId": id}},
		{"tasks/cancel", map[string]any{"taskId": id}},
	} {
		r := plain.rpc(call.method, call.params)
		if r.status != http.StatusBadRequest || r.Error == nil || r.Error.Code != -32021 || !strings.Contains(string(r.Error.Data), "io.modelcontextprotocol/tasks") {
			t.Errorf("%s without the extension: %d %+v", call.method, r.status, r.Error)
		}
	}
	// The Mcp-Name header must repeat the task ID.
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"` + id + `","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}}}`
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/mcp", strings.NewReader(body))
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": modern, "Mcp-Method": "tasks/get", "Mcp-Name": "other"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tasks/get with a mismatched Mcp-Name: %d", resp.StatusCode)
	}
}

// TestTaskSupportRules: what each era does with task requests a tool does
// not allow, and with plain calls to a tool that must be a task.
func TestTaskSupportRules(t *testing.T) {
	ts := newTaskServer(t, nil)
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	// required without a task: -32601.
	if r := c.rpc("tools/call", map[string]any{"name": "slow.report", "arguments": map[string]any{}}); r.Error == nil || r.Error.Code != -32601 || !strings.Contains(r.Error.Message, "task") {
		t.Errorf("slow.report without a task: %v %+v", r.Result, r.Error)
	}
	// forbidden with a task: -32601.
	if r := c.rpc("tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "x"}, "task": map[string]any{}}); r.Error == nil || r.Error.Code != -32601 {
		t.Errorf("hello.greet as a task: %v %+v", r.Result, r.Error)
	}
	// optional without a task: an ordinary call.
	if r := c.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 1, "stepMillis": 1}}); resultText(t, r) != "done: 1 steps" {
		t.Errorf("slow.work without a task = %v", r)
	}
	// Bad arguments are refused before any task exists.
	if r := c.rpc("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": "many"}, "task": map[string]any{}}); r.Error == nil || r.Error.Code != -32602 || !strings.Contains(r.Error.Message, "invalid arguments for slow.work: /steps") {
		t.Errorf("bad arguments as a task: %v %+v", r.Result, r.Error)
	}
	m := mcpClient{t: t, url: ts.url, version: modern, declare: true}
	if r := m.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 0.5}}); r["isError"] != true || r["resultType"] != "complete" {
		t.Errorf("bad arguments on 2026-07-28 = %v", r)
	}
	// Revisions before 2025-11-25 have no tasks: the field is ignored.
	old := mcpClient{t: t, url: ts.url, version: "2025-06-18"}
	if r := old.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 1, "stepMillis": 1}, "task": map[string]any{}}); resultText(t, r) != "done: 1 steps" || r["task"] != nil {
		t.Errorf("slow.work with a task field on 2025-06-18 = %v", r)
	}
	if r := old.rpc("tools/call", map[string]any{"name": "slow.report", "arguments": map[string]any{}}); r.Error == nil || r.Error.Code != -32601 {
		t.Errorf("slow.report on 2025-06-18: %v %+v", r.Result, r.Error)
	}
	// A forbidden tool on 2026-07-28 with the extension: an ordinary call.
	if r := m.ok("tools/call", map[string]any{"name": "hello.greet", "arguments": map[string]any{"name": "Ada"}}); resultText(t, r) != "Hello, Ada!" {
		t.Errorf("hello.greet on 2026-07-28 = %v", r)
	}
}

// TestTaskCancelStopsTheGuest: tasks/cancel ends the call at once, and
// the task stays cancelled.
func TestTaskCancelStopsTheGuest(t *testing.T) {
	ts := newTaskServer(t, nil)
	for _, version := range []string{"2025-11-25", modern} {
		t.Run(version, func(t *testing.T) {
			c := mcpClient{t: t, url: ts.url, version: version, declare: true}
			id := c.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
			c.waitFor(id, "reporting progress", func(r map[string]any) bool { return strings.Contains(mustJSON(r["statusMessage"]), "step") })
			cancelled := c.ok("tasks/cancel", map[string]any{"taskId": id})
			if version < modern && (cancelled["status"] != "cancelled" || cancelled["statusMessage"] == nil) {
				t.Errorf("tasks/cancel = %v", cancelled)
			}
			if version >= modern && cancelled["resultType"] != "complete" {
				t.Errorf("tasks/cancel = %v", cancelled)
			}
			// The call ends (its audit line is written) long before its 60s.
			deadline := time.Now().Add(20 * time.Second)
			for len(ts.auditFor(t, id)) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("the cancelled call did not end: audit %v", ts.auditFor(t, id))
				}
				time.Sleep(50 * time.Millisecond)
			}
			outcomes := map[string]bool{}
			for _, rec := range ts.auditFor(t, id) {
				outcomes[rec["method"].(string)+":"+rec["outcome"].(string)] = true
			}
			if !outcomes["tools/call:canceled"] || !outcomes["tasks/cancel:ok"] {
				t.Errorf("audit outcomes %v", outcomes)
			}
			if got := c.ok("tasks/get", map[string]any{"taskId": id}); got["status"] != "cancelled" {
				t.Errorf("after the call ended: %v", got)
			}
			if version < modern {
				if r := c.rpc("tasks/result", map[string]any{"taskId": id}); r.Error == nil || !strings.Contains(r.Error.Message, "cancelled") {
					t.Errorf("tasks/result of a cancelled task: %v %+v", r.Result, r.Error)
				}
			}
		})
	}
}

// TestTaskTimeout: a task runs under the grant's taskTimeout (here 1s,
// less than the call timeout of 30s) and fails with the reason.
func TestTaskTimeout(t *testing.T) {
	ts := newTaskServer(t, slowGrant(t, func(l *capabilities.Limits) { l.TaskTimeout = capabilities.Duration(time.Second) }))
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	id := c.start("slow.work", map[string]any{"steps": 100, "stepMillis": 100})
	got := c.waitStatus(id, "failed")
	if msg, _ := got["statusMessage"].(string); !strings.Contains(msg, "timed out") {
		t.Errorf("statusMessage %q: want the timeout", msg)
	}
	if r := c.rpc("tasks/result", map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32603 || !strings.Contains(r.Error.Message, "timed out") {
		t.Errorf("tasks/result of a failed task: %v %+v", r.Result, r.Error)
	}
	m := mcpClient{t: t, url: ts.url, version: modern, declare: true}
	id = m.start("slow.work", map[string]any{"steps": 100, "stepMillis": 100})
	got = m.waitStatus(id, "failed")
	if e, _ := got["error"].(map[string]any); e["code"] != float64(-32603) || !strings.Contains(mustJSON(e["message"]), "timed out") {
		t.Errorf("failed task on 2026-07-28 = %v", got)
	}
	if recs := ts.auditFor(t, id); len(recs) != 1 || recs[0]["outcome"] != "timeout" {
		t.Errorf("audit: %v", recs)
	}
}

// TestTaskOwners: with authentication, a task belongs to the subject that
// created it; another one cannot see, wait for, list or cancel it.
func TestTaskOwners(t *testing.T) {
	p := newIDP(t)
	ts := newTaskServer(t, nil, func(o *host.Options) {
		o.Auth = &host.AuthConfig{Issuer: testIssuer, Audience: testAudience, JWKSFile: p.jwksFile}
	})
	alice := mcpClient{t: t, url: ts.url, version: "2025-11-25", token: p.token(t, "alice", "", nil)}
	bob := alice
	bob.token = p.token(t, "bob", "", nil)

	init := alice.ok("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "t", "version": "1"}})
	if !strings.Contains(mustJSON(init["capabilities"]), `"list":{}`) {
		t.Errorf("with authentication tasks/list is offered: %s", mustJSON(init["capabilities"]))
	}
	id := alice.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	for _, m := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		r := bob.rpc(m, map[string]any{"taskId": id})
		if r.Error == nil || r.Error.Code != -32602 || !strings.Contains(r.Error.Message, "not found") {
			t.Errorf("bob's %s of alice's task: %v %+v", m, r.Result, r.Error)
		}
	}
	if list := bob.ok("tasks/list", nil); len(list["tasks"].([]any)) != 0 {
		t.Errorf("bob's tasks/list shows %v", list)
	}
	list := alice.ok("tasks/list", nil)
	if tasks := list["tasks"].([]any); len(tasks) != 1 || tasks[0].(map[string]any)["taskId"] != id {
		t.Errorf("alice's tasks/list = %v", list)
	}
	if r := alice.rpc("tasks/list", map[string]any{"cursor": "not-a-cursor"}); r.Error == nil || r.Error.Code != -32602 {
		t.Errorf("tasks/list with a bad cursor: %+v", r.Error)
	}
	mb := mcpClient{t: t, url: ts.url, version: modern, declare: true, token: bob.token}
	if r := mb.rpc("tasks/get", map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32602 {
		t.Errorf("bob's 2026 tasks/get of alice's task: %+v", r.Error)
	}
	if got := alice.ok("tasks/get", map[string]any{"taskId": id}); got["status"] != "working" {
		t.Errorf("alice's task after bob's attempts: %v", got)
	}
	alice.ok("tasks/cancel", map[string]any{"taskId": id})
	recs := ts.auditFor(t, id)
	if len(recs) == 0 || recs[0]["subject"] != "alice" {
		t.Errorf("audit: %v", recs)
	}
}

// TestTaskOpenLimit: a subject may have MaxOpenPerSubject tasks working.
func TestTaskOpenLimit(t *testing.T) {
	ts := newTaskServer(t, nil, func(o *host.Options) { o.Tasks.MaxOpenPerSubject = 2 })
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	a := c.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	c.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	r := c.rpc("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{}, "task": map[string]any{}})
	if r.Error == nil || r.Error.Code != -32000 || !strings.Contains(r.Error.Message, "too many open tasks") {
		t.Fatalf("a third open task: %v %+v", r.Result, r.Error)
	}
	c.ok("tasks/cancel", map[string]any{"taskId": a})
	c.start("slow.work", map[string]any{"steps": 1, "stepMillis": 1})
}

// TestTaskTTL: the TTL a client asks for is capped by MaxTTL and raised to
// the task deadline plus a minute.
func TestTaskTTL(t *testing.T) {
	ts := newTaskServer(t, nil, func(o *host.Options) { o.Tasks.DefaultTTL = 10 * time.Minute; o.Tasks.MaxTTL = time.Hour })
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	for _, tt := range []struct {
		ask  any
		want float64
	}{
		{nil, float64((10 * time.Minute).Milliseconds())},
		{1000, float64((3 * time.Minute).Milliseconds())},
		{(30 * time.Minute).Milliseconds(), float64((30 * time.Minute).Milliseconds())},
		{(48 * time.Hour).Milliseconds(), float64(time.Hour.Milliseconds())},
	} {
		task := map[string]any{}
		if tt.ask != nil {
			task["ttl"] = tt.ask
		}
		res := c.ok("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{"steps": 1, "stepMillis": 1}, "task": task})
		if got := res["task"].(map[string]any)["ttl"]; got != tt.want {
			t.Errorf("ttl asked %v: got %v, want %v", tt.ask, got, tt.want)
		}
	}
}

// TestTaskDrain: a replica shutting down fails its tasks at once, with a
// reason, and starts no new ones.
func TestTaskDrain(t *testing.T) {
	ts := newTaskServer(t, nil)
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}
	id := c.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	ts.s.Drain(t.Context())
	got := c.ok("tasks/get", map[string]any{"taskId": id})
	if msg, _ := got["statusMessage"].(string); got["status"] != "failed" || !strings.Contains(msg, "shutting down") {
		t.Fatalf("after Drain: %v", got)
	}
	if r := c.rpc("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{}, "task": map[string]any{}}); r.Error == nil || !strings.Contains(r.Error.Message, "shutting down") {
		t.Errorf("a task started while draining: %v %+v", r.Result, r.Error)
	}
}

// TestTasksAcrossReplicasInProcess: two Servers sharing one Redis — a task
// started on one is followed, fetched and cancelled on the other.
func TestTasksAcrossReplicasInProcess(t *testing.T) {
	addr, _ := testutil.StartRedis(t)
	var reps []*taskServer
	for _, name := range []string{"a", "b"} {
		reps = append(reps, newTaskServer(t, nil, func(o *host.Options) {
			o.Tasks.Backend, o.Tasks.RedisAddr, o.Tasks.Replica = "redis", addr, "replica-"+name
		}))
	}
	a := mcpClient{t: t, url: reps[0].url, version: "2025-11-25"}
	b := a
	b.url = reps[1].url
	id := a.start("slow.work", map[string]any{"steps": 4, "stepMillis": 100})
	b.waitStatus(id, "completed")
	if out := b.ok("tasks/result", map[string]any{"taskId": id}); resultText(t, out) != "done: 4 steps" {
		t.Errorf("tasks/result on the other replica = %v", out)
	}
	// Cancelled on b, the call on a stops.
	id = a.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	b.waitFor(id, "reporting progress", func(r map[string]any) bool { return strings.Contains(mustJSON(r["statusMessage"]), "step") })
	if got := b.ok("tasks/cancel", map[string]any{"taskId": id}); got["status"] != "cancelled" {
		t.Fatalf("tasks/cancel on b = %v", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(reps[0].auditFor(t, id)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call on replica a did not stop after the task was cancelled on b")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec := reps[0].auditFor(t, id)[0]; rec["outcome"] != "canceled" {
		t.Errorf("replica a's audit of the cancelled call: %v", rec)
	}
	// The 2026 era reads the same records.
	m := mcpClient{t: t, url: reps[1].url, version: modern, declare: true}
	if got := m.ok("tasks/get", map[string]any{"taskId": id}); got["status"] != "cancelled" {
		t.Errorf("2026-07-28 tasks/get on b = %v", got)
	}
	// Redis gone: the call running on a stops once its lease has run out
	// (readers would fail the task anyway), and requests get an internal
	// error that says so.
	id = a.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	testutil.StopRedis(t, addr)
	deadline = time.Now().Add(30 * time.Second)
	for len(reps[0].auditFor(t, id)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call on replica a kept running after Redis went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec := reps[0].auditFor(t, id)[0]; rec["outcome"] != "canceled" || !strings.Contains(mustJSON(rec["error"]), "lost the task store") {
		t.Errorf("replica a's audit of the call that lost Redis: %v", rec)
	}
	if r := b.rpc("tasks/get", map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32603 || !strings.Contains(r.Error.Message, "task store is unavailable") {
		t.Errorf("tasks/get without Redis: %v %+v", r.Result, r.Error)
	}
	if r := a.rpc("tools/call", map[string]any{"name": "slow.work", "arguments": map[string]any{}, "task": map[string]any{}}); r.Error == nil || r.Error.Code != -32603 || !strings.Contains(r.Error.Message, "unavailable") {
		t.Errorf("a task started without Redis: %v %+v", r.Result, r.Error)
	}
}

// TestTaskExpiry: a task and its result are gone after the TTL; a task
// whose replica stopped renewing its lease is failed by the next reader,
// and the call still running is stopped.
func TestTaskExpiry(t *testing.T) {
	ts := newTaskServer(t, nil)
	var mu sync.Mutex
	skew := time.Duration(0)
	host.UseTaskClock(ts.s, func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) })
	advance := func(d time.Duration) { mu.Lock(); skew += d; mu.Unlock() }
	c := mcpClient{t: t, url: ts.url, version: "2025-11-25"}

	id := c.start("slow.work", map[string]any{"steps": 1, "stepMillis": 1})
	c.waitStatus(id, "completed")
	advance(time.Hour + time.Minute) // the default TTL
	for _, m := range []string{"tasks/get", "tasks/result"} {
		if r := c.rpc(m, map[string]any{"taskId": id}); r.Error == nil || r.Error.Code != -32602 {
			t.Errorf("%s after the TTL: %v %+v", m, r.Result, r.Error)
		}
	}

	// The runner takes its leases from the real clock: back to it.
	mu.Lock()
	skew = 0
	mu.Unlock()
	id = c.start("slow.work", map[string]any{"steps": 600, "stepMillis": 100})
	c.waitFor(id, "reporting progress", func(r map[string]any) bool { return strings.Contains(mustJSON(r["statusMessage"]), "step") })
	advance(time.Minute) // past the lease, as if this replica had died
	got := c.ok("tasks/get", map[string]any{"taskId": id})
	if msg, _ := got["statusMessage"].(string); got["status"] != "failed" || !strings.Contains(msg, "stopped renewing its lease") {
		t.Fatalf("a task whose lease ran out: %v", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(ts.auditFor(t, id)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call went on after its task was failed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec := ts.auditFor(t, id)[0]; rec["outcome"] != "canceled" {
		t.Errorf("audit of the stopped call: %v", rec)
	}
}
