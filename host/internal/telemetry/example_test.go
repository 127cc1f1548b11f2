package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wardenmcp/warden/host/internal/telemetry"
)

// Example wires telemetry around an MCP endpoint: a server span per
// request, a call span per plugin call, and the Prometheus text that
// /metrics serves on the admin listener.
func Example() {
	ctx := context.Background()
	tel, err := telemetry.New(ctx, telemetry.Config{ServiceName: "warden"}) // no OTLP endpoint: nothing exported
	if err != nil {
		panic(err)
	}
	defer tel.Shutdown(ctx)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /mcp", func(w http.ResponseWriter, r *http.Request) {
		// After validating the request and resolving the tool:
		_, call := tel.StartCall(r.Context(), telemetry.CallInfo{
			Tool: "say", Plugin: "echo", Digest: "sha256:9f86d081", Subject: "alice",
		})
		// ... instantiate the plugin and run the tool with the returned context ...
		call.End(telemetry.Outcome{
			Result:      telemetry.ResultOK,
			Instantiate: 2 * time.Millisecond,
			Execute:     time.Millisecond,
			BytesIn:     27,
			BytesOut:    64,
		})
	})
	endpoint := tel.Middleware(mux)
	endpoint.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	tel.RecordRateLimited("say")

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "warden_calls_") || strings.HasPrefix(line, "warden_ratelimit_") {
			fmt.Println(line)
		}
	}
	for _, s := range tel.Stats() {
		fmt.Printf("%s: %d calls, %d errors, %d rate-limited\n", s.Tool, s.Calls, s.Errors, s.RateLimited)
	}
	// Output:
	// warden_calls_in_flight{tool="say"} 0
	// warden_calls_total{outcome="ok",tool="say"} 1
	// warden_ratelimit_rejections_total{tool="say"} 1
	// say: 1 calls, 0 errors, 1 rate-limited
}

// ExampleLogHandler stamps log records with the IDs of the span in their
// context.
func ExampleLogHandler() {
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	})))
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID}))

	log.InfoContext(ctx, "call finished", "tool", "say")
	// Output:
	// {"level":"INFO","msg":"call finished","tool":"say","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
}
