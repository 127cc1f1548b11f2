package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/testutil"
	"github.com/wardenmcp/warden/plugins"
)

// progressLog collects the reports of a call.
type progressLog struct {
	mu      sync.Mutex
	reports []plugins.Progress
}

func (l *progressLog) add(p plugins.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports = append(l.reports, p)
}

func (l *progressLog) get() []plugins.Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]plugins.Progress(nil), l.reports...)
}

func TestSlowTaskSupport(t *testing.T) {
	p := load(t, "./examples/slow", "slow")
	got := map[string]plugins.TaskSupport{}
	for _, tool := range p.Tools() {
		got[tool.Name] = tool.TaskSupport
	}
	if want := map[string]plugins.TaskSupport{"work": plugins.TaskOptional, "report": plugins.TaskRequired}; !reflect.DeepEqual(got, want) {
		t.Errorf("task support %v, want %v", got, want)
	}
	work, _ := p.Tool("work")
	if !strings.Contains(string(work.Definition), `"execution":{"taskSupport":"optional"}`) {
		t.Errorf("work's definition %s lacks its execution object", work.Definition)
	}
	// A tool that declares nothing is forbidden.
	hello := load(t, "./examples/hello", "hello")
	if greet, _ := hello.Tool("greet"); greet.TaskSupport != plugins.TaskForbidden {
		t.Errorf("greet: TaskSupport = %q, want forbidden", greet.TaskSupport)
	}
}

func TestSlowProgress(t *testing.T) {
	p := load(t, "./examples/slow", "slow")
	var log progressLog
	res := mustCall(t, p, "work", `{"steps":3,"stepMillis":1}`, &plugins.Sandbox{Progress: log.add})
	if got := text(t, res); got != "done: 3 steps" {
		t.Errorf("result %q", got)
	}
	want := []plugins.Progress{
		{Progress: 1, Total: 3, Message: "step 1 of 3"},
		{Progress: 2, Total: 3, Message: "step 2 of 3"},
		{Progress: 3, Total: 3, Message: "step 3 of 3"},
	}
	if got := log.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("progress %+v\nwant %+v", got, want)
	}
	// Without a Progress function the reports are dropped; the call is
	// unaffected.
	if got := text(t, mustCall(t, p, "report", `{"steps":2,"stepMillis":1}`, nil)); got != "done: 2 steps" {
		t.Errorf("report without Progress: %q", got)
	}
	// Each call starts afresh: a second call's first report (1) is not
	// compared with the first call's last (3).
	var again progressLog
	mustCall(t, p, "work", `{"steps":1,"stepMillis":1}`, &plugins.Sandbox{Progress: again.add})
	if got := again.get(); len(got) != 1 || got[0].Progress != 1 {
		t.Errorf("second call's progress %+v", got)
	}
}

func TestProgressReportsChecked(t *testing.T) {
	p := load(t, "./plugins/testdata/progress", "progress")
	reports := []string{
		`{"progress":1,"total":4,"message":"first"}`,
		`{"progress":1,"total":4,"message":"same again"}`, // not greater: dropped
		`{"progress":0.5,"message":"backwards"}`,          // dropped
		`{"progress":2,"total":4,"message":`,              // bad JSON
		`{"progress":1e999}`,                              // out of range
		`{"total":4,"message":"no progress"}`,             // missing progress
		`{"progress":"3"}`,                                // not a number
		`{"progress":3,"total":-1}`,
		`{"progress":3,"message":["not","a","string"]}`, // negative total
		``, // offset 0
		"{\"progress\":2.5,\"message\":\"key=s3cr3t \\u001b[31mred\"}", // kept, masked, escaped
		`{"progress":3,"total":4,"extra":true}`,                        // unknown fields are ignored
	}
	args, _ := json.Marshal(map[string]any{"reports": reports})
	var log progressLog
	var buf testutil.Buffer
	sb := &plugins.Sandbox{
		Progress: log.add,
		Redactor: capabilities.NewRedactor(map[string]string{"API_KEY": "s3cr3t"}),
		Log:      newJSONLogger(&buf),
	}
	if got := text(t, mustCall(t, p, "raw", string(args), sb)); got != "sent 12" {
		t.Fatalf("raw: %q", got)
	}
	want := []plugins.Progress{
		{Progress: 1, Total: 4, Message: "first"},
		{Progress: 2.5, Message: `key=[REDACTED:API_KEY] \u001b[31mred`},
		{Progress: 3, Total: 4},
	}
	if got := log.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("delivered %+v\nwant %+v", got, want)
	}
	logs := buf.String()
	if strings.Contains(logs, "s3cr3t") {
		t.Errorf("the secret reached the log:\n%s", logs)
	}
	for _, why := range []string{
		"progress 1 is not greater than the previous report's 1 (MCP requires progress to increase)",
		"progress 0.5 is not greater than the previous report's 1",
		"the report is not the JSON object",
		`\"progress\" is number 1e999; want a finite number`,
		`the report has no \"progress\" number`,
		`\"progress\" is string; want a finite number`,
		"total -1 is negative",
		`\"message\" is array; want a string`,
		"the report is the empty block 0",
	} {
		if !strings.Contains(logs, why) {
			t.Errorf("no warning saying %q in the log:\n%s", why, logs)
		}
	}
	if n := strings.Count(logs, `"msg":"plugin progress dropped"`); n != 9 {
		t.Errorf("%d warnings, want 9:\n%s", n, logs)
	}
	if n := strings.Count(logs, `"level":"WARN"`); n != 9 {
		t.Errorf("%d warn-level lines, want 9", n)
	}
}

