package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

func ratio(v float64) *float64 { return &v }

// newTest returns a Telemetry whose spans go to an in-memory exporter and
// whose metrics can be read with a manual reader.
func newTest(t *testing.T, cfg Config, opts ...Option) (*Telemetry, *tracetest.InMemoryExporter, *sdkmetric.ManualReader) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel, err := New(context.Background(), cfg, append([]Option{WithSpanExporter(exp), WithMetricReader(reader)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, exp, reader
}

// callHandler serves POST /mcp by running one call of echo.say.
func callHandler(tel *Telemetry, o Outcome) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mcp", func(w http.ResponseWriter, r *http.Request) {
		_, call := tel.StartCall(r.Context(), CallInfo{
			Tool: "say", Plugin: "echo", Digest: "sha256:abcd", Subject: "alice@example.com",
		})
		call.End(o)
		w.WriteHeader(http.StatusOK)
	})
	return tel.Middleware(mux)
}

func clientRequest(flags string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp?token=secret", strings.NewReader("{}"))
	r.Header.Set("traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-"+flags)
	r.Header.Set("tracestate", "vendor=value")
	return r
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %q", name, names)
	return tracetest.SpanStub{}
}

func TestTraceparentMakesCallSpanChildOfClientTrace(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	rec := httptest.NewRecorder()
	callHandler(tel, Outcome{
		Result: ResultOK, Instantiate: 3 * time.Millisecond, Execute: 5 * time.Millisecond,
		MemoryBytes: 2 << 20, BytesIn: 10, BytesOut: 20, Reused: true,
	}).ServeHTTP(rec, clientRequest("01"))

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	server := spanNamed(t, spans, "POST /mcp")
	call := spanNamed(t, spans, "tools/call echo.say")

	if got := server.SpanContext.TraceID().String(); got != clientTraceID {
		t.Errorf("server span trace = %s, want the client's %s", got, clientTraceID)
	}
	if got := server.Parent.SpanID().String(); got != clientSpanID || !server.Parent.IsRemote() {
		t.Errorf("server span parent = %s (remote %v), want the client's span %s", got, server.Parent.IsRemote(), clientSpanID)
	}
	if server.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind = %v", server.SpanKind)
	}
	if got := server.SpanContext.TraceState().Get("vendor"); got != "value" {
		t.Errorf("tracestate not carried: %q", got)
	}
	if call.Parent.SpanID() != server.SpanContext.SpanID() || call.SpanContext.TraceID() != server.SpanContext.TraceID() {
		t.Errorf("call span parent = %s, want the server span %s", call.Parent.SpanID(), server.SpanContext.SpanID())
	}

	sa := attrMap(server.Attributes)
	for k, want := range map[attribute.Key]string{
		"http.request.method": "POST", "http.route": "/mcp", "url.path": "/mcp", "url.scheme": "http",
	} {
		if got := sa[k].AsString(); got != want {
			t.Errorf("server %s = %q, want %q", k, got, want)
		}
	}
	if got := sa["http.response.status_code"].AsInt64(); got != 200 {
		t.Errorf("server status = %d", got)
	}
	for _, kv := range server.Attributes {
		if strings.Contains(kv.Value.Emit(), "secret") {
			t.Errorf("server span leaks the query in %s", kv.Key)
		}
	}

	ca := attrMap(call.Attributes)
	for k, want := range map[attribute.Key]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "say", AttrTool: "say",
		AttrPlugin: "echo", AttrDigest: "sha256:abcd", AttrOutcome: "ok",
		"enduser.pseudo.id": SubjectPseudonym("alice@example.com"),
	} {
		if got := ca[k].AsString(); got != want {
			t.Errorf("call %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := ca["enduser.id"]; ok {
		t.Error("subject recorded in clear without PlainSubject")
	}
	if got := ca[AttrInstantiate].AsFloat64(); got != 0.003 {
		t.Errorf("instantiate = %v", got)
	}
	if got := ca[AttrExecute].AsFloat64(); got != 0.005 {
		t.Errorf("execute = %v", got)
	}
	if ca[AttrMemory].AsInt64() != 2<<20 || ca[AttrBytesIn].AsInt64() != 10 || ca[AttrBytesOut].AsInt64() != 20 {
		t.Errorf("memory/bytes attributes = %v %v %v", ca[AttrMemory], ca[AttrBytesIn], ca[AttrBytesOut])
	}
	if !ca[AttrReused].AsBool() {
		t.Errorf("%s = %v, want true", AttrReused, ca[AttrReused])
	}
	if call.Status.Code != codes.Unset {
		t.Errorf("ok call has status %v", call.Status)
	}
}

func TestWithoutTraceparentStartsANewTrace(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	callHandler(tel, Outcome{}).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest(http.MethodPost, "/mcp", nil))
	server := spanNamed(t, exp.GetSpans(), "POST /mcp")
	if server.Parent.IsValid() {
		t.Errorf("server span has parent %v", server.Parent)
	}
}

