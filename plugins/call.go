package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/plugins/internal/kernel"
)

// Result is a tool call's outcome as the plugin returned it.
type Result struct {
	// JSON is the MCP CallToolResult object, with secrets redacted.
	JSON json.RawMessage
	// IsError is the result's isError flag: the tool ran and reported a
	// failure the model should see.
	IsError bool
	Stats   Stats
}

// Stats measures one call.
type Stats struct {
	Instantiate time.Duration // creating the instance and running its initializer
	Execute     time.Duration // running the export
	// Reused: the instance had served earlier calls and was reset to the
	// plugin's memory image for this one (see WithRecycling).
	Reused      bool
	MemoryBytes int64 // peak linear memory plus host memory
	InputBytes  int
	OutputBytes int
}

// Call runs tool with args (a JSON object; empty means {}) in a fresh
// instance confined to sb. A nil error means the plugin returned a result,
// which may still have IsError set; otherwise the error is a *CallError.
func (p *Plugin) Call(ctx context.Context, tool string, args json.RawMessage, sb *Sandbox) (*Result, error) {
	if sb == nil {
		sb = &Sandbox{}
	}
	if _, ok := p.toolIndex[tool]; !ok {
		names := make([]string, len(p.tools))
		for i, t := range p.tools {
			names[i] = t.Name
		}
		return nil, &CallError{Plugin: p.name, Tool: tool, Kind: ErrUnknownTool, Detail: "the plugin's tools are " + listOrNone(names)}
	}
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	if !json.Valid(args) || args[0] != '{' {
		return nil, &CallError{Plugin: p.name, Tool: tool, Kind: ErrBadArguments, Detail: "want a JSON object, found " + snippet(args)}
	}
	var input []byte
	if p.abi == ABIv1 {
		input = marshalJSON(map[string]any{"params": map[string]any{"name": tool, "arguments": args}})
	} else {
		input = marshalJSON(map[string]any{"request": map[string]any{"name": tool, "arguments": args}, "context": map[string]any{}})
	}
	out, stats, err := p.execute(ctx, p.abi.callExport(), input, sb, tool)
	if err != nil {
		return nil, err
	}
	res, err := checkCallResult(out)
	if err != nil {
		return nil, &CallError{Plugin: p.name, Tool: tool, Kind: ErrBadOutput, Detail: err.Error()}
	}
	res.Stats = stats
	res.Stats.OutputBytes = len(res.JSON)
	return res, nil
}

// execute runs export in a fresh instance under admission control and
// masks secrets in its output (run masks them in its errors).
func (p *Plugin) execute(ctx context.Context, export string, input []byte, sb *Sandbox, label string) ([]byte, Stats, error) {
	if err := p.admit(ctx, label); err != nil {
		return nil, Stats{}, err
	}
	defer p.rt.calls.leave()
	// The plugin's slot is given back when the call's instance is closed
	// or, when it is recycled, reset: a call waiting for a slot then finds
	// a ready instance instead of making one, and the instances alive stay
	// bounded by the plugin's concurrency.
	out, stats, err := p.run(ctx, export, input, sb, label, p.calls.leave)
	if err == nil && sb.Redactor != nil {
		out = []byte(sb.Redactor.Replace(string(out)))
	}
	return out, stats, err
}

// busyRetry is the retry hint given with ErrBusy: long enough for a slot
// to free up under a typical call duration, short enough not to stall.
const busyRetry = time.Second

// admit takes a per-plugin slot, then a host-wide one; waiting for the
// plugin's own slot first keeps a busy plugin from holding host slots.
func (p *Plugin) admit(ctx context.Context, tool string) error {
	refuse := func(err error) error {
		if errors.Is(err, ErrBusy) {
			return &CallError{Plugin: p.name, Tool: tool, Kind: ErrBusy, RetryAfter: busyRetry,
				Detail: fmt.Sprintf("the queue is full; retry in %s", busyRetry)}
		}
		return &CallError{Plugin: p.name, Tool: tool, Kind: ErrCanceled, Detail: "the caller went away while the call was queued", Err: err}
	}
	if err := p.calls.enter(ctx); err != nil {
		return refuse(err)
	}
	if err := p.rt.calls.enter(ctx); err != nil {
		p.calls.leave()
		return refuse(err)
	}
	return nil
}

func checkCallResult(out []byte) (*Result, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(out, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("want a CallToolResult JSON object, found %s", snippet(out))
	}
	res := &Result{JSON: out}
	if c, ok := fields["content"]; ok && string(bytes.TrimSpace(c)) != "null" {
		var content []map[string]any
		if err := json.Unmarshal(c, &content); err != nil {
			return nil, fmt.Errorf("content: want an array of content objects, found %s", snippet(c))
		}
		for i, item := range content {
			if _, ok := item["type"].(string); !ok {
				return nil, fmt.Errorf("content[%d]: missing its \"type\"", i)
			}
		}
	} else {
		fields["content"] = json.RawMessage("[]")
		res.JSON = marshalJSON(fields)
	}
	if e, ok := fields["isError"]; ok && string(e) != "null" {
		if err := json.Unmarshal(e, &res.IsError); err != nil {
			return nil, fmt.Errorf("isError: want a boolean, found %s", snippet(e))
		}
	}
	if sc, ok := fields["structuredContent"]; ok && string(sc) != "null" {
		if bytes.TrimSpace(sc)[0] != '{' {
			return nil, fmt.Errorf("structuredContent: want a JSON object, found %s", snippet(sc))
		}
	}
	return res, nil
}

