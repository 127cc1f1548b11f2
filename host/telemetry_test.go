package host_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host"
)

// otlpReceiver is a local OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" {
		w.WriteHeader(http.StatusOK) // metrics: accepted and ignored
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Write(out)
}

// TestTraceTreeAtOTLPReceiver: one tools/call with a client traceparent
// gives a server span under the client's span, a plugin-call span under
// it, and a span for the plugin's outbound request under that, all at a
// local OTLP receiver.
func TestTraceTreeAtOTLPReceiver(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") }))
	defer page.Close()
	pu, _ := url.Parse(page.URL)

	module(t, "hello", "./examples/hello")
	one := 1.0
	s, err := host.New(host.Options{Runtime: rt, Telemetry: &host.TelemetryConfig{OTLPEndpoint: collector.URL, Sampling: &one}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := capabilities.ParseGrant("fetch.yaml", []byte(fmt.Sprintf("apiVersion: warden.dev/v1\nkind: Grant\nnetwork:\n  allow:\n    - host: 127.0.0.1\n      ports: [%s]\n      schemes: [http]\n      privateNetwork: allow\n", pu.Port())))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Swap([]*host.Plugin{{Name: "fetch", Module: module(t, "fetch", "./examples/fetch"), Grant: g}}, nil); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s)
	defer api.Close()
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	_, out := post(t, api.URL, "2025-11-25", "tools/call", map[string]any{"name": "fetch.get", "arguments": map[string]any{"url": page.URL + "/x?token=secret"}},
		map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"})
	if text, isErr := callText(t, out.Result); isErr || !strings.Contains(text, "page") {
		t.Fatalf("call: %s %+v", out.Result, out.Error)
	}
	if err := s.Close(t.Context()); err != nil { // flushes the exporter
		t.Fatal(err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	var server, call, outbound *tracepb.Span
	for _, sp := range recv.spans {
		if hex.EncodeToString(sp.TraceId) != traceID {
			continue
		}
		byID[hex.EncodeToString(sp.SpanId)] = sp
		switch {
		case sp.Kind == tracepb.Span_SPAN_KIND_SERVER:
			server = sp
		case strings.Contains(sp.Name, "fetch.get"):
			call = sp
		case sp.Kind == tracepb.Span_SPAN_KIND_CLIENT:
			outbound = sp
		}
	}
	if server == nil || call == nil || outbound == nil {
		var names []string
		for _, sp := range recv.spans {
			names = append(names, sp.Name+"/"+sp.Kind.String())
		}
		t.Fatalf("missing spans under the client's trace; got %v", names)
	}
	if hex.EncodeToString(server.ParentSpanId) != parentID {
		t.Errorf("server span's parent is %x, want the client's %s", server.ParentSpanId, parentID)
	}
	if !bytes.Equal(call.ParentSpanId, server.SpanId) || !bytes.Equal(outbound.ParentSpanId, call.SpanId) {
		t.Errorf("span tree: call parent %x (server %x), outbound parent %x (call %x)", call.ParentSpanId, server.SpanId, outbound.ParentSpanId, call.SpanId)
	}
	for _, sp := range recv.spans {
		for _, a := range sp.Attributes {
			if strings.Contains(a.Value.String(), "token=secret") {
				t.Errorf("span %s leaks the query string in %s", sp.Name, a.Key)
			}
		}
	}
}