func TestFailedCallRecordsError(t *testing.T) {
	tel, exp, _ := newTest(t, Config{PlainSubject: true})
	callHandler(tel, Outcome{Result: ResultTrap, Err: errors.New("wasm trap: unreachable")}).
		ServeHTTP(httptest.NewRecorder(), clientRequest("01"))
	call := spanNamed(t, exp.GetSpans(), "tools/call echo.say")
	if call.Status.Code != codes.Error || call.Status.Description != ResultTrap {
		t.Errorf("status = %+v", call.Status)
	}
	if len(call.Events) != 1 || call.Events[0].Name != "exception" {
		t.Fatalf("events = %+v", call.Events)
	}
	ca := attrMap(call.Attributes)
	if ca["enduser.id"].AsString() != "alice@example.com" {
		t.Errorf("PlainSubject: enduser.id = %v", ca["enduser.id"])
	}
}

func TestSamplingRatioZeroExportsNothing(t *testing.T) {
	tel, exp, _ := newTest(t, Config{SamplingRatio: ratio(0)})
	for _, flags := range []string{"01", "00"} {
		callHandler(tel, Outcome{}).ServeHTTP(httptest.NewRecorder(), clientRequest(flags))
	}
	callHandler(tel, Outcome{}).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("ratio 0 exported %d spans", n)
	}
	// Metrics do not depend on sampling.
	if got := tel.Stats()[0].Calls; got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
}

func TestSamplingRatioOneIgnoresUnsampledFlag(t *testing.T) {
	tel, exp, _ := newTest(t, Config{SamplingRatio: ratio(1)})
	callHandler(tel, Outcome{}).ServeHTTP(httptest.NewRecorder(), clientRequest("00"))
	if n := len(exp.GetSpans()); n != 2 {
		t.Fatalf("got %d spans, want 2", n)
	}
}

func TestSamplingRatioOutOfRange(t *testing.T) {
	for _, r := range []float64{-0.1, 1.5} {
		if _, err := New(context.Background(), Config{SamplingRatio: ratio(r)}); err == nil {
			t.Errorf("ratio %v accepted", r)
		}
	}
}

func TestNoExporterStillPropagatesIDs(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mcp", func(w http.ResponseWriter, r *http.Request) {
		ctx, call := tel.StartCall(r.Context(), CallInfo{Tool: "say"})
		if trace.SpanFromContext(ctx).IsRecording() {
			t.Error("span recording with nothing to export")
		}
		log.InfoContext(ctx, "calling")
		call.End(Outcome{})
	})
	tel.Middleware(mux).ServeHTTP(httptest.NewRecorder(), clientRequest("01"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line[LogTraceID] != clientTraceID {
		t.Errorf("log trace_id = %v, want the client's", line[LogTraceID])
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in       string
		insecure bool
		host     string
		path     string
		plain    bool
		bad      bool
	}{
		{in: "https://otel.example:4318", host: "otel.example:4318"},
		{in: "https://otel.example/otlp/", host: "otel.example", path: "/otlp"},
		{in: "otel.example:4318", host: "otel.example:4318"},
		{in: "otel.example:4318", insecure: true, host: "otel.example:4318", plain: true},
		{in: "http://127.0.0.1:4318", host: "127.0.0.1:4318", plain: true},
		{in: "http://[::1]:4318", host: "[::1]:4318", plain: true},
		{in: "http://localhost:4318", host: "localhost:4318", plain: true},
		{in: "http://otel.example:4318", bad: true},
		{in: "http://otel.example:4318", insecure: true, host: "otel.example:4318", plain: true},
		{in: "ftp://otel.example", bad: true},
		{in: "https://user:pw@otel.example", bad: true},
		{in: "https://otel.example/?x=1", bad: true},
		{in: "https://", bad: true},
	} {
		got, err := parseEndpoint(tc.in, tc.insecure)
		if tc.bad {
			if err == nil {
				t.Errorf("%q (insecure %v) accepted", tc.in, tc.insecure)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.host != tc.host || got.path != tc.path || got.insecure != tc.plain {
			t.Errorf("%q (insecure %v) = %+v", tc.in, tc.insecure, *got)
		}
	}
}

// collect reads every data point of the named metric as label maps.
func collect(t *testing.T, r *sdkmetric.ManualReader, name string) []map[string]string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	toMap := func(s attribute.Set) map[string]string {
		m := map[string]string{}
		for _, kv := range s.ToSlice() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, toMap(dp.Attributes))
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, toMap(dp.Attributes))
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, toMap(dp.Attributes))
				}
			}
		}
	}
	return out
}

