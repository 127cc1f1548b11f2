package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// MCP methods that dispatch to a plugin, for CallInfo.Method.
const (
	MethodToolsCall     = "tools/call"
	MethodPromptsGet    = "prompts/get"
	MethodResourcesRead = "resources/read"
)

// Results of a call, for Outcome.Result and the outcome and kind metric
// labels. Other lowercase snake_case results are accepted too, up to a small
// fixed number of distinct ones; anything else is recorded as ResultOther.
const (
	ResultOK           = "ok"
	ResultToolError    = "tool_error"   // the tool ran and returned isError
	ResultTimeout      = "timeout"      // deadline exceeded
	ResultMemory       = "memory"       // memory limit exceeded
	ResultDenied       = "denied"       // refused by a capability grant or the deny list
	ResultBusy         = "busy"         // concurrency limit reached
	ResultTrap         = "trap"         // the guest trapped or panicked
	ResultUnauthorized = "unauthorized" // no or bad credentials
	ResultForbidden    = "forbidden"    // credentials without the needed scope
	ResultRateLimited  = "rate_limited" // rejected by a rate limit
	ResultInvalid      = "invalid"      // bad arguments or unknown tool
	ResultCanceled     = "canceled"     // the client went away
	ResultError        = "error"        // any other host-side failure
	ResultOther        = "other"        // a result outside the accepted set
)

var knownResults = map[string]bool{
	ResultOK: true, ResultToolError: true, ResultTimeout: true, ResultMemory: true,
	ResultDenied: true, ResultBusy: true, ResultTrap: true, ResultUnauthorized: true,
	ResultForbidden: true, ResultRateLimited: true, ResultInvalid: true,
	ResultCanceled: true, ResultError: true, ResultOther: true,
}

// maxExtraOutcomes bounds the results accepted beyond knownResults.
const maxExtraOutcomes = 16

// maxReasons bounds the distinct load-failure reasons.
const maxReasons = 32

// Span attribute keys set on call spans, besides semconv's mcp.method.name,
// gen_ai.tool.name (tools/call only), enduser.id and enduser.pseudo.id.
const (
	AttrTool        = attribute.Key("warden.tool")                 // tool, prompt or resource name
	AttrPlugin      = attribute.Key("warden.plugin.name")          // plugin name
	AttrDigest      = attribute.Key("warden.plugin.digest")        // plugin digest, "sha256:…"
	AttrOutcome     = attribute.Key("warden.outcome")              // Outcome.Result after mapping
	AttrInstantiate = attribute.Key("warden.instantiate.duration") // seconds, float
	AttrExecute     = attribute.Key("warden.execute.duration")     // seconds, float
	AttrMemory      = attribute.Key("warden.memory.bytes")         // peak guest memory
	AttrReused      = attribute.Key("warden.instance.reused")      // the instance was reset to the image after an earlier call
	AttrBytesIn     = attribute.Key("warden.bytes_in")             // request payload size
	AttrBytesOut    = attribute.Key("warden.bytes_out")            // response payload size
)

// Semantic-convention keys for MCP (development status), spelt out here
// because semconv/v1.43.0 does not carry them.
const (
	keyMCPMethod = attribute.Key("mcp.method.name")
	keyGenAITool = attribute.Key("gen_ai.tool.name")
)

// Metric names.
const (
	MetricCalls        = "warden_calls_total"
	MetricCallErrors   = "warden_call_errors_total"
	MetricDuration     = "warden_call_duration_seconds"
	MetricInFlight     = "warden_calls_in_flight"
	MetricMemory       = "warden_call_memory_bytes"
	MetricRateLimited  = "warden_ratelimit_rejections_total"
	MetricLoadFailures = "warden_plugin_load_failures_total"
)

// Values of the phase label of MetricDuration.
const (
	PhaseTotal       = "total"
	PhaseInstantiate = "instantiate"
	PhaseExecute     = "execute"
)

// overflowLabel replaces open-ended label values that are invalid or past
// the per-label cap.
const overflowLabel = "_other"

var (
	durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
	memoryBuckets   = []float64{1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20, 256 << 20, 512 << 20, 1 << 30, 2 << 30, 4 << 30}
)

func (t *Telemetry) instruments() error {
	m := t.mp.Meter(scopeName)
	var errs [7]error
	t.calls, errs[0] = m.Int64Counter(MetricCalls,
		metric.WithDescription("Calls dispatched to plugins, by tool and outcome."))
	t.callErrors, errs[1] = m.Int64Counter(MetricCallErrors,
		metric.WithDescription("Calls that did not end ok, by tool and error kind."))
	t.duration, errs[2] = m.Float64Histogram(MetricDuration, metric.WithUnit("s"),
		metric.WithDescription("Call latency in seconds, by tool and phase (total, instantiate, execute)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.inFlight, errs[3] = m.Int64UpDownCounter(MetricInFlight,
		metric.WithDescription("Calls currently running, by tool."))
	t.memory, errs[4] = m.Int64Histogram(MetricMemory, metric.WithUnit("By"),
		metric.WithDescription("Peak guest memory per call in bytes, by tool."),
		metric.WithExplicitBucketBoundaries(memoryBuckets...))
	t.rateLimited, errs[5] = m.Int64Counter(MetricRateLimited,
		metric.WithDescription("Requests rejected by a rate limit, by tool."))
	t.loadFailures, errs[6] = m.Int64Counter(MetricLoadFailures,
		metric.WithDescription("Plugins that failed to load or verify, by plugin and reason."))
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("telemetry: instrument: %w", err)
		}
	}
	return nil
}

