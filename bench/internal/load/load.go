// Package load is a closed-loop load generator for MCP tools/call over
// Streamable HTTP, shared by bench/loadgen (the command) and bench/run (the
// side-by-side benchmark).
//
// Each client is one goroutine that sends a call, waits for the whole answer,
// checks it and sends the next: the offered load adapts to the server
// (closed loop), so the figures are latency under N concurrent callers and
// the throughput that concurrency reaches. Connections are kept alive and
// reused. No initialize is sent: the servers measured are stateless.
package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultProtocolVersion is the MCP revision the generator speaks.
const DefaultProtocolVersion = "2025-11-25"

// maxErrorSamples is how many distinct error messages a Result keeps.
const maxErrorSamples = 5

// maxAnswerBytes caps how much of an answer is read.
const maxAnswerBytes = 16 << 20

// Config is one workload: N clients calling one tool.
type Config struct {
	// URL is the MCP endpoint, e.g. http://127.0.0.1:8080/mcp.
	URL string
	// Tool and Args are the tools/call name and arguments (a JSON object;
	// empty means {}).
	Tool string
	Args json.RawMessage
	// Clients is the number of concurrent closed-loop callers (default 1).
	Clients int
	// Warmup is run first and not measured; Duration is then measured.
	Warmup, Duration time.Duration
	// MaxCalls, when > 0, ends the measured phase after that many calls.
	MaxCalls int64
	// Timeout bounds each call (default 10 s).
	Timeout time.Duration
	// ProtocolVersion is sent as Mcp-Protocol-Version (default
	// DefaultProtocolVersion). From 2026-07-28 on, the request also carries
	// the per-request _meta and the Mcp-Method and Mcp-Name headers that
	// revision requires.
	ProtocolVersion string
	// Expect, when set, must occur in every answer (the JSON-RPC response
	// message); any other answer counts as an error.
	Expect string
	// Check, when set, is called with the text content of every successful
	// answer; an error counts the call as an error.
	Check func(text string) error
	// Client is the HTTP client to use; nil makes one sized for Clients,
	// with keep-alive and no proxy.
	Client *http.Client
}

// Result is what one workload measured.
type Result struct {
	Tool    string `json:"tool"`
	Clients int    `json:"clients"`
	// Seconds is the measured window.
	Seconds float64 `json:"seconds"`
	// Calls and Errors count the calls that started and ended in the
	// measured window; failed calls are not in the latency figures.
	Calls       int64   `json:"calls"`
	Errors      int64   `json:"errors"`
	CallsPerSec float64 `json:"callsPerSec"`
	// Latencies of the successful calls, in milliseconds.
	P50  float64 `json:"p50Ms"`
	P90  float64 `json:"p90Ms"`
	P99  float64 `json:"p99Ms"`
	Max  float64 `json:"maxMs"`
	Mean float64 `json:"meanMs"`
	// WarmupCalls and WarmupErrors count the calls of the warm-up.
	WarmupCalls  int64 `json:"warmupCalls"`
	WarmupErrors int64 `json:"warmupErrors"`
	// Conns is the number of TCP connections opened (keep-alive works when
	// it stays at about Clients).
	Conns int64 `json:"conns"`
	// ErrorSamples are a few distinct error messages.
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

// Run runs the workload: warm-up, then the measured window. It returns an
// error only for a bad configuration; failed calls are counted in Result.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	client := c.Client
	if client == nil {
		client = NewClient(c.Clients)
		defer client.CloseIdleConnections()
	}
	var (
		conns    atomic.Int64
		measured atomic.Int64 // calls started in the measured window
		stop     = make(chan struct{})
		errMu    sync.Mutex
		samples  []string
	)
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			conns.Add(1)
		}
	}}
	noteErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		msg := err.Error()
		if len(samples) < maxErrorSamples && !slices.Contains(samples, msg) {
			samples = append(samples, msg)
		}
	}
	type clientStats struct {
		lat                 []time.Duration
		errs, wCalls, wErrs int64
	}
	stats := make([]clientStats, c.Clients)
	start := time.Now()
	measureFrom := start.Add(c.Warmup)
	measureTo := measureFrom.Add(c.Duration)
	ctx, cancel := context.WithDeadline(ctx, measureTo.Add(c.Timeout))
	defer cancel()
	go func() {
		select {
		case <-time.After(time.Until(measureTo)):
		case <-ctx.Done():
		}
		close(stop)
	}()

	var wg sync.WaitGroup
	for i := range c.Clients {
		wg.Add(1)
		go func(st *clientStats) {
			defer wg.Done()
			var id int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				inWindow := !t0.Before(measureFrom)
				if inWindow && c.MaxCalls > 0 && measured.Add(1) > c.MaxCalls {
					return
				}
				id++
				err := c.call(httptrace.WithClientTrace(ctx, trace), client, id)
				t1 := time.Now()
				switch {
				case !inWindow:
					st.wCalls++
					if err != nil {
						st.wErrs++
						noteErr(fmt.Errorf("warm-up: %w", err))
					}
				case t1.After(measureTo):
					// Ended after the window: not counted (at most one per
					// client), unless it shows a failure worth reporting.
					if err != nil && ctx.Err() == nil {
						st.errs++
						noteErr(err)
					}
				case err != nil:
					st.errs++
					noteErr(err)
				default:
					st.lat = append(st.lat, t1.Sub(t0))
				}
			}
		}(&stats[i])
	}
	wg.Wait()
	end := time.Now()

	r := &Result{Tool: c.Tool, Clients: c.Clients, Conns: conns.Load(), ErrorSamples: samples}
	var all []time.Duration
	for _, st := range stats {
		all = append(all, st.lat...)
		r.Errors += st.errs
		r.WarmupCalls += st.wCalls
		r.WarmupErrors += st.wErrs
	}
	window := measureTo.Sub(measureFrom)
	if c.MaxCalls > 0 && end.Before(measureTo) {
		window = end.Sub(measureFrom)
	}
	r.Seconds = window.Seconds()
	r.Calls = int64(len(all)) + r.Errors
	if r.Seconds > 0 {
		r.CallsPerSec = float64(r.Calls) / r.Seconds
	}
	if len(all) > 0 {
		slices.Sort(all)
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		r.P50 = ms(Percentile(all, 50))
		r.P90 = ms(Percentile(all, 90))
		r.P99 = ms(Percentile(all, 99))
		r.Max = ms(all[len(all)-1])
		r.Mean = ms(sum / time.Duration(len(all)))
	}
	return r, nil
}

