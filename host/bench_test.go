package host_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/host"
)

// BenchmarkToolsCall measures one tools/call of hello.greet through the
// whole endpoint (HTTP, JSON-RPC, validation, telemetry, a fresh instance)
// over loopback, one caller at a time and one per CPU.
func BenchmarkToolsCall(b *testing.B) {
	module(b, "hello", "./examples/hello")
	s, err := host.New(host.Options{Runtime: rt})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Swap([]*host.Plugin{{Name: "hello", Module: module(b, "hello", "./examples/hello")}}, nil); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hello.greet","arguments":{"name":"Ada"}}}`)
	call := func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(out), "Hello, Ada!") {
			b.Fatalf("answer %s", out)
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			call(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call(b)
			}
		})
	})
}
