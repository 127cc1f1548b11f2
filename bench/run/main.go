// Command run is Warden's side-by-side benchmark (issue 8): it serves the
// same greet tool three ways and loads each with the closed-loop generator
// of bench/loadgen, in one go:
//
//   - warden: examples/hello built with GOOS=wasip1 GOARCH=wasm
//     -buildmode=c-shared, served by host.New + plugins.NewRuntime (on-disk
//     compilation cache, auth off) as tool hello.greet — a fresh sandbox
//     per call;
//   - native: the same tool in mcp-go v1.2.1, stateless (bench/native);
//   - ts: the official TypeScript SDK 1.32.2 with a fresh McpServer and
//     transport per POST (bench/tsserver; skipped with a note when its
//     node_modules is missing, unless -require-ts).
//
// Each server runs in its own child process, so that its peak RSS and CPU
// time are its own and not the load generator's. For each client count
// (default 1 and 8) every server is measured, then Warden alone: an
// isolation phase (8 greet clients while plugins/testdata/counter's count
// must answer "1" and random must never repeat) and 64 clients with the
// server's peak RSS. Start-up is measured in this process: a fresh
// host.Server ready with 10 plugins from a warm on-disk compilation cache.
// It prints a table and the targets, each marked met or not.
//
//	go run ./bench/run                      # about a minute with the defaults
//	go run ./bench/run -duration 10s -json bench.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wardenmcp/warden/bench/internal/load"
)

// options are bench/run's flags.
type options struct {
	duration, warmup, pause time.Duration
	clients                 []int
	rssClients, isoClients  int
	startupPlugins, runs    int
	sameBytes               bool
	requireTS, strict       bool
	node, cacheDir, jsonOut string
	protocolVersion         string
	servers                 map[string]bool
}

// The servers, in the order they are measured.
const (
	srvWarden = "warden"
	srvNative = "native"
	srvTS     = "ts"
)

var serverInfo = map[string]struct{ tool, desc string }{
	srvWarden: {helloPlugin + ".greet", "Warden: examples/hello (Go, wasip1) in a fresh wazero instance per call"},
	srvNative: {"greet", "native: mcp-go v1.2.1 stateless Streamable HTTP, compiled in"},
	srvTS:     {"greet", "ts: TypeScript SDK 1.32.2, fresh McpServer + transport per POST (Node)"},
}

const (
	greetArgs   = `{"name":"Ada"}`
	greetExpect = "Hello, Ada!"
)