func TestMetricLabelsAreBounded(t *testing.T) {
	tel, _, reader := newTest(t, Config{}, WithMaxLabelValues(5))
	ctx := context.Background()
	results := []string{ResultOK, ResultTimeout, "Not A Result", "weird\nvalue", "sandbox_oom", ""}
	for i := range 50 {
		tool := fmt.Sprintf("tool%d", i)
		if i%10 == 0 {
			tool = `bad "tool"` + "\n"
		}
		_, c := tel.StartCall(ctx, CallInfo{Tool: tool, Plugin: "p"})
		c.End(Outcome{Result: results[i%len(results)], MemoryBytes: 1 << 20, Instantiate: time.Millisecond, Execute: time.Millisecond})
		tel.RecordRateLimited(tool)
		tel.RecordLoadFailure(fmt.Sprintf("plugin%d", i), fmt.Sprintf("reason%d", i))
	}
	tel.RecordLoadFailure("x", "Has Spaces")

	check := func(metric, label string, allowed func(string) bool, max int) {
		t.Helper()
		values := map[string]bool{}
		for _, labels := range collect(t, reader, metric) {
			v, ok := labels[label]
			if !ok {
				t.Errorf("%s: no %s label in %v", metric, label, labels)
			}
			if !allowed(v) {
				t.Errorf("%s{%s=%q} not allowed", metric, label, v)
			}
			values[v] = true
		}
		if len(values) == 0 || len(values) > max {
			t.Errorf("%s: %d distinct %s values, want 1..%d: %v", metric, len(values), label, max, values)
		}
	}
	isTool := func(v string) bool { return v == overflowLabel || validName(v) }
	isResult := func(v string) bool { return knownResults[v] || v == "sandbox_oom" }
	for _, m := range []string{MetricCalls, MetricCallErrors, MetricDuration, MetricInFlight, MetricMemory, MetricRateLimited} {
		check(m, "tool", isTool, 6)
	}
	check(MetricCalls, "outcome", isResult, len(knownResults)+1)
	check(MetricCallErrors, "kind", func(v string) bool { return isResult(v) && v != ResultOK }, len(knownResults))
	check(MetricDuration, "phase", func(v string) bool { return v == PhaseTotal || v == PhaseInstantiate || v == PhaseExecute }, 3)
	check(MetricLoadFailures, "plugin", isTool, 6)
	check(MetricLoadFailures, "reason", func(v string) bool { return v == overflowLabel || validReason(v) }, maxReasons+1)
	for _, labels := range collect(t, reader, MetricCalls) {
		if labels["outcome"] == "Not A Result" || strings.Contains(labels["outcome"], "\n") {
			t.Errorf("raw outcome leaked: %q", labels["outcome"])
		}
	}
	if len(tel.Stats()) > 6 {
		t.Errorf("stats for %d tools, want at most 6", len(tel.Stats()))
	}
}

