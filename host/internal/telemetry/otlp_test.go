package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a minimal OTLP/HTTP (protobuf) receiver for tests.
type otlpReceiver struct {
	mu          sync.Mutex
	spans       []*tracepb.Span
	resources   []map[string]string
	metricNames map[string]bool
	auth        []string
}

func (rcv *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rcv.auth = append(rcv.auth, r.Header.Get("Authorization"))
	var resp proto.Message
	switch r.URL.Path {
	case "/otlp/v1/traces":
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			rcv.resources = append(rcv.resources, kvMap(rs.GetResource().GetAttributes()))
			for _, ss := range rs.ScopeSpans {
				rcv.spans = append(rcv.spans, ss.Spans...)
			}
		}
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/otlp/v1/metrics":
		var req colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					rcv.metricNames[m.Name] = true
				}
			}
		}
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func kvMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = "float"
		}
	}
	return m
}

func TestOTLPEndToEnd(t *testing.T) {
	rcv := &otlpReceiver{metricNames: map[string]bool{}}
	collector := httptest.NewServer(rcv) // listens on 127.0.0.1
	defer collector.Close()
	if !strings.HasPrefix(collector.URL, "http://127.0.0.1:") {
		t.Fatalf("receiver not on loopback: %s", collector.URL)
	}

	ctx := context.Background()
	tel, err := New(ctx, Config{
		OTLPEndpoint:   collector.URL + "/otlp/",
		Headers:        map[string]string{"Authorization": "Bearer test-token"},
		ServiceName:    "warden-test",
		ServiceVersion: "v0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(callHandler(tel, Outcome{
		Result: ResultToolError, Instantiate: 4 * time.Millisecond, Execute: 6 * time.Millisecond,
		MemoryBytes: 5 << 20, BytesIn: 11, BytesOut: 22,
	}))
	defer front.Close()

	req, _ := http.NewRequest(http.MethodPost, front.URL+"/mcp", bytes.NewReader([]byte("{}")))
	req.Header.Set("traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil { // flushes spans and metrics
		t.Fatal(err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	for _, s := range rcv.spans {
		byName[s.Name] = s
	}
	server, call := byName["POST /mcp"], byName["tools/call echo.say"]
	if server == nil || call == nil {
		t.Fatalf("spans received: %v", byName)
	}
	if got := hex.EncodeToString(call.TraceId); got != clientTraceID {
		t.Errorf("call span trace = %s, want the client's %s", got, clientTraceID)
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != clientSpanID {
		t.Errorf("server span parent = %s, want %s", got, clientSpanID)
	}
	if !bytes.Equal(call.ParentSpanId, server.SpanId) {
		t.Errorf("call span parent = %x, want the server span %x", call.ParentSpanId, server.SpanId)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || call.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("kinds: server %v call %v", server.Kind, call.Kind)
	}
	attrs := kvMap(call.Attributes)
	for k, want := range map[string]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "say", "warden.tool": "say",
		"warden.plugin.name": "echo", "warden.plugin.digest": "sha256:abcd",
		"warden.outcome": ResultToolError, "enduser.pseudo.id": SubjectPseudonym("alice@example.com"),
		"warden.memory.bytes": strconv.Itoa(5 << 20), "warden.bytes_in": "11", "warden.bytes_out": "22",
		"warden.instantiate.duration": "float", "warden.execute.duration": "float",
	} {
		if attrs[k] != want {
			t.Errorf("call span %s = %q, want %q", k, attrs[k], want)
		}
	}
	if call.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("call status = %v", call.Status)
	}
	if len(rcv.resources) == 0 || rcv.resources[0]["service.name"] != "warden-test" || rcv.resources[0]["service.version"] != "v0.0.1" {
		t.Errorf("resource = %v", rcv.resources)
	}
	for _, a := range rcv.auth {
		if a != "Bearer test-token" {
			t.Errorf("OTLP request without the configured header: %q", a)
		}
	}
	for _, m := range []string{MetricCalls, MetricCallErrors, MetricDuration, MetricMemory} {
		if !rcv.metricNames[m] {
			t.Errorf("metric %s not exported over OTLP (got %v)", m, rcv.metricNames)
		}
	}
}