func main() {
	var (
		o        options
		clients  string
		servers  string
		role     string
		wasmDir  string
		defCache string
	)
	if base, err := os.UserCacheDir(); err == nil {
		defCache = filepath.Join(base, "warden-bench", "wazero")
	} else {
		defCache = filepath.Join(os.TempDir(), "warden-bench", "wazero")
	}
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured duration of each phase")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up of each phase (not measured)")
	flag.DurationVar(&o.pause, "pause", 300*time.Millisecond, "idle time between phases")
	flag.StringVar(&clients, "clients", "1,8", "client counts measured on every server (the smallest gives the latency ratio, the largest the throughput ratios)")
	flag.IntVar(&o.rssClients, "rss-clients", 64, "clients of the Warden phase that measures peak RSS (0: skip)")
	flag.IntVar(&o.isoClients, "isolation-clients", 8, "greet clients loading Warden during the isolation phase (0: skip the phase)")
	flag.IntVar(&o.startupPlugins, "startup-plugins", 10, "plugins loaded for the start-up measurement (0: skip)")
	flag.IntVar(&o.runs, "startup-runs", 3, "start-up measurements (the median is reported)")
	flag.BoolVar(&o.sameBytes, "startup-same-bytes", false, "start-up loads the identical hello module under every name (wazero then compiles or reads it once) instead of distinct copies")
	flag.StringVar(&servers, "servers", "warden,native,ts", "servers to measure")
	flag.BoolVar(&o.requireTS, "require-ts", false, "fail, instead of skipping the TypeScript server, when bench/tsserver is not installed (npm ci) or node is missing")
	flag.StringVar(&o.node, "node", "node", "Node.js (20 or later) executable for the TypeScript server")
	flag.StringVar(&o.cacheDir, "cache-dir", defCache, "on-disk compilation cache for Warden")
	flag.StringVar(&o.jsonOut, "json", "", "also write every figure as JSON to this file")
	flag.StringVar(&o.protocolVersion, "protocol-version", load.DefaultProtocolVersion, "Mcp-Protocol-Version the load generator sends")
	flag.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	flag.StringVar(&role, "serve", "", "internal: serve one server (warden or native) as a child process")
	flag.StringVar(&wasmDir, "wasm-dir", "", "internal: where -serve warden finds hello.wasm and counter.wasm")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./bench/run [flags]\n\nRuns Warden, a native mcp-go server and the TypeScript SDK side by side and prints\nissue 8's targets. Only 127.0.0.1 is loaded.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if role != "" {
		if err := runChild(role, wasmDir, o.cacheDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench/run -serve:", err)
			os.Exit(1)
		}
		return
	}
	for f := range strings.SplitSeq(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench/run: -clients: %q is not a positive number\n", f)
			os.Exit(2)
		}
		o.clients = append(o.clients, n)
	}
	o.servers = map[string]bool{}
	for f := range strings.SplitSeq(servers, ",") {
		f = strings.TrimSpace(f)
		if _, ok := serverInfo[f]; !ok {
			fmt.Fprintf(os.Stderr, "bench/run: -servers: unknown server %q (want warden, native, ts)\n", f)
			os.Exit(2)
		}
		o.servers[f] = true
	}
	if o.duration <= 0 || o.warmup < 0 {
		fmt.Fprintln(os.Stderr, "bench/run: -duration must be positive and -warmup not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// phase is one measured workload on one server.
type phase struct {
	Server string       `json:"server"`
	Kind   string       `json:"kind"` // "clients", "isolation", "rss"
	Load   *load.Result `json:"load"`
	// Of the server process during the phase (warm-up included); zero on
	// the isolation phase's side workloads.
	PeakRSS      int64   `json:"peakRSSBytes,omitempty"`
	RSSSource    string  `json:"peakRSSSource,omitempty"`
	SampledRSS   int64   `json:"sampledRSSBytes,omitempty"`
	CPUPerCallMs float64 `json:"cpuPerCallMs,omitempty"`
	// Warden's mean time per call running the guest's export, and taking
	// or making its instance (warm-up included), from its /metrics.
	GuestExecuteMs float64 `json:"guestExecuteMeanMs,omitempty"`
	InstantiateMs  float64 `json:"instantiateMeanMs,omitempty"`
}

// target is one of issue 8's targets.
type target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Goal     string `json:"goal"`
	Met      string `json:"met"` // "yes", "no", "n/a"
	Note     string `json:"note,omitempty"`
}

type report struct {
	Machine          map[string]string `json:"machine"`
	Started          time.Time         `json:"started"`
	DurationPerPhase string            `json:"durationPerPhase"`
	Warmup           string            `json:"warmup"`
	Startup          *startupResult    `json:"startup,omitempty"`
	StartupSameBytes *startupResult    `json:"startupSameBytes,omitempty"`
	StartupFloor     *floorResult      `json:"startupFloor,omitempty"`
	Phases           []*phase          `json:"phases"`
	Targets          []target          `json:"targets"`
	Notes            []string          `json:"notes,omitempty"`
}

func run(ctx context.Context, o options) (int, error) {
	rep := &report{Machine: machineInfo(), Started: time.Now(), DurationPerPhase: o.duration.String(), Warmup: o.warmup.String()}
	say := func(format string, a ...any) { fmt.Printf("• "+format+"\n", a...) }
	note := func(format string, a ...any) {
		rep.Notes = append(rep.Notes, fmt.Sprintf(format, a...))
		say(format, a...)
	}
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	fmt.Printf("Warden benchmark (issue 8) — %s, %s cores, %s, %s, load average %s\n",
		rep.Machine["cpu"], rep.Machine["cores"], rep.Machine["platform"], rep.Machine["go"], rep.Machine["loadavg"])
	fmt.Printf("phases: %v measured after %v warm-up; clients %v; servers in their own processes on 127.0.0.1\n\n", o.duration, o.warmup, o.clients)

	// TypeScript reference: present?
	if o.servers[srvTS] {
		if why := tsMissing(root, o.node); why != "" {
			if o.requireTS {
				return 0, fmt.Errorf("TypeScript server: %s (-require-ts is set)", why)
			}
			delete(o.servers, srvTS)
			note("TypeScript server SKIPPED: %s; run `cd bench/tsserver && npm ci` (or pass -require-ts to fail instead)", why)
		} else {
			out, _ := exec.Command(o.node, "--version").Output()
			rep.Machine["node"] = strings.TrimSpace(string(out))
		}
	}

	// Build the plugins.
	wasmDir := filepath.Join(filepath.Dir(o.cacheDir), "plugins")
	if err := os.MkdirAll(wasmDir, 0o700); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for name, pkg := range map[string]string{helloPlugin: "./examples/hello", counterPlugin: "./plugins/testdata/counter"} {
		if err := buildPlugin(ctx, root, pkg, filepath.Join(wasmDir, name+".wasm")); err != nil {
			return 0, err
		}
	}
	say("built examples/hello and plugins/testdata/counter (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) in %v", time.Since(t0).Round(time.Millisecond))
	hello, err := os.ReadFile(filepath.Join(wasmDir, helloPlugin+".wasm"))
	if err != nil {
		return 0, err
	}
	counter, err := os.ReadFile(filepath.Join(wasmDir, counterPlugin+".wasm"))
	if err != nil {
		return 0, err
	}
	t0 = time.Now()
	if err := warmCache(ctx, o.cacheDir, []string{helloPlugin, counterPlugin}, [][]byte{hello, counter}); err != nil {
		return 0, err
	}
	say("compilation cache %s warm (%v; the first run compiles, about 2 s a module)", o.cacheDir, time.Since(t0).Round(time.Millisecond))

	// Start-up.
	if o.startupPlugins > 0 {
		t0 = time.Now()
		if rep.Startup, err = measureStartup(ctx, o.cacheDir, hello, o.startupPlugins, o.runs, o.sameBytes); err != nil {
			return 0, fmt.Errorf("start-up: %w", err)
		}
		kind := "distinct modules (hello + a custom section each)"
		if o.sameBytes {
			kind = "the same hello module under each name"
		}
		say("start-up with %d plugins, %s: median %s of %s", o.startupPlugins, kind, fmtDur(rep.Startup.Median), fmtDurs(rep.Startup.Runs))
		if !o.sameBytes {
			if rep.StartupSameBytes, err = measureStartup(ctx, o.cacheDir, hello, o.startupPlugins, o.runs, true); err != nil {
				return 0, fmt.Errorf("start-up: %w", err)
			}
			say("start-up with the same hello module under %d names (for comparison): median %s", o.startupPlugins, fmtDur(rep.StartupSameBytes.Median))
		}
		if rep.StartupFloor, err = measureFloor(ctx, o.cacheDir, hello, o.startupPlugins, o.runs); err != nil {
			return 0, fmt.Errorf("start-up floor: %w", err)
		}
		say("wazero alone, compiling %d distinct unmodified modules from its warm cache (the floor): median %s of %s", o.startupPlugins, fmtDur(rep.StartupFloor.Median), fmtDurs(rep.StartupFloor.Runs))
		say("start-up measured in %v (a first run also compiles the new cache entries)", time.Since(t0).Round(time.Millisecond))
		runtime.GC()
	}

	// Servers.
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, s := range []string{srvWarden, srvNative, srvTS} {
		if !o.servers[s] {
			continue
		}
		var cmd *exec.Cmd
		switch s {
		case srvWarden, srvNative:
			cmd = exec.Command(exe, "-serve", s, "-wasm-dir", wasmDir, "-cache-dir", o.cacheDir)
		case srvTS:
			cmd = exec.Command(o.node, "server.mjs")
			cmd.Dir = filepath.Join(root, "bench", "tsserver")
			cmd.Env = append(os.Environ(), "PORT=0", "HOST=127.0.0.1", "EXIT_ON_STDIN_EOF=1")
		}
		p, err := startProc(s, cmd, 60*time.Second)
		if err != nil {
			return 0, err
		}
		procs[s] = p
		if err := load.CheckLoopback(p.url); err != nil {
			return 0, err
		}
		// One checked call before measuring anything.
		r, err := load.Run(ctx, load.Config{URL: p.url, Tool: serverInfo[s].tool, Args: json.RawMessage(greetArgs), Expect: greetExpect, MaxCalls: 1, ProtocolVersion: o.protocolVersion})
		if err != nil {
			return 0, err
		}
		if r.Errors > 0 {
			return 0, fmt.Errorf("%s at %s does not answer greet correctly: %s\n%s", s, p.url, strings.Join(r.ErrorSamples, "; "), p.stderr.String())
		}
		desc := serverInfo[s].desc
		if s == srvTS {
			desc += " " + rep.Machine["node"]
		}
		say("%-6s pid %-7d %s  — %s", s, p.pid(), p.url, desc)
	}
	fmt.Println()

	measure := func(s, kind string, clients int, side func()) (*phase, error) {
		p := procs[s]
		if err := p.alive(); err != nil {
			return nil, err
		}
		time.Sleep(o.pause)
		var before guestTimes
		if s == srvWarden {
			var err error
			if before, err = scrapeGuestTimes(p.url); err != nil {
				return nil, fmt.Errorf("warden metrics: %w", err)
			}
		}
		smp := startSampler(p.pid())
		var wg sync.WaitGroup
		if side != nil {
			wg.Go(side)
		}
		r, err := load.Run(ctx, load.Config{URL: p.url, Tool: serverInfo[s].tool, Args: json.RawMessage(greetArgs), Expect: greetExpect,
			Clients: clients, Warmup: o.warmup, Duration: o.duration, ProtocolVersion: o.protocolVersion})
		wg.Wait()
		m := smp.stop()
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ph := &phase{Server: s, Kind: kind, Load: r, PeakRSS: m.PeakRSS, RSSSource: m.Source, SampledRSS: m.SampledRSS}
		if s == srvWarden {
			after, err := scrapeGuestTimes(p.url)
			if err != nil {
				return nil, fmt.Errorf("warden metrics: %w", err)
			}
			if n := after.execCount - before.execCount; n > 0 {
				ph.GuestExecuteMs = (after.execSum - before.execSum) / n * 1e3
			}
			if n := after.instCount - before.instCount; n > 0 {
				ph.InstantiateMs = (after.instSum - before.instSum) / n * 1e3
			}
		}
		if n := r.Calls + r.WarmupCalls; m.CPUOK && n > 0 {
			ph.CPUPerCallMs = float64(m.CPU.Nanoseconds()) / 1e6 / float64(n)
		}
		fmt.Printf("  %-6s %-16s %3d clients  %8.0f calls/s  p50 %-9s p99 %-9s errors %d\n", s, serverInfo[s].tool, clients, r.CallsPerSec, load.FormatMs(r.P50), load.FormatMs(r.P99), r.Errors+r.WarmupErrors)
		return ph, nil
	}

	say("load phases (%v warm-up + %v each)", o.warmup, o.duration)
	for _, c := range o.clients {
		for _, s := range []string{srvWarden, srvNative, srvTS} {
			if !o.servers[s] {
				continue
			}
			ph, err := measure(s, "clients", c, nil)
			if err != nil {
				return 0, err
			}
			rep.Phases = append(rep.Phases, ph)
		}
	}

	// Isolation under load: the counter plugin's count must be 1 on every
	// call and random must never repeat, while greet clients load Warden.
	var iso []*phase
	if o.servers[srvWarden] && o.isoClients > 0 {
		url := procs[srvWarden].url
		var seenMu sync.Mutex
		seen := map[string]bool{}
		side := []load.Config{
			{Tool: counterPlugin + ".count", Check: func(text string) error {
				if text != "1" {
					return fmt.Errorf("count answered %q, not \"1\": state survived a call", text)
				}
				return nil
			}},
			{Tool: counterPlugin + ".random", Check: func(text string) error {
				if len(text) != 32 || strings.Trim(text, "0123456789abcdef") != "" {
					return fmt.Errorf("random answered %q, not 16 bytes in hex", text)
				}
				seenMu.Lock()
				defer seenMu.Unlock()
				if seen[text] {
					return fmt.Errorf("random answered %s twice: random state was replayed", text)
				}
				seen[text] = true
				return nil
			}},
		}
		results := make([]*load.Result, len(side))
		errs := make([]error, len(side))
		ph, err := measure(srvWarden, "isolation", o.isoClients, func() {
			var wg sync.WaitGroup
			for i := range side {
				c := side[i]
				c.URL, c.Clients, c.Warmup, c.Duration, c.ProtocolVersion = url, 1, o.warmup, o.duration, o.protocolVersion
				wg.Go(func() { results[i], errs[i] = load.Run(ctx, c) })
			}
			wg.Wait()
		})
		if err != nil {
			return 0, err
		}
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		iso = append(iso, ph)
		for _, r := range results {
			iso = append(iso, &phase{Server: srvWarden, Kind: "isolation", Load: r})
			fmt.Printf("  %-6s %-16s %3d client   %8.0f calls/s  p50 %-9s p99 %-9s violations %d\n", srvWarden, r.Tool, 1, r.CallsPerSec, load.FormatMs(r.P50), load.FormatMs(r.P99), r.Errors+r.WarmupErrors)
		}
		rep.Phases = append(rep.Phases, iso...)
	}

	// Peak RSS under many clients.
	var rss *phase
	if o.servers[srvWarden] && o.rssClients > 0 {
		if rss, err = measure(srvWarden, "rss", o.rssClients, nil); err != nil {
			return 0, err
		}
		rep.Phases = append(rep.Phases, rss)
	}
	for _, p := range procs {
		if err := p.alive(); err != nil {
			return 0, err
		}
	}
	fmt.Println()

	rep.Targets = targets(o, rep, iso, rss)
	printTable(os.Stdout, rep)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return 0, err
		}
		fmt.Printf("\nfigures written to %s\n", o.jsonOut)
	}
	if o.strict {
		for _, t := range rep.Targets {
			if t.Met != "yes" {
				return 1, nil
			}
		}
	}
	return 0, nil
}