func scrape(t *testing.T, h http.Handler) map[string]*familyView {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	out := map[string]*familyView{}
	for name, f := range fams {
		fv := &familyView{typ: f.GetType().String(), series: map[string]float64{}}
		for _, m := range f.Metric {
			var parts []string
			for _, lp := range m.Label {
				parts = append(parts, lp.GetName()+"="+lp.GetValue())
			}
			key := strings.Join(parts, ",")
			switch {
			case m.Counter != nil:
				fv.series[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				fv.series[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				fv.series[key] = float64(m.Histogram.GetSampleCount())
				fv.buckets = len(m.Histogram.Bucket)
			}
		}
		out[name] = fv
	}
	return out
}

// familyView is a parsed metric family: value per "k=v,…" label key (the
// sample count for histograms).
type familyView struct {
	typ     string
	series  map[string]float64
	buckets int
}

func TestMetricsHandlerCountersMove(t *testing.T) {
	tel, _, _ := newTest(t, Config{})
	h := callHandler(tel, Outcome{Result: ResultOK, Instantiate: time.Millisecond, Execute: 2 * time.Millisecond, MemoryBytes: 3 << 20})
	h.ServeHTTP(httptest.NewRecorder(), clientRequest("01"))
	tel.RecordLoadFailure("broken", "verify")

	before := scrape(t, tel.MetricsHandler())
	if got := before[MetricCalls].series["outcome=ok,tool=say"]; got != 1 {
		t.Fatalf("calls before = %v (%v)", got, before[MetricCalls])
	}
	if before[MetricCalls].typ != "COUNTER" || before[MetricDuration].typ != "HISTOGRAM" || before[MetricInFlight].typ != "GAUGE" {
		t.Errorf("types: %s %s %s", before[MetricCalls].typ, before[MetricDuration].typ, before[MetricInFlight].typ)
	}
	if _, ok := before[MetricCallErrors]; ok {
		t.Errorf("errors counted for an ok call: %v", before[MetricCallErrors].series)
	}
	if got := before[MetricLoadFailures].series["plugin=broken,reason=verify"]; got != 1 {
		t.Errorf("load failures = %v", before[MetricLoadFailures].series)
	}

	h.ServeHTTP(httptest.NewRecorder(), clientRequest("01"))
	callHandler(tel, Outcome{Result: ResultTimeout}).ServeHTTP(httptest.NewRecorder(), clientRequest("01"))
	tel.RecordRateLimited("say")
	_, open := tel.StartCall(context.Background(), CallInfo{Tool: "say", Plugin: "echo"})

	after := scrape(t, tel.MetricsHandler())
	for metric, want := range map[string]map[string]float64{
		MetricCalls:       {"outcome=ok,tool=say": 2, "outcome=timeout,tool=say": 1},
		MetricCallErrors:  {"kind=timeout,tool=say": 1},
		MetricRateLimited: {"tool=say": 1},
		MetricInFlight:    {"tool=say": 1},
		MetricDuration:    {"phase=total,tool=say": 3, "phase=instantiate,tool=say": 2, "phase=execute,tool=say": 2},
		MetricMemory:      {"tool=say": 2},
	} {
		f := after[metric]
		if f == nil {
			t.Errorf("%s missing", metric)
			continue
		}
		for k, v := range want {
			if f.series[k] != v {
				t.Errorf("%s{%s} = %v, want %v (all: %v)", metric, k, f.series[k], v, f.series)
			}
		}
	}
	if after[MetricDuration].buckets != len(durationBuckets)+1 {
		t.Errorf("duration buckets = %d", after[MetricDuration].buckets)
	}
	open.End(Outcome{})
	if got := scrape(t, tel.MetricsHandler())[MetricInFlight].series["tool=say"]; got != 0 {
		t.Errorf("in flight after End = %v", got)
	}

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d", rec.Code)
	}
}

func TestMetricsHandlerWithNothingRecorded(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if fams := scrape(t, tel.MetricsHandler()); len(fams) != 0 {
		t.Errorf("families before any call: %v", fams)
	}
}

func TestMetricsHandlerAfterShutdown(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	tel.RecordRateLimited("t")
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Shutdown: %d", rec.Code)
	}
	if s := tel.Stats(); len(s) != 1 || s[0].RateLimited != 1 {
		t.Errorf("stats after Shutdown = %+v", s)
	}
}

func TestPromTextEscaping(t *testing.T) {
	set := attribute.NewSet(attribute.String("tool", "a\"b\\c\nd"), attribute.String("bad-key", "x"))
	rm := metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "m_total", Description: "line1\nline2 \\ end", Data: metricdata.Sum[int64]{
			IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Value: 7}}}},
		{Name: "bad name", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Value: 1}}}},
	}}}}
	var buf bytes.Buffer
	writeProm(&buf, &rm)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	f := fams["m_total"]
	if f == nil || len(fams) != 1 {
		t.Fatalf("families = %v", fams)
	}
	if f.GetHelp() != "line1\nline2 \\ end" {
		t.Errorf("help = %q", f.GetHelp())
	}
	got := map[string]string{}
	for _, lp := range f.Metric[0].Label {
		got[lp.GetName()] = lp.GetValue()
	}
	if got["tool"] != "a\"b\\c\nd" || got["bad_key"] != "x" {
		t.Errorf("labels = %q", got)
	}
}