// CallInfo describes a plugin call as it starts. Tool and Plugin must be
// names the host has validated (names of loaded tools and configured
// plugins), never raw client input.
type CallInfo struct {
	// Method is the MCP method; MethodToolsCall when empty.
	Method string
	// Tool is the tool name as exposed to clients (for prompts/get and
	// resources/read, the prompt or resource name).
	Tool string
	// Plugin is the name of the plugin serving Tool.
	Plugin string
	// Digest is the plugin's content digest, for example "sha256:…".
	Digest string
	// Subject is the authenticated caller, or "" when auth is off. It is
	// recorded as a pseudonym unless Config.PlainSubject is set.
	Subject string
}

// Outcome is how a call ended.
type Outcome struct {
	// Result is one of the Result constants; "" means ResultOK when Err is
	// nil and ResultError otherwise.
	Result string
	// Instantiate and Execute are the time spent instantiating the module
	// and running the export; zero when the phase did not happen.
	Instantiate, Execute time.Duration
	// MemoryBytes is the guest's peak linear memory; zero when unknown.
	MemoryBytes int64
	// Reused: the call ran in an instance reset to the plugin's memory
	// image after an earlier call rather than a new one.
	Reused bool
	// BytesIn and BytesOut are the request and response payload sizes.
	BytesIn, BytesOut int
	// Err, when set, is recorded on the span as an exception event with its
	// message as given: pass errors whose secrets are already masked.
	Err error
}

// Call is a plugin call in progress, from StartCall to End.
type Call struct {
	t       *Telemetry
	ctx     context.Context
	span    trace.Span
	tool    string // bounded label value
	plugin  string
	start   time.Time
	toolSet attribute.Set
	once    sync.Once
}

// StartCall starts the span "<method> <plugin>.<tool>" as a child of the
// span in ctx (normally the server span from Middleware), counts the call as
// in flight and returns a context carrying the new span. Pass that context
// to the plugin runtime so that outbound HTTP spans (HTTPTransport) nest
// under the call. End must be called exactly once; later calls do nothing.
func (t *Telemetry) StartCall(ctx context.Context, c CallInfo) (context.Context, *Call) {
	method := c.Method
	if method == "" {
		method = MethodToolsCall
	}
	target := c.Tool
	if c.Plugin != "" {
		target = c.Plugin + "." + c.Tool
	}
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, keyMCPMethod.String(method), AttrTool.String(c.Tool))
	if method == MethodToolsCall {
		attrs = append(attrs, keyGenAITool.String(c.Tool))
	}
	if c.Plugin != "" {
		attrs = append(attrs, AttrPlugin.String(c.Plugin))
	}
	if c.Digest != "" {
		attrs = append(attrs, AttrDigest.String(c.Digest))
	}
	if c.Subject != "" {
		if t.plainSubject {
			attrs = append(attrs, semconv.EnduserIDKey.String(c.Subject))
		} else {
			attrs = append(attrs, semconv.EnduserPseudoIDKey.String(SubjectPseudonym(c.Subject)))
		}
	}
	ctx, span := t.tracer.Start(ctx, method+" "+target,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))

	tool := t.tools.get(c.Tool)
	call := &Call{
		t:       t,
		ctx:     ctx,
		span:    span,
		tool:    tool,
		plugin:  c.Plugin,
		start:   t.now(),
		toolSet: attribute.NewSet(attribute.String("tool", tool)),
	}
	t.inFlight.Add(ctx, 1, metric.WithAttributeSet(call.toolSet))
	t.toolStats(tool, c.Plugin, func(s *toolStats) { s.inFlight++ })
	return ctx, call
}

// End finishes the call: it records the outcome on the span and in the
// metrics and statistics, and ends the span. Only the first End counts.
func (c *Call) End(o Outcome) {
	if c == nil {
		return
	}
	c.once.Do(func() { c.t.endCall(c, o) })
}

// Span returns the call's span, for events the caller wants to add.
func (c *Call) Span() trace.Span { return c.span }