func snippet(b []byte) string {
	const max = 80
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "nothing"
	}
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// callState is what the host functions of one instance see.
type callState struct {
	ctx         context.Context
	plugin      string
	arena       *kernel.Arena
	budget      *budget
	limits      capabilities.Limits
	sandbox     *Sandbox
	logs        *pluginLog
	output      []byte
	outputSet   bool
	errMsg      string
	errSet      bool
	vars        map[string][]byte
	varBytes    int
	lastStatus  int32
	lastHeaders map[string]string
	abort       error // the first failure a host function detected
	callerCtx   context.Context
	stderrTail  *lastWords
	hostCalls   int    // host functions called; a pooled initialiser must make none
	written     uint64 // regions of guest memory WASI functions wrote (wasiWrites)
	// lastProgress is the call's last progress report, which the next
	// must exceed (progressSeen: there was one).
	lastProgress float64
	progressSeen bool
}

// budget is the memory one call may use: the guest's linear memory and its
// host-side Extism memory together.
type budget struct {
	limit, used, peak int64
	refused           bool
}

func (b *budget) Grow(delta int64) bool {
	if b.used+delta > b.limit {
		b.refused = true
		return false
	}
	b.used += delta
	if b.used > b.peak {
		b.peak = b.used
	}
	return true
}

// lastWords keeps the beginning and the end of the guest's stderr, where a
// Go plugin prints why it died: the "panic:" or "fatal error:" line comes
// first, followed by a stack trace that can run for pages.
type lastWords struct{ head, tail []byte }

const lastWordsBytes = 2048

func (t *lastWords) Write(p []byte) (int, error) {
	if room := lastWordsBytes - len(t.head); room > 0 {
		t.head = append(t.head, p[:min(room, len(p))]...)
	}
	t.tail = append(t.tail, p...)
	if len(t.tail) > lastWordsBytes {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-lastWordsBytes:]...)
	}
	return len(p), nil
}

// reason is the most telling line: a Go panic or fatal error line when
// there is one, else the last non-empty line.
func (t *lastWords) reason() string {
	for _, buf := range [][]byte{t.head, t.tail} {
		for _, l := range strings.Split(string(buf), "\n") {
			if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
				return escape([]byte(strings.TrimSpace(l)))
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(string(t.tail)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return escape([]byte(l))
		}
	}
	return ""
}

// outOfMemory reports whether the guest said it ran out of memory. The Go
// runtime asks for large blocks in one memory.grow, which wazero refuses
// against the module's maximum before our allocator sees it.
func (t *lastWords) outOfMemory() bool {
	return strings.Contains(t.reason(), "out of memory")
}

type multiWriter []interface{ Write([]byte) (int, error) }

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		w.Write(p)
	}
	return len(p), nil
}

// run instantiates the module, runs export with input and returns what the
// guest passed to output_set. Secrets are masked in its error, as in its
// output: a plugin could otherwise leak one through error_set or a panic.
// release is called once the call's instance is closed or reset.
func (p *Plugin) run(ctx context.Context, export string, input []byte, sb *Sandbox, tool string, release func()) ([]byte, Stats, error) {
	out, stats, err := p.runUnredacted(ctx, export, input, sb, tool, release)
	var ce *CallError
	if err != nil && sb.Redactor != nil && errors.As(err, &ce) {
		red := *ce
		red.Detail = sb.Redactor.Replace(ce.Detail)
		if ce.Err != nil {
			red.Err = redactedError{msg: sb.Redactor.Replace(ce.Err.Error()), err: ce.Err}
		}
		return out, stats, &red
	}
	return out, stats, err
}