func TestStatsPercentiles(t *testing.T) {
	tel, _, _ := newTest(t, Config{})
	clock := time.Unix(1000, 0)
	tel.now = func() time.Time { return clock }
	ctx := context.Background()
	for i := 1; i <= 100; i++ {
		_, c := tel.StartCall(ctx, CallInfo{Tool: "slow", Plugin: "p"})
		clock = clock.Add(time.Duration(i) * time.Millisecond)
		res := ResultOK
		if i%10 == 0 {
			res = ResultToolError
		}
		c.End(Outcome{Result: res})
	}
	_, c := tel.StartCall(ctx, CallInfo{Tool: "fast", Plugin: "q"})
	clock = clock.Add(1500 * time.Microsecond)
	c.End(Outcome{})
	tel.RecordRateLimited("slow")
	_, _ = tel.StartCall(ctx, CallInfo{Tool: "fast", Plugin: "q"}) // left in flight

	stats := tel.Stats()
	if len(stats) != 2 || stats[0].Tool != "fast" || stats[1].Tool != "slow" {
		t.Fatalf("stats = %+v", stats)
	}
	fast, slow := stats[0], stats[1]
	if fast.Calls != 1 || fast.InFlight != 1 || fast.P50 != 1500*time.Microsecond || fast.P99 != 1500*time.Microsecond || fast.Plugin != "q" {
		t.Errorf("fast = %+v", fast)
	}
	if slow.Calls != 100 || slow.Errors != 10 || slow.RateLimited != 1 || slow.InFlight != 0 ||
		slow.Outcomes[ResultOK] != 90 || slow.Outcomes[ResultToolError] != 10 || slow.ErrorRate() != 0.1 {
		t.Errorf("slow = %+v", slow)
	}
	near := func(name string, got, want time.Duration) {
		t.Helper()
		if diff := float64(got-want) / float64(want); diff < -0.05 || diff > 0.05 {
			t.Errorf("%s = %v, want %v ±5%%", name, got, want)
		}
	}
	near("p50", slow.P50, 50*time.Millisecond)
	near("p90", slow.P90, 90*time.Millisecond)
	near("p99", slow.P99, 99*time.Millisecond)
	if slow.Max != 100*time.Millisecond {
		t.Errorf("max = %v", slow.Max)
	}
}

func TestEndTwiceCountsOnce(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	_, c := tel.StartCall(context.Background(), CallInfo{Tool: "t"})
	c.End(Outcome{})
	c.End(Outcome{Result: ResultTrap})
	var nilCall *Call
	nilCall.End(Outcome{})
	if s := tel.Stats()[0]; s.Calls != 1 || s.Errors != 0 || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("spans = %d", n)
	}
}

func TestLogHandlerAddsIDs(t *testing.T) {
	tel, _, _ := newTest(t, Config{})
	ctx, span := tel.Tracer().Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	var buf bytes.Buffer
	base := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	decode := func() map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, buf.Bytes())
		}
		buf.Reset()
		return m
	}

	base.InfoContext(ctx, "plain", "k", "v")
	m := decode()
	if m[LogTraceID] != sc.TraceID().String() || m[LogSpanID] != sc.SpanID().String() || m["k"] != "v" {
		t.Errorf("plain record = %v", m)
	}

	base.With("a", 1).WithGroup("g").With("b", 2).InfoContext(ctx, "grouped", "c", 3)
	m = decode()
	g, _ := m["g"].(map[string]any)
	if m[LogTraceID] != sc.TraceID().String() || m[LogSpanID] != sc.SpanID().String() ||
		m["a"] != 1.0 || g["b"] != 2.0 || g["c"] != 3.0 || g[LogTraceID] != nil {
		t.Errorf("grouped record = %v", m)
	}

	base.Info("no context")
	if m := decode(); m[LogTraceID] != nil {
		t.Errorf("record without span got %v", m[LogTraceID])
	}
}

