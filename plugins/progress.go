package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// userEnvModule is the import module of host functions outside the Extism
// ABI: Extism hosts give every user-defined host function this module name.
const userEnvModule = "extism:host/user"

// Progress is a progress report from a running call.
type Progress struct {
	Progress float64
	Total    float64 // 0 when unknown
	Message  string
}

// Bounds on a progress report.
const (
	// MaxProgressMessage caps a report's message (after masking and
	// escaping); a longer one is cut and ends with "…".
	MaxProgressMessage = 512
	// maxProgressReport caps the JSON a guest may hand to warden_progress;
	// larger reports are dropped. It is far above what a 512-byte message
	// needs, and the message is masked before it is cut, so that a cut
	// never leaves part of a secret behind.
	maxProgressReport = 16 << 10
)

// userFuncs is the extism:host/user surface Warden provides.
var userFuncs = []hostFunc{
	// warden_progress(report i64): report is a block holding the JSON
	// object {"progress": n, "total": n, "message": "..."}.
	{"warden_progress", []api.ValueType{i64}, nil, func(st *callState, s []uint64) { st.progress(s[0]) }},
}

var userFuncIndex = funcIndex(userFuncs)

// instantiateUserEnv instantiates the extism:host/user module.
func instantiateUserEnv(ctx context.Context, wz wazero.Runtime) error {
	return instantiateFuncs(ctx, wz, userEnvModule, userFuncs)
}

// progressReport is the JSON a guest passes to warden_progress.
type progressReport struct {
	Progress *float64 `json:"progress"`
	Total    *float64 `json:"total"`
	Message  string   `json:"message"`
}

// progress checks one report and hands it to the sandbox. A report that
// cannot be used is dropped with a warning in the plugin log, never a trap:
// progress is advisory, and a plugin should not fail over it. An offset
// that is not a block traps, as it does for every host function.
func (st *callState) progress(off uint64) {
	sb := st.sandbox
	if sb == nil || sb.Progress == nil {
		return
	}
	if off == 0 {
		st.dropProgress("the report is the empty block 0")
		return
	}
	raw := st.block(off)
	if len(raw) > maxProgressReport {
		st.dropProgress(fmt.Sprintf("the report is %d bytes; at most %d are allowed", len(raw), maxProgressReport))
		return
	}
	var r progressReport
	if err := json.Unmarshal(raw, &r); err != nil {
		st.dropProgress(reportProblem(raw, err))
		return
	}
	if r.Progress == nil {
		st.dropProgress(`the report has no "progress" number`)
		return
	}
	p, total := *r.Progress, 0.0
	if r.Total != nil {
		total = *r.Total
	}
	switch {
	case !finite(p) || !finite(total):
		st.dropProgress(fmt.Sprintf("progress %g and total %g must be finite", p, total))
		return
	case total < 0:
		st.dropProgress(fmt.Sprintf("total %g is negative (0 means unknown)", total))
		return
	}
	if st.progressSeen && p <= st.lastProgress {
		st.dropProgress(fmt.Sprintf("progress %g is not greater than the previous report's %g (MCP requires progress to increase)", p, st.lastProgress))
		return
	}
	st.lastProgress, st.progressSeen = p, true
	sb.Progress(Progress{Progress: p, Total: total, Message: progressMessage(r.Message, sb.Redactor)})
}

// reportProblem says why raw is not a usable report.
func reportProblem(raw []byte, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := "a finite number"
		if te.Field == "message" {
			want = "a string"
		}
		return fmt.Sprintf("%q is %s; want %s", te.Field, te.Value, want)
	}
	const max = 80
	found := string(raw)
	if len(found) > max {
		found = found[:max] + "…"
	}
	return fmt.Sprintf(`the report is not the JSON object {"progress": n, "total": n, "message": "..."}: %v; found %s`, err, found)
}

func (st *callState) dropProgress(why string) {
	st.logs.record(slog.LevelWarn, "plugin progress dropped", []byte("warden_progress: "+why))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// progressMessage masks the secrets in msg, escapes it as plugin log
// messages are escaped and caps it at MaxProgressMessage bytes, cutting
// between escaped characters.
func progressMessage(msg string, redactor *strings.Replacer) string {
	if redactor != nil {
		msg = redactor.Replace(msg)
	}
	out := escape([]byte(msg))
	if len(out) <= MaxProgressMessage {
		return out
	}
	const more = "…"
	var b strings.Builder
	for i := 0; i < len(msg); {
		_, size := utf8.DecodeRuneInString(msg[i:])
		piece := escape([]byte(msg[i : i+size]))
		if b.Len()+len(piece)+len(more) > MaxProgressMessage {
			break
		}
		b.WriteString(piece)
		i += size
	}
	b.WriteString(more)
	return b.String()
}
