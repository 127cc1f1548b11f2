package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wardenmcp/warden/bench/internal/nativesrv"
	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/plugins"
)

// The plugins the Warden server under test serves.
const (
	helloPlugin   = "hello"
	counterPlugin = "counter"
)

// runChild is the child-process side of bench/run (-serve ROLE): it serves
// one server on a free loopback port, prints "listening URL" and serves
// until standard input closes (the harness exits) or SIGTERM.
func runChild(role, wasmDir, cacheDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	// WARDEN_BENCH_CPUPROFILE=file profiles the child for the whole run
	// (go tool pprof file): where a server spends its CPU under load.
	if path := os.Getenv("WARDEN_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var h http.Handler
	switch role {
	case "warden":
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(plugins.ServeGCPercent) // as warden serve does
		}
		rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(cacheDir))
		if err != nil {
			return err
		}
		defer rt.Close(context.Background())
		srv, err := host.New(host.Options{Runtime: rt, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
		defer srv.Close(context.Background())
		var set []*host.Plugin
		for _, name := range []string{helloPlugin, counterPlugin} {
			wasm, err := os.ReadFile(filepath.Join(wasmDir, name+".wasm"))
			if err != nil {
				return err
			}
			m, err := rt.Load(ctx, name, wasm)
			if err != nil {
				return fmt.Errorf("loading %s: %w", name, err)
			}
			set = append(set, &host.Plugin{Name: name, Module: m})
		}
		if err := srv.Swap(set, nil); err != nil {
			return err
		}
		// /metrics too, from which the harness reads the guest's share of
		// each phase (warden_call_duration_seconds by phase).
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		mux.Handle("/", srv)
		h = mux
	case "native":
		h = nativesrv.Handler()
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	fmt.Printf("listening http://%s/mcp\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// proc is a server under test running as a child process.
type proc struct {
	name   string
	url    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	done   chan struct{}
}

// startProc starts cmd and waits (at most timeout) for its "listening URL"
// line on standard output.
func startProc(name string, cmd *exec.Cmd, timeout time.Duration) (*proc, error) {
	p := &proc{name: name, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = p.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok && !found {
				found = true
				urlc <- strings.TrimSpace(u)
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	select {
	case p.url = <-urlc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, cmd.ProcessState, p.stderr.String())
	case <-time.After(timeout):
		p.stop()
		return nil, fmt.Errorf("%s did not listen within %v\n%s", name, timeout, p.stderr.String())
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop closes the child's standard input (it exits on EOF), then sends it
// SIGTERM, then kills it if it is still there after 5 s.
func (p *proc) stop() {
	p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(2 * time.Second):
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// alive reports an error if the child has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.cmd.ProcessState, p.stderr.String())
	default:
		return nil
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procStatus reads a process's resident set size and its high-water mark
// (VmRSS, VmHWM) from /proc, in bytes.
func procStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 && hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// resetHWM resets a process's VmHWM to its current RSS (Linux ≥ 4.0).
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// userHz is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every mainstream Linux architecture.
const userHz = 100

// procCPU returns the CPU time (user + system) a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state is field 3, utime field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat")
	}
	return time.Duration(ut+st) * time.Second / userHz, nil
}

// sampler follows a process's memory during a phase: VmHWM reset at the
// start and read at the end, and VmRSS sampled every 20 ms as a fallback
// where the reset is not possible.
type sampler struct {
	pid      int
	resetOK  bool
	maxRSS   int64
	cpu0     time.Duration
	cpuOK    bool
	stopc    chan struct{}
	finished chan struct{}
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, stopc: make(chan struct{}), finished: make(chan struct{})}
	s.resetOK = resetHWM(pid) == nil
	if c, err := procCPU(pid); err == nil {
		s.cpu0, s.cpuOK = c, true
	}
	go func() {
		defer close(s.finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := procStatus(pid); err == nil {
				s.maxRSS = max(s.maxRSS, rss)
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// memStats is what a sampler measured.
type memStats struct {
	PeakRSS int64  `json:"peakRSSBytes"`
	Source  string `json:"peakRSSSource"`
	// SampledRSS is the largest VmRSS seen by sampling every 20 ms.
	SampledRSS int64 `json:"sampledRSSBytes"`
	CPU        time.Duration
	CPUOK      bool
}

func (s *sampler) stop() memStats {
	close(s.stopc)
	<-s.finished
	m := memStats{SampledRSS: s.maxRSS}
	if c, err := procCPU(s.pid); err == nil && s.cpuOK {
		m.CPU, m.CPUOK = c-s.cpu0, true
	}
	_, hwm, err := procStatus(s.pid)
	switch {
	case err == nil && s.resetOK:
		m.PeakRSS, m.Source = max(hwm, s.maxRSS), "VmHWM (reset at phase start)"
	case s.maxRSS > 0:
		m.PeakRSS, m.Source = s.maxRSS, "VmRSS sampled every 20 ms"
	default:
		m.Source = "unavailable (no /proc)"
	}
	return m
}

// guestTimes are the sums and counts of warden_call_duration_seconds for
// the execute and instantiate phases, read from Warden's /metrics.
type guestTimes struct {
	execSum, execCount, instSum, instCount float64
}

// scrapeGuestTimes reads the guest phases' totals from the Warden server
// whose MCP endpoint is mcpURL.
func scrapeGuestTimes(mcpURL string) (guestTimes, error) {
	var g guestTimes
	resp, err := http.Get(strings.TrimSuffix(mcpURL, "/mcp") + "/metrics")
	if err != nil {
		return g, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return g, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var sum, count *float64
		switch {
		case strings.Contains(line, `phase="execute"`):
			sum, count = &g.execSum, &g.execCount
		case strings.Contains(line, `phase="instantiate"`):
			sum, count = &g.instSum, &g.instCount
		default:
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		_, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return g, fmt.Errorf("/metrics: %q: %w", line, err)
		}
		switch name {
		case "warden_call_duration_seconds_sum":
			*sum += v
		case "warden_call_duration_seconds_count":
			*count += v
		}
	}
	return g, sc.Err()
}