// find returns the measured phase of server s with c clients.
func find(rep *report, s string, c int) *phase {
	for _, p := range rep.Phases {
		if p.Server == s && p.Kind == "clients" && p.Load.Clients == c {
			return p
		}
	}
	return nil
}

func targets(o options, rep *report, iso []*phase, rss *phase) []target {
	var ts []target
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	errsOf := func(p *phase) int64 { return p.Load.Errors + p.Load.WarmupErrors }
	lo, hi := o.clients[0], o.clients[0]
	for _, c := range o.clients {
		lo, hi = min(lo, c), max(hi, c)
	}

	// 1. Latency at the lowest concurrency.
	t := target{Name: fmt.Sprintf("%s: p50 Warden / native", clientsLabel(lo)), Goal: "≤ 1.5×"}
	w, n := find(rep, srvWarden, lo), find(rep, srvNative, lo)
	if w != nil && n != nil && w.Load.P50 > 0 && n.Load.P50 > 0 {
		ratio := w.Load.P50 / n.Load.P50
		t.Measured = fmt.Sprintf("%.1f× (%s / %s)", ratio, load.FormatMs(w.Load.P50), load.FormatMs(n.Load.P50))
		t.Met = yes(ratio <= 1.5 && errsOf(w) == 0)
		if w.GuestExecuteMs > 0 {
			// What 1.5× leaves Warden beyond what native spends, against
			// the guest's own share: the floor of this target.
			t.Note = fmt.Sprintf("the guest's export alone: %.3f ms of the %.3f ms that 1.5× leaves beyond native", w.GuestExecuteMs, 0.5*n.Load.P50)
		}
	} else {
		t.Measured, t.Met = "not measured", "n/a"
	}
	ts = append(ts, t)

	// 2, 3. Throughput at the highest concurrency.
	w = find(rep, srvWarden, hi)
	for _, b := range []struct {
		srv, name string
		goal      float64
	}{{srvTS, "TypeScript", 3}, {srvNative, "native", 0.5}} {
		t := target{Name: fmt.Sprintf("%s: calls/s Warden / %s", clientsLabel(hi), b.name), Goal: fmt.Sprintf("≥ %g×", b.goal)}
		other := find(rep, b.srv, hi)
		switch {
		case w == nil || other == nil:
			t.Measured, t.Met = "not measured", "n/a"
			if b.srv == srvTS && !o.servers[srvTS] {
				t.Measured = "TypeScript server skipped"
			}
		case other.Load.CallsPerSec == 0:
			t.Measured, t.Met = b.name+" completed no call", "n/a"
		default:
			ratio := w.Load.CallsPerSec / other.Load.CallsPerSec
			t.Measured = fmt.Sprintf("%.2f× (%.0f / %.0f calls/s)", ratio, w.Load.CallsPerSec, other.Load.CallsPerSec)
			t.Met = yes(ratio >= b.goal && errsOf(w) == 0)
			if errsOf(w) > 0 {
				t.Note = "Warden had errors"
			} else if b.srv == srvNative && w.GuestExecuteMs > 0 && w.CPUPerCallMs > 0 && other.CPUPerCallMs > 0 {
				t.Note = fmt.Sprintf("CPU/call %.3f ms (native %.3f), of which the guest's export %.3f ms", w.CPUPerCallMs, other.CPUPerCallMs, w.GuestExecuteMs)
			}
		}
		ts = append(ts, t)
	}

	// 4. Memory under many clients.
	t = target{Name: fmt.Sprintf("%s: Warden peak RSS, errors", clientsLabel(o.rssClients)), Goal: "≤ 256 MiB, 0 errors"}
	switch {
	case rss == nil:
		t.Measured, t.Met = "not measured", "n/a"
	case rss.PeakRSS == 0:
		t.Measured, t.Met = fmt.Sprintf("RSS unavailable, %d errors", errsOf(rss)), "n/a"
	default:
		t.Measured = fmt.Sprintf("%.0f MiB, %d errors", float64(rss.PeakRSS)/(1<<20), errsOf(rss))
		t.Met = yes(rss.PeakRSS <= 256<<20 && errsOf(rss) == 0)
		t.Note = fmt.Sprintf("%s of the Warden server process; largest VmRSS sampled every 20 ms: %.0f MiB", rss.RSSSource, float64(rss.SampledRSS)/(1<<20))
	}
	ts = append(ts, t)

	// 5. Start-up.
	t = target{Name: fmt.Sprintf("start-up: %d plugins, warm compilation cache", o.startupPlugins), Goal: "≤ 150 ms"}
	if s := rep.Startup; s != nil {
		t.Measured = fmt.Sprintf("%s (median of %d)", fmtDur(s.Median), len(s.Runs))
		t.Met = yes(s.Median <= 150*time.Millisecond)
		if s.Distinct {
			t.Note = "distinct modules"
			if ss := rep.StartupSameBytes; ss != nil {
				t.Note += fmt.Sprintf("; one module under %d names: %s", ss.Plugins, fmtDur(ss.Median))
			}
		} else {
			t.Note = "the same module under every name"
		}
		if f := rep.StartupFloor; f != nil {
			t.Note += fmt.Sprintf("; wazero alone, %d distinct modules: %s", s.Plugins, fmtDur(f.Median))
		}
	} else {
		t.Measured, t.Met = "not measured", "n/a"
	}
	ts = append(ts, t)

	// 6. Isolation under load.
	t = target{Name: "isolation under load: count = 1, random unique", Goal: "0 violations"}
	if len(iso) == 3 {
		var calls, bad int64
		for _, p := range iso[1:] {
			calls += p.Load.Calls + p.Load.WarmupCalls
			bad += errsOf(p)
		}
		t.Measured = fmt.Sprintf("%d violations in %d calls", bad, calls)
		t.Met = yes(bad == 0 && calls > 0)
		t.Note = fmt.Sprintf("alongside %d greet clients (%d errors)", iso[0].Load.Clients, errsOf(iso[0]))
	} else {
		t.Measured, t.Met = "not measured", "n/a"
	}
	ts = append(ts, t)
	return ts
}