// Percentile returns the p-th percentile (nearest rank) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// NewClient returns an HTTP client for clients concurrent callers: keep-alive
// with enough idle connections for all of them, no proxy, no compression.
func NewClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// CheckLoopback refuses URLs whose host is not a loopback address: the
// generator is for benchmarking one's own servers.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address", h)
}

func (c *Config) defaults() error {
	if c.URL == "" || c.Tool == "" {
		return errors.New("load: URL and Tool are required")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("load: bad URL %q", c.URL)
	}
	if len(bytes.TrimSpace(c.Args)) == 0 {
		c.Args = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Args, &obj); err != nil || obj == nil {
		return fmt.Errorf("load: arguments must be a JSON object: %s", c.Args)
	}
	if c.Clients < 1 {
		c.Clients = 1
	}
	if c.Duration <= 0 && c.MaxCalls <= 0 {
		return errors.New("load: a duration or a call count is required")
	}
	if c.Duration <= 0 {
		c.Duration = 24 * time.Hour
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ProtocolVersion == "" {
		c.ProtocolVersion = DefaultProtocolVersion
	}
	return nil
}

// call sends one tools/call and checks the answer.
func (c *Config) call(ctx context.Context, client *http.Client, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	body := c.body(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", c.ProtocolVersion)
	if c.ProtocolVersion >= "2026-07-28" {
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", c.Tool)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(raw))
	}
	msg := raw
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		if msg, err = sseResponse(raw); err != nil {
			return err
		}
	}
	var out struct {
		ID     json.RawMessage `json:"id"`
		Result *struct {
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &out); err != nil {
		return fmt.Errorf("answer is not JSON-RPC: %s", clip(msg))
	}
	switch {
	case out.Error != nil:
		return fmt.Errorf("JSON-RPC error %d: %s", out.Error.Code, out.Error.Message)
	case out.Result == nil:
		return fmt.Errorf("answer has no result: %s", clip(msg))
	case string(out.ID) != strconv.FormatInt(id, 10):
		return fmt.Errorf("answer is for id %s, not %d", out.ID, id)
	case out.Result.IsError:
		return fmt.Errorf("tool error: %s", clip(msg))
	case c.Expect != "" && !bytes.Contains(msg, []byte(c.Expect)):
		return fmt.Errorf("answer lacks %q: %s", c.Expect, clip(msg))
	}
	if c.Check != nil {
		var texts []string
		for _, ct := range out.Result.Content {
			if ct.Type == "text" {
				texts = append(texts, ct.Text)
			}
		}
		return c.Check(strings.Join(texts, "\n"))
	}
	return nil
}

func (c *Config) body(id int64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.WriteString(strconv.FormatInt(id, 10))
	b.WriteString(`,"method":"tools/call","params":{"name":`)
	name, _ := json.Marshal(c.Tool)
	b.Write(name)
	b.WriteString(`,"arguments":`)
	b.Write(c.Args)
	if c.ProtocolVersion >= "2026-07-28" {
		v, _ := json.Marshal(c.ProtocolVersion)
		b.WriteString(`,"_meta":{"io.modelcontextprotocol/protocolVersion":`)
		b.Write(v)
		b.WriteString(`,"io.modelcontextprotocol/clientInfo":{"name":"warden-bench","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// sseResponse returns the JSON-RPC response carried by an SSE stream: the
// data of the first event that holds a result or an error.
func sseResponse(raw []byte) ([]byte, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), maxAnswerBytes)
	var data []byte
	flush := func() []byte {
		d := data
		data = nil
		if len(d) == 0 {
			return nil
		}
		var probe struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(d, &probe) == nil && (probe.Result != nil || probe.Error != nil) {
			return d
		}
		return nil
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if d := flush(); d != nil {
				return d, nil
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
	}
	if d := flush(); d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("event stream holds no JSON-RPC response: %s", clip(raw))
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Text renders r as the generator's human-readable report.
func (r *Result) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tool %s, %d client(s), %.1f s measured (%d warm-up calls)\n", r.Tool, r.Clients, r.Seconds, r.WarmupCalls)
	fmt.Fprintf(&b, "  calls    %d (%.0f calls/s), errors %d, connections opened %d\n", r.Calls, r.CallsPerSec, r.Errors, r.Conns)
	fmt.Fprintf(&b, "  latency  p50 %s  p90 %s  p99 %s  max %s  mean %s\n", FormatMs(r.P50), FormatMs(r.P90), FormatMs(r.P99), FormatMs(r.Max), FormatMs(r.Mean))
	if r.WarmupErrors > 0 {
		fmt.Fprintf(&b, "  warm-up errors %d\n", r.WarmupErrors)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  error: %s\n", s)
	}
	return b.String()
}

// FormatMs prints a latency in milliseconds with a sensible precision.
func FormatMs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}