func TestHTTPTransportRecordsHostAndStatusOnly(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("traceparent") != "" {
			t.Error("trace context sent to a third party")
		}
		http.Error(w, "nope", http.StatusNotFound)
	}))
	defer upstream.Close()
	client := &http.Client{Transport: tel.HTTPTransport(nil)}

	ctx, call := tel.StartCall(context.Background(), CallInfo{Tool: "fetch", Plugin: "web"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL+"/private/path?api_key=hunter2", nil)
	req.Header.Set("Authorization", "Bearer hunter2")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A refused connection: find a port nobody listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+dead+"/x?api_key=hunter2", nil)
	if _, err := client.Do(req); err == nil {
		t.Fatal("request to a closed port succeeded")
	}
	call.End(Outcome{})

	spans := exp.GetSpans()
	callSpan := spanNamed(t, spans, "tools/call web.fetch")
	get, post := spanNamed(t, spans, "GET"), spanNamed(t, spans, "POST")
	for _, s := range []tracetest.SpanStub{get, post} {
		if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != callSpan.SpanContext.SpanID() {
			t.Errorf("%s: kind %v parent %v, want client child of the call", s.Name, s.SpanKind, s.Parent.SpanID())
		}
		if s.Status.Code != codes.Error {
			t.Errorf("%s: status %v", s.Name, s.Status)
		}
		for _, kv := range s.Attributes {
			if v := kv.Value.Emit(); strings.Contains(v, "hunter2") || strings.Contains(v, "private") || strings.Contains(v, "/x") {
				t.Errorf("%s leaks %s=%q", s.Name, kv.Key, v)
			}
		}
		for _, e := range s.Events {
			t.Errorf("%s has event %v", s.Name, e)
		}
		if strings.Contains(s.Status.Description, "hunter2") {
			t.Errorf("status leaks: %q", s.Status.Description)
		}
	}
	ga := attrMap(get.Attributes)
	if ga["server.address"].AsString() != "127.0.0.1" || ga["http.response.status_code"].AsInt64() != 404 || ga["server.port"].AsInt64() == 0 {
		t.Errorf("GET attributes = %v", get.Attributes)
	}
	if got := attrMap(post.Attributes)["error.type"].AsString(); got != "connection" {
		t.Errorf("POST error.type = %q", got)
	}
}

func TestMiddlewareStatusRouteAndFlusher(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events/{id}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("middleware hides http.Flusher")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusServiceUnavailable)
		f.Flush()
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("ResponseController through middleware: %v", err)
		}
	})
	srv := httptest.NewServer(tel.Middleware(mux))
	defer srv.Close()
	for _, path := range []string{"/events/42", "/nowhere"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The events handler flushes its response before it returns, so the
	// client can be done before the handler (and its span) is: wait for
	// both spans.
	for deadline := time.Now().Add(5 * time.Second); len(exp.GetSpans()) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	ev := spanNamed(t, exp.GetSpans(), "GET /events/{id}")
	ea := attrMap(ev.Attributes)
	if ea["http.response.status_code"].AsInt64() != 503 || ev.Status.Code != codes.Error || ea["error.type"].AsString() != "503" {
		t.Errorf("5xx span = %v %v", ev.Attributes, ev.Status)
	}
	if ea["network.protocol.version"].AsString() != "1.1" {
		t.Errorf("protocol = %v", ea["network.protocol.version"])
	}
	nf := spanNamed(t, exp.GetSpans(), "GET")
	if attrMap(nf.Attributes)["http.response.status_code"].AsInt64() != 404 || nf.Status.Code == codes.Error {
		t.Errorf("404 span = %v %v", nf.Attributes, nf.Status)
	}
}

func TestMiddlewarePanicEndsSpan(t *testing.T) {
	tel, exp, _ := newTest(t, Config{})
	h := tel.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if s := exp.GetSpans(); len(s) != 1 || s[0].Status.Code != codes.Error {
		t.Errorf("spans = %v", s)
	}
}

func TestLabelValidators(t *testing.T) {
	for v, want := range map[string]bool{
		"say": true, "echo.say": true, "a-b_c/d": true, "": false, "has space": false,
		"quote\"": false, overflowLabel: false, strings.Repeat("x", 129): false,
	} {
		if validName(v) != want {
			t.Errorf("validName(%q) = %v", v, !want)
		}
	}
	for v, want := range map[string]bool{"verify": true, "digest_mismatch": true, "Verify": false, "9x": false, "": false} {
		if validReason(v) != want {
			t.Errorf("validReason(%q) = %v", v, !want)
		}
	}
}
