package sdk

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestProgressReport(t *testing.T) {
	h := &fakeHost{}
	useHost(t, h)
	Progress(1, 10, "step 1 of 10")
	Progress(2.5, 0, "")
	Progress(3, 10, "quote \" backslash \\ newline \n tab \t <html> \u2028 é")
	Progress(1e21, 1e300, "big")
	Progress(-0.125, 0, "negative")
	want := []string{
		`{"progress":1,"total":10,"message":"step 1 of 10"}`,
		`{"progress":2.5,"total":0,"message":""}`,
		`{"progress":3,"total":10,"message":"quote \" backslash \\ newline \n tab \t <html> \u2028 é"}`,
		`{"progress":1e+21,"total":1e+300,"message":"big"}`,
		`{"progress":-0.125,"total":0,"message":"negative"}`,
	}
	if len(h.reports) != len(want) {
		t.Fatalf("reports %q", h.reports)
	}
	for i, w := range want {
		if h.reports[i] != w {
			t.Errorf("report %d = %s, want %s", i, h.reports[i], w)
		}
		var v struct {
			Progress, Total *float64
			Message         *string
		}
		if err := json.Unmarshal([]byte(h.reports[i]), &v); err != nil || v.Progress == nil || v.Total == nil || v.Message == nil {
			t.Errorf("report %d is not the JSON object the host expects: %v", i, err)
		}
	}
}

func TestProgressNonFinite(t *testing.T) {
	h := &fakeHost{}
	useHost(t, h)
	Progress(math.NaN(), 1, "nan")
	Progress(1, math.Inf(1), "inf")
	Progress(math.Inf(-1), 0, "-inf")
	if len(h.reports) != 0 {
		t.Errorf("non-finite reports reached the host: %q", h.reports)
	}
	if len(h.logs) != 3 || !strings.HasPrefix(h.logs[0], "W sdk: progress report dropped") {
		t.Errorf("logs %q, want three warnings", h.logs)
	}
}

func TestProgressWithoutHost(t *testing.T) {
	useHost(t, nil)
	Progress(1, 2, "nowhere") // must not panic
}

func TestTaskSupportDefinition(t *testing.T) {
	r := &registry{}
	for _, ts := range []TaskSupport{"", TaskForbidden, TaskOptional, TaskRequired} {
		name := "t_" + string(ts)
		addTool(r, Tool{Name: name, TaskSupport: ts}, func(c *Context, _ struct{}) (*Result, error) {
			return Text("ok"), nil
		})
	}
	out, err := r.dispatch("list_tools", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tools []map[string]json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	want := []string{"", `{"taskSupport":"forbidden"}`, `{"taskSupport":"optional"}`, `{"taskSupport":"required"}`}
	for i, w := range want {
		got, ok := list.Tools[i]["execution"]
		if w == "" {
			if ok {
				t.Errorf("tool %d: execution %s, want none", i, got)
			}
			continue
		}
		if string(got) != w {
			t.Errorf("tool %d: execution %s, want %s", i, got, w)
		}
	}
	// The tool list of an undeclared tool is unchanged.
	if !strings.Contains(string(out), `{"name":"t_","inputSchema":{"type":"object","properties":{},"additionalProperties":false}}`) {
		t.Errorf("tool list %s", out)
	}
}

func TestTaskSupportInvalid(t *testing.T) {
	r := &registry{}
	addTool(r, Tool{Name: "x", TaskSupport: "sometimes"}, func(c *Context, _ struct{}) (*Result, error) {
		return Text("ok"), nil
	})
	for _, export := range []string{"list_tools", "call_tool"} {
		_, err := r.dispatch(export, []byte(v2("x", "{}")))
		want := `tool "x": TaskSupport is "sometimes"; want sdk.TaskForbidden, sdk.TaskOptional, sdk.TaskRequired or empty`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %s", export, err, want)
		}
	}
}