func (t *Telemetry) endCall(c *Call, o Outcome) {
	total := t.now().Sub(c.start)
	if total < 0 {
		total = 0
	}
	result := t.result(o.Result, o.Err)
	ctx := c.ctx

	t.inFlight.Add(ctx, -1, metric.WithAttributeSet(c.toolSet))
	t.calls.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("tool", c.tool), attribute.String("outcome", result))))
	if result != ResultOK {
		t.callErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
			attribute.String("tool", c.tool), attribute.String("kind", result))))
	}
	t.duration.Record(ctx, total.Seconds(), metric.WithAttributeSet(phaseSet(c.tool, PhaseTotal)))
	if o.Instantiate > 0 {
		t.duration.Record(ctx, o.Instantiate.Seconds(), metric.WithAttributeSet(phaseSet(c.tool, PhaseInstantiate)))
	}
	if o.Execute > 0 {
		t.duration.Record(ctx, o.Execute.Seconds(), metric.WithAttributeSet(phaseSet(c.tool, PhaseExecute)))
	}
	if o.MemoryBytes > 0 {
		t.memory.Record(ctx, o.MemoryBytes, metric.WithAttributeSet(c.toolSet))
	}
	t.toolStats(c.tool, c.plugin, func(s *toolStats) {
		s.inFlight--
		s.record(result, total)
	})

	if c.span.IsRecording() {
		attrs := []attribute.KeyValue{AttrOutcome.String(result),
			AttrBytesIn.Int(o.BytesIn), AttrBytesOut.Int(o.BytesOut)}
		if o.Instantiate > 0 {
			attrs = append(attrs, AttrInstantiate.Float64(o.Instantiate.Seconds()))
		}
		if o.Execute > 0 {
			attrs = append(attrs, AttrExecute.Float64(o.Execute.Seconds()))
		}
		if o.MemoryBytes > 0 {
			attrs = append(attrs, AttrMemory.Int64(o.MemoryBytes))
		}
		if o.Reused {
			attrs = append(attrs, AttrReused.Bool(true))
		}
		c.span.SetAttributes(attrs...)
		if o.Err != nil {
			c.span.RecordError(o.Err)
		}
		if result != ResultOK {
			c.span.SetStatus(codes.Error, result)
		}
	}
	c.span.End()
}

func phaseSet(tool, phase string) attribute.Set {
	return attribute.NewSet(attribute.String("tool", tool), attribute.String("phase", phase))
}

// result maps an Outcome's Result onto the bounded outcome vocabulary.
func (t *Telemetry) result(r string, err error) string {
	switch {
	case r == "" && err == nil:
		return ResultOK
	case r == "":
		return ResultError
	case knownResults[r]:
		return r
	}
	if v := t.extraOutcomes.get(r); v != overflowLabel {
		return v
	}
	return ResultOther
}

// RecordLoadFailure counts a plugin that failed to load or verify. Reason
// is a short lowercase snake_case word chosen by the host (for example
// "fetch", "verify", "digest", "compile", "manifest"); other values, and
// reasons past the 32nd distinct one, are recorded as "_other". Plugin is
// bounded like a tool name (see WithMaxLabelValues).
func (t *Telemetry) RecordLoadFailure(plugin, reason string) {
	t.loadFailures.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("plugin", t.plugins.get(plugin)),
		attribute.String("reason", t.reasons.get(reason)))))
}

// RecordRateLimited counts a request for tool rejected by a rate limit. It
// is the only thing that moves MetricRateLimited: a Call ended with
// ResultRateLimited counts in the call metrics but not here, so the host
// calls RecordRateLimited once per rejection whether or not it started a
// Call.
func (t *Telemetry) RecordRateLimited(tool string) {
	tool = t.tools.get(tool)
	t.rateLimited.Add(context.Background(), 1, metric.WithAttributeSet(
		attribute.NewSet(attribute.String("tool", tool))))
	t.toolStats(tool, "", func(s *toolStats) { s.rateLimited++ })
}

// SubjectPseudonym returns the pseudonym recorded on spans for a subject
// when Config.PlainSubject is off: "sha256:" and the first 16 bytes of the
// subject's SHA-256, in hex. It lets an operator find one subject's spans
// without the backend storing the subject; it is not anonymisation, since
// anyone can hash a guessed subject and compare.
func SubjectPseudonym(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// labelSet bounds the values of one open-ended metric label.
type labelSet struct {
	mu    sync.Mutex
	max   int
	valid func(string) bool
	seen  map[string]struct{}
}

func newLabelSet(max int, valid func(string) bool) *labelSet {
	return &labelSet{max: max, valid: valid, seen: make(map[string]struct{})}
}

// get returns v if it is valid and already seen or there is room for it,
// and overflowLabel otherwise.
func (s *labelSet) get(v string) string {
	if !s.valid(v) {
		return overflowLabel
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= s.max {
		return overflowLabel
	}
	s.seen[v] = struct{}{}
	return v
}

// validName accepts tool and plugin names: 1 to 128 characters from
// [A-Za-z0-9_.-/].
func validName(v string) bool {
	if v == "" || len(v) > 128 || v == overflowLabel {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// validReason accepts lowercase snake_case words of at most 32 characters.
func validReason(v string) bool {
	if v == "" || len(v) > 32 || v[0] < 'a' || v[0] > 'z' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