func TestProgressThroughSDK(t *testing.T) {
	p := load(t, "./plugins/testdata/progress", "progress")
	if say, _ := p.Tool("say"); say.TaskSupport != plugins.TaskRequired {
		t.Errorf("say: TaskSupport = %q", say.TaskSupport)
	}
	long := strings.Repeat("ü", 600)
	args, _ := json.Marshal(map[string]any{"reports": []map[string]any{
		{"progress": 0.25, "message": "token hunter2 used"},
		{"progress": 0.75, "total": 1, "message": long},
		{"progress": 0.5, "total": 1, "message": "late"},
	}})
	var log progressLog
	sb := &plugins.Sandbox{Progress: log.add, Redactor: capabilities.NewRedactor(map[string]string{"PASSWORD": "hunter2"})}
	mustCall(t, p, "say", string(args), sb)
	got := log.get()
	if len(got) != 2 {
		t.Fatalf("delivered %+v, want 2 reports", got)
	}
	if got[0] != (plugins.Progress{Progress: 0.25, Message: "token [REDACTED:PASSWORD] used"}) {
		t.Errorf("first report %+v", got[0])
	}
	if m := got[1].Message; len(m) > plugins.MaxProgressMessage || !strings.HasSuffix(m, "…") || !strings.HasPrefix(m, "üüü") {
		t.Errorf("long message not capped: %d bytes", len(m))
	}
}

func TestSlowCancel(t *testing.T) {
	p := load(t, "./examples/slow", "slow")
	args := `{"steps":10,"stepMillis":1000}`
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var log progressLog
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Call(ctx, "work", json.RawMessage(args), &plugins.Sandbox{Progress: log.add})
		d := time.Since(start)
		if !errors.Is(err, plugins.ErrCanceled) && !errors.Is(err, plugins.ErrTimeout) {
			t.Fatalf("err = %v, want ErrCanceled or ErrTimeout", err)
		}
		if d > 3*time.Second {
			t.Errorf("the call ended %v after it started; want well under the 10 s it would take", d)
		}
		if got := log.get(); len(got) != 0 {
			t.Errorf("reports after 300 ms of 1 s steps: %+v", got)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		_, err := p.Call(context.Background(), "work", json.RawMessage(args),
			&plugins.Sandbox{Limits: capabilities.Limits{Timeout: capabilities.Duration(300 * time.Millisecond)}})
		if !errors.Is(err, plugins.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the call ended after %v", d)
		}
	})
}

func TestUserImportsChecked(t *testing.T) {
	rt := runtime(t)
	tests := []struct {
		name string
		imp  imp
		msg  string
	}{
		{"unknown user function", imp{"extism:host/user", "launch", nil, nil}, "extism:host/user.launch (Warden does not provide this function)"},
		{"wrong progress signature", imp{"extism:host/user", "warden_progress", []byte{i32}, nil}, "extism:host/user.warden_progress has type (i32) -> (); Warden provides (i64) -> ()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Load(context.Background(), "bad", module([]imp{tt.imp}, nil))
			if !errors.Is(err, plugins.ErrInvalidModule) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrInvalidModule mentioning %q", err, tt.msg)
			}
		})
	}
}