func printTable(w io.Writer, rep *report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\ttool\tclients\tcalls/s\tp50\tp90\tp99\tmax\terrors\tCPU/call\tguest\tpeak RSS\tphase\t")
	for _, p := range rep.Phases {
		r := p.Load
		cpu, mem, guest := "", "", ""
		if p.CPUPerCallMs > 0 {
			cpu = fmt.Sprintf("%.3f ms", p.CPUPerCallMs)
		}
		if p.GuestExecuteMs > 0 {
			guest = fmt.Sprintf("%.3f ms", p.GuestExecuteMs)
		}
		if p.PeakRSS > 0 {
			mem = fmt.Sprintf("%.0f MiB", float64(p.PeakRSS)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", p.Server, r.Tool, r.Clients, r.CallsPerSec,
			load.FormatMs(r.P50), load.FormatMs(r.P90), load.FormatMs(r.P99), load.FormatMs(r.Max), r.Errors+r.WarmupErrors, cpu, guest, mem, p.Kind)
	}
	tw.Flush()
	for _, p := range rep.Phases {
		for _, s := range p.Load.ErrorSamples {
			fmt.Fprintf(w, "  error (%s %s, %d clients): %s\n", p.Server, p.Load.Tool, p.Load.Clients, s)
		}
	}
	fmt.Fprintln(w, "\nCPU/call: server process CPU time per call (warm-up included); guest: Warden's mean time in the plugin's export per call (its /metrics); peak RSS: server process, "+rssSource(rep)+".")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target (issue 8)\tmeasured\tgoal\tmet\tnote")
	for _, t := range rep.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Measured, t.Goal, strings.ToUpper(t.Met), t.Note)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func rssSource(rep *report) string {
	for _, p := range rep.Phases {
		if p.RSSSource != "" {
			return p.RSSSource
		}
	}
	return "unavailable"
}

// tsMissing says why the TypeScript server cannot run, or "".
func tsMissing(root, node string) string {
	dir := filepath.Join(root, "bench", "tsserver")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		return "bench/tsserver/node_modules is missing"
	}
	if _, err := exec.LookPath(node); err != nil {
		return fmt.Sprintf("no %s executable", node)
	}
	return ""
}

func machineInfo() map[string]string {
	m := map[string]string{
		"cores":    strconv.Itoa(runtime.NumCPU()),
		"platform": runtime.GOOS + "/" + runtime.GOARCH,
		"go":       runtime.Version(),
		"cpu":      "unknown CPU",
		"loadavg":  "n/a",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m["loadavg"] = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) == 2 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						m["memory"] = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
					}
				}
			}
		}
	}
	return m
}

func clientsLabel(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}

// fmtDur prints a start-up time in milliseconds.
func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func fmtDurs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmtDur(d)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
