package load_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/bench/internal/load"
	"github.com/wardenmcp/warden/bench/internal/nativesrv"
)

func TestRunNative(t *testing.T) {
	srv := httptest.NewServer(nativesrv.Handler())
	defer srv.Close()
	base := load.Config{URL: srv.URL + nativesrv.Endpoint, Tool: "greet", Args: json.RawMessage(`{"name":"Ada"}`),
		Clients: 2, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond}

	c := base
	c.Expect = "Hello, Ada!"
	r, err := load.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Calls == 0 || r.Errors != 0 || r.WarmupErrors != 0 || r.P50 <= 0 || r.P50 > r.Max || r.Conns > 4 {
		t.Fatalf("unexpected result: %+v", r)
	}

	c = base
	c.Expect = "Hello, Bob!"
	if r, err = load.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if r.Calls == 0 || r.Errors != r.Calls || len(r.ErrorSamples) == 0 || !strings.Contains(r.ErrorSamples[0], "lacks") {
		t.Fatalf("a wrong answer was not an error: %+v", r)
	}

	c = base
	c.Tool, c.MaxCalls, c.Duration = "nope", 5, 0
	if r, err = load.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if r.Errors != r.Calls || r.Calls < 5 {
		t.Fatalf("an unknown tool was not an error: %+v", r)
	}
}

func TestSSEAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n" +
			"event: message\ndata: {\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"1\"}]},\"jsonrpc\":\"2.0\",\"id\":" + string(req.ID) + "}\n\n"))
	}))
	defer srv.Close()
	var texts []string
	r, err := load.Run(context.Background(), load.Config{URL: srv.URL, Tool: "count", MaxCalls: 3,
		Check: func(text string) error { texts = append(texts, text); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Calls != 3 || strings.Join(texts, ",") != "1,1,1" {
		t.Fatalf("result %+v, texts %q", r, texts)
	}
}

func TestCheckLoopback(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://127.0.0.1:8080/mcp": true, "http://localhost/mcp": true, "http://[::1]:1/mcp": true,
		"http://10.0.0.1/mcp": false, "https://example.com/mcp": false,
	} {
		if err := load.CheckLoopback(u); (err == nil) != ok {
			t.Errorf("CheckLoopback(%s) = %v", u, err)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if load.Percentile(d, 50) != 50 || load.Percentile(d, 99) != 99 || load.Percentile(d, 100) != 100 || load.Percentile(d[:1], 50) != 1 {
		t.Fatal("nearest-rank percentiles are wrong")
	}
}
