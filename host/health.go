package host

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host/internal/telemetry"
)

// Probe is a plugin's health check: one tool call with fixed arguments,
// run by /readyz?deep=1 on the admin listener.
type Probe struct {
	Tool      string
	Arguments json.RawMessage
}

// Probe outcomes, as the seed names them.
const (
	Healthy   = "healthy"   // the probe call returned a result in time
	Degraded  = "degraded"  // it returned isError, or took longer than ProbeSlow
	Unhealthy = "unhealthy" // the call failed (trap, timeout, refused capability…)
	Unprobed  = "unprobed"  // the plugin has no probe configured
)

// Probe timing: each probe has ProbeTimeout; results are reused for
// ProbeCacheTTL so the endpoint cannot be used to run tools at will.
const (
	ProbeTimeout  = 5 * time.Second
	ProbeSlow     = 2 * time.Second
	ProbeCacheTTL = 30 * time.Second
)

// ProbeResult is one plugin's deep readiness.
type ProbeResult struct {
	Plugin    string    `json:"plugin"`
	Tool      string    `json:"tool,omitempty"`
	Status    string    `json:"status"`
	LatencyMs float64   `json:"latencyMs,omitempty"`
	Error     string    `json:"error,omitempty"`
	Checked   time.Time `json:"checked"`
}

// DeepStatus is what /readyz?deep=1 reports.
type DeepStatus struct {
	Ready   bool           `json:"ready"`
	Plugins []ProbeResult  `json:"plugins"`
	Failed  []PluginStatus `json:"failed,omitempty"`
}

type probeCache struct {
	mu      sync.Mutex
	catalog *catalog
	at      time.Time
	results []ProbeResult
}

// DeepReady runs (or reuses, within ProbeCacheTTL) every plugin's probe.
func (s *Server) DeepReady(ctx context.Context) DeepStatus {
	c := s.current.Load()
	s.probes.mu.Lock()
	defer s.probes.mu.Unlock()
	if s.probes.catalog != c || time.Since(s.probes.at) > ProbeCacheTTL {
		s.probes.results = s.runProbes(ctx, c)
		s.probes.catalog, s.probes.at = c, time.Now()
	}
	st := s.Status()
	out := DeepStatus{Ready: st.Ready, Plugins: s.probes.results, Failed: st.Failed}
	for _, r := range out.Plugins {
		if r.Status == Unhealthy {
			out.Ready = false
		}
	}
	return out
}

func (s *Server) runProbes(ctx context.Context, c *catalog) []ProbeResult {
	results := make([]ProbeResult, len(c.plugins))
	var wg sync.WaitGroup
	for i, p := range c.plugins {
		results[i] = ProbeResult{Plugin: p.Name, Status: Unprobed, Checked: time.Now().UTC()}
		if p.Probe == nil {
			continue
		}
		wg.Add(1)
		go func(i int, p *Plugin) {
			defer wg.Done()
			r := &results[i]
			r.Tool = p.Probe.Tool
			pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
			defer cancel()
			sb, err := s.sandbox(pctx, p)
			if err != nil {
				r.Status, r.Error = Unhealthy, err.Error()
				return
			}
			defer sb.Close()
			start := time.Now()
			res, err := p.Module.Call(pctx, p.Probe.Tool, p.Probe.Arguments, sb)
			r.LatencyMs = ms(time.Since(start))
			switch {
			case err != nil:
				r.Status, r.Error = Unhealthy, err.Error()
			case res.IsError:
				r.Status, r.Error = Degraded, "the probe returned isError"
			case time.Since(start) > ProbeSlow:
				r.Status, r.Error = Degraded, fmt.Sprintf("the probe took longer than %s", ProbeSlow)
			default:
				r.Status = Healthy
			}
		}(i, p)
	}
	wg.Wait()
	return results
}

// AdminHandler serves the operator endpoints: /metrics, /healthz,
// /readyz (with ?deep=1 for probes) and the status page at /.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.tel.MetricsHandler())
	mux.Handle("/healthz", s)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("deep") == "" {
			s.ServeHTTP(w, r)
			return
		}
		d := s.DeepReady(r.Context())
		code := http.StatusOK
		if !d.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, d)
	})
	mux.HandleFunc("/{$}", s.statusPage)
	return mux
}