// redactedError shows a masked message but keeps the chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func (p *Plugin) runUnredacted(ctx context.Context, export string, input []byte, sb *Sandbox, tool string, release func()) ([]byte, Stats, error) {
	handedOff := false // release is the recycler's to call
	defer func() {
		if !handedOff {
			release()
		}
	}()
	stats := Stats{InputBytes: len(input)}
	limits := p.rt.EffectiveLimits(sb.Limits)
	if sb.Task {
		limits.Timeout = limits.TaskTimeout
	}
	cerr := func(kind error, detail string, err error) *CallError {
		return &CallError{Plugin: p.name, Tool: tool, Kind: kind, Detail: detail, Err: err}
	}
	if int64(p.minMemory) > int64(limits.Memory) {
		return nil, stats, cerr(ErrMemoryLimit, fmt.Sprintf("the module needs %s of memory to start; the limit is %s", capabilities.Size(p.minMemory), limits.Memory), nil)
	}
	callerCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, time.Duration(limits.Timeout))
	defer cancel()

	st := &callState{ctx: ctx, callerCtx: callerCtx, plugin: p.name, limits: limits, sandbox: sb}
	st.logs = newPluginLog(ctx, sb, p.name, tool)
	defer st.logs.finish()
	stdout := st.logs.stream("stdout", slog.LevelInfo)
	stderr := st.logs.stream("stderr", slog.LevelWarn)
	defer stdout.flush()
	defer stderr.flush()

	start := time.Now()
	key := poolKey{memory: limits.Memory, mounts: mountsKey(sb.Mounts)}
	inst := p.pool.take(key)
	if inst != nil {
		// Made ahead of time, or reset to the image after an earlier call:
		// either way it is new to the guest, and the call gets a host
		// memory of its own.
		st.budget = inst.budget
		st.arena = kernel.New(inst.budget)
		st.stderrTail = &inst.tail
	} else {
		var err error
		inst, err = p.newInstance(ctx, st, int64(limits.Memory), sb.Mounts, instanceOptions{})
		if err != nil {
			var ce *CallError
			if errors.As(err, &ce) {
				return nil, stats, err
			}
			return nil, stats, cerr(ErrDenied, err.Error(), err)
		}
		p.pool.count(key, inst)
	}
	recycle := false
	defer func() {
		if recycle {
			handedOff = true
			go func() {
				defer release()
				p.recycle(key, inst)
			}()
		} else {
			inst.close()
		}
	}()
	p.pool.refill(p, key, limits, sb.Mounts)
	p.ensureImage(key.mounts, sb.Mounts)
	inst.bind(ctx, stdout, stderr)
	if err := st.arena.SetInput(input); err != nil {
		return nil, stats, cerr(ErrMemoryLimit, "the call's input does not fit: "+err.Error(), err)
	}
	stats.Instantiate = time.Since(start)
	stats.Reused = inst.uses > 0

	ictx := context.WithValue(ctx, stateKey{}, st)
	start = time.Now()
	res, interrupted, err := inst.call(ictx, inst.function(export))
	inst.written = st.written
	stats.Execute = time.Since(start)
	stats.MemoryBytes = st.budget.peak
	// Only a call that returned without its interrupt flag raised: a
	// raised flag would stop the next call at its first instruction.
	recycle = err == nil && !interrupted && inst.img != nil && len(sb.Mounts) == 0 &&
		p.recycleAllowed() && p.pool.startRecycling(key)
	if err != nil {
		return nil, stats, p.classify(ictx, st, tool, export, err)
	}
	if rc := int32(res[0]); rc != 0 {
		msg := escape([]byte(st.errMsg))
		if !st.errSet || msg == "" {
			msg = fmt.Sprintf("export %s returned %d without an error message", export, rc)
			if r := st.stderrTail.reason(); r != "" {
				msg += "; its last output: " + r
			}
		}
		return nil, stats, cerr(ErrPluginFailed, msg, nil)
	}
	return st.output, stats, nil
}

// sleepCtx is the guest's sleep: wazero's own ignores the context, so a
// plugin sleeping in poll_oneoff would outlive its deadline.
func sleepCtx(ctx context.Context, ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// classify turns what wazero reported into a CallError that says what the
// plugin did, preferring the cause a host function recorded.
func (p *Plugin) classify(ctx context.Context, st *callState, tool, phase string, err error) error {
	var ce *CallError
	if errors.As(st.abort, &ce) {
		out := *ce
		out.Plugin, out.Tool = p.name, tool
		return &out
	}
	mk := func(kind error, detail string) error {
		return &CallError{Plugin: p.name, Tool: tool, Kind: kind, Detail: detail, Err: err}
	}
	var exit *sys.ExitError
	errors.As(err, &exit)
	switch {
	case st.callerCtx.Err() != nil:
		// The caller's own deadline or cancellation, not the plugin's limit.
		return mk(ErrCanceled, "the caller gave up ("+st.callerCtx.Err().Error()+") and the plugin was stopped")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return mk(ErrTimeout, fmt.Sprintf("it ran longer than its %s limit and was stopped", st.limits.Timeout))
	case st.budget.refused || st.stderrTail.outOfMemory():
		return mk(ErrMemoryLimit, fmt.Sprintf("it needed more than its %s memory limit", st.limits.Memory))
	}
	if exit != nil {
		d := fmt.Sprintf("it exited with code %d during %s", exit.ExitCode(), phase)
		if r := st.stderrTail.reason(); r != "" {
			d += ": " + r
		}
		return mk(ErrTrap, d)
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	d := fmt.Sprintf("%s during %s", strings.TrimSuffix(first, " (recovered by wazero)"), phase)
	if r := st.stderrTail.reason(); r != "" {
		d += "; its last output: " + r
	}
	return mk(ErrTrap, d)
}
