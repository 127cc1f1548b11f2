package plugins

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckToolExecution(t *testing.T) {
	tests := []struct {
		name, execution string // execution: the value of "execution", or "" for none
		want            TaskSupport
		err             string
	}{
		{"absent", "", TaskForbidden, ""},
		{"null", `null`, TaskForbidden, ""},
		{"empty object", `{}`, TaskForbidden, ""},
		{"null taskSupport", `{"taskSupport":null}`, TaskForbidden, ""},
		{"forbidden", `{"taskSupport":"forbidden"}`, TaskForbidden, ""},
		{"optional", `{"taskSupport":"optional"}`, TaskOptional, ""},
		{"required", `{"taskSupport":"required"}`, TaskRequired, ""},
		{"other fields kept", `{"taskSupport":"optional","future":1}`, TaskOptional, ""},
		{"unknown value", `{"taskSupport":"sometimes"}`, "", `tool "x": execution.taskSupport is "sometimes"; want forbidden, optional or required`},
		{"wrong case", `{"taskSupport":"Optional"}`, "", `execution.taskSupport is "Optional"`},
		{"number", `{"taskSupport":1}`, "", `tool "x": execution.taskSupport is a number; want forbidden, optional or required`},
		{"not an object", `"optional"`, "", `tool "x": execution is "optional"; want a JSON object`},
		{"array", `[]`, "", `tool "x": execution is an array; want a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := `{"name":"x","inputSchema":{"type":"object"}`
			if tt.execution != "" {
				def += `,"execution":` + tt.execution
			}
			def += `}`
			tool, err := checkTool(json.RawMessage(def))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tool.TaskSupport != tt.want {
				t.Errorf("TaskSupport = %q, want %q", tool.TaskSupport, tt.want)
			}
			if string(tool.Definition) != def {
				t.Errorf("Definition = %s, want it as declared", tool.Definition)
			}
		})
	}
}

func TestProgressMessage(t *testing.T) {
	red := strings.NewReplacer("s3cr3t", "***")
	tests := []struct{ name, in, want string }{
		{"plain", "step 1 of 3", "step 1 of 3"},
		{"secret", "token s3cr3t here", "token *** here"},
		{"control characters", "a\x1b[31mb\rc\td\\", `a\u001b[31mb\u000dc` + "\t" + `d\\`},
		{"exactly the cap", strings.Repeat("x", MaxProgressMessage), strings.Repeat("x", MaxProgressMessage)},
	}
	for _, tt := range tests {
		if got := progressMessage(tt.in, red); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// Longer messages are cut at the cap, between escaped characters, and
	// a secret straddling the cut is masked before the cut.
	tests = []struct{ name, in, want string }{
		{"runes", strings.Repeat("é", 400), strings.Repeat("é", 254)},
		{"escapes", strings.Repeat("\x1b", 200), strings.Repeat(`\u001b`, 84)},
		{"backslashes", strings.Repeat(`a\`, 300), strings.Repeat(`a\\`, 169) + "a"},
		{"secret at the cut", strings.Repeat("x", 507) + "s3cr3t" + "yyyy", strings.Repeat("x", 507) + "**"},
	}
	for _, tt := range tests {
		got := progressMessage(tt.in, red)
		if len(got) > MaxProgressMessage || !utf8.ValidString(got) || got != tt.want+"…" {
			t.Errorf("%s: cut to %d bytes, ending %q; want %d bytes ending %q", tt.name, len(got), got[max(0, len(got)-24):], len(tt.want+"…"), (tt.want + "…")[max(0, len(tt.want)-21):])
		}
	}
}