// statusPage renders the plugins, their grants and their calls since start:
// read-only HTML with no external assets.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	c := s.current.Load()
	stats := map[string]struct {
		Calls, Errors uint64
		Rate          string
		P50, P90, P99 string
	}{}
	for _, ts := range s.tel.Stats() {
		stats[ts.Tool] = struct {
			Calls, Errors uint64
			Rate          string
			P50, P90, P99 string
		}{ts.Calls, ts.Errors, fmt.Sprintf("%.1f%%", 100*ts.ErrorRate()), dur(ts.P50), dur(ts.P90), dur(ts.P99)}
	}
	type toolRow struct {
		Name                     string
		Calls, Errors            uint64
		ErrorRate, P50, P90, P99 string
	}
	type pluginRow struct {
		Name, Digest, Signer, Grant string
		Tools                       []toolRow
	}
	var rows []pluginRow
	for _, p := range c.plugins {
		pr := pluginRow{Name: p.Name, Digest: p.Module.Digest(), Signer: p.Signer, Grant: grantSummary(p.Grant)}
		for _, name := range c.order {
			st := c.tools[name]
			if st.plugin != p {
				continue
			}
			t, ok := stats[name]
			if !ok {
				t.Rate, t.P50, t.P90, t.P99 = "–", "–", "–", "–"
			}
			pr.Tools = append(pr.Tools, toolRow{Name: name, Calls: t.Calls, Errors: t.Errors, ErrorRate: t.Rate, P50: t.P50, P90: t.P90, P99: t.P99})
		}
		rows = append(rows, pr)
	}
	st := s.Status()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = statusTmpl.Execute(w, map[string]any{"Plugins": rows, "Failed": st.Failed, "Ready": st.Ready, "Updated": st.Updated.Format(time.RFC3339), "Version": Version})
}

func dur(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return d.Round(10 * time.Microsecond).String()
}

// grantSummary is one line a reviewer can read: what the plugin may touch.
func grantSummary(g *capabilities.Grant) string {
	if g == nil {
		return "nothing but computation (no grant)"
	}
	var parts []string
	for _, r := range g.Network.Allow {
		parts = append(parts, "net "+r.String())
	}
	for _, m := range g.Filesystem {
		parts = append(parts, fmt.Sprintf("fs %s→%s (%s)", m.Host, m.Guest, m.Mode))
	}
	for _, sec := range g.Secrets {
		parts = append(parts, "secret "+sec.Name)
	}
	sort.Strings(parts)
	l := g.EffectiveLimits()
	parts = append(parts, fmt.Sprintf("limits %s / %s / %s out", l.Memory, l.Timeout, l.Output))
	return strings.Join(parts, "; ")
}

var statusTmpl = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warden status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3} code{font-size:12px} .bad{color:#a00} .ok{color:#070}
</style></head><body>
<h1>Warden {{.Version}} — <span class="{{if .Ready}}ok{{else}}bad{{end}}">{{if .Ready}}ready{{else}}not ready{{end}}</span></h1>
<p>Plugin set loaded {{.Updated}}. Figures are since this process started.</p>
{{range .Plugins}}
<h2 id="plugin-{{.Name}}">{{.Name}}</h2>
<p>digest <code>{{.Digest}}</code>{{if .Signer}}<br>signer <code>{{.Signer}}</code>{{end}}<br>grant: {{.Grant}}</p>
<table><tr><th>tool</th><th>calls</th><th>errors</th><th>error rate</th><th>p50</th><th>p90</th><th>p99</th></tr>
{{range .Tools}}<tr><td><code>{{.Name}}</code></td><td>{{.Calls}}</td><td>{{.Errors}}</td><td>{{.ErrorRate}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td></tr>
{{end}}</table>
{{end}}
{{if .Failed}}<h2 class="bad">Refused plugins</h2><table><tr><th>plugin</th><th>why</th></tr>
{{range .Failed}}<tr><td>{{.Name}}</td><td>{{.Error}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

// RecordLoadFailure counts a plugin that could not be loaded or verified,
// by a short reason, in the metrics.
func (s *Server) RecordLoadFailure(plugin, reason string) { s.tel.RecordLoadFailure(plugin, reason) }

// LogHandler wraps h so that records logged with a request's context carry
// its trace_id and span_id.
func LogHandler(h slog.Handler) slog.Handler { return telemetry.LogHandler(h) }
