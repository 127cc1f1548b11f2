package plugins

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/plugins/internal/kernel"
)

// instance is one instantiated, initialised module. It serves one call,
// then is closed or, when it started from a memory image, reset to the
// image for another call (recycle.go).
type instance struct {
	mod         api.Module
	flag        api.MutableGlobal             // raised to stop the guest (interrupt.go)
	dirty       api.MutableGlobal             // regions the guest wrote (tracking.go), or nil
	written     uint64                        // regions WASI wrote during the last call
	img         *image                        // the image it started from, or nil
	fdBase      *[wasmbin.FDProbeCount]fdstat // descriptors as they were before the first call; nil: not probed
	uses        int                           // calls served before the current one
	funcs       map[string]api.Function       // exports looked up so far: each lookup makes a call engine and its stack
	mem         *guestMemory
	budget      *budget
	stdout      switchWriter
	stderr      switchWriter
	tail        lastWords
	ctx         atomic.Pointer[context.Context] // the call's context, for sleeps
	closeMounts func()
	onClose     func() // the pool's count of live instances, when counted
}

// switchWriter forwards to the writer of the call the instance serves;
// output written before the call (by the initialiser) is discarded.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// bind points the instance's output and sleeps at the call it serves.
func (in *instance) bind(ctx context.Context, stdout, stderr io.Writer) {
	in.ctx.Store(&ctx)
	in.stdout.set(stdout)
	in.stderr.set(stderr)
}

// function returns the exported function name, or nil.
func (in *instance) function(name string) api.Function {
	if f, ok := in.funcs[name]; ok {
		return f
	}
	f := in.mod.ExportedFunction(name)
	if in.funcs == nil {
		in.funcs = map[string]api.Function{}
	}
	in.funcs[name] = f
	return f
}

func (in *instance) sleep(ns int64) {
	ctx := context.Background()
	if c := in.ctx.Load(); c != nil {
		ctx = *c
	}
	sleepCtx(ctx, ns)
}

func (in *instance) close() {
	if in.onClose != nil {
		in.onClose()
		in.onClose = nil
	}
	if in.mod != nil {
		in.mod.Close(context.Background())
	}
	if in.mem != nil {
		in.mem.release()
	}
	if in.closeMounts != nil {
		in.closeMounts()
	}
}

// instanceOptions adjust newInstance for making memory images.
type instanceOptions struct {
	random  io.Reader // the guest's random source; crypto/rand when nil
	noImage bool      // run the initialiser even when an image exists
}

// newInstance instantiates the module and brings it to its initialised
// state with st as the host functions' state, under a memory budget of
// limit bytes (guest memory and host memory together): from the plugin's
// memory image for mounts when there is one, else by running the
// initialiser.
func (p *Plugin) newInstance(ctx context.Context, st *callState, limit int64, mounts []Mount, o instanceOptions) (*instance, error) {
	in := &instance{budget: &budget{limit: limit}}
	in.ctx.Store(&ctx)
	st.budget = in.budget
	st.arena = kernel.New(in.budget)
	st.stderrTail = &in.tail
	random := o.random
	if random == nil {
		random = rand.Reader
	}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: any number of instances at once
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(in.sleep).
		WithRandSource(random).
		WithStdout(&in.stdout).
		WithStderr(multiWriter{&in.stderr, &in.tail})
	fsCfg, closeMounts, err := mountConfig(mounts)
	if err != nil {
		return nil, err
	}
	in.closeMounts = closeMounts
	if fsCfg != nil {
		cfg = cfg.WithFSConfig(fsCfg)
	}
	var img *image
	if !o.noImage {
		img = p.snap.get(mountsKey(mounts))
		if img != nil && int64(len(img.mem)) > limit {
			img = nil // the call's limit is below the image: let the initialiser fail as it would
		}
	}
	ictx := context.WithValue(ctx, stateKey{}, st)
	ictx = experimental.WithMemoryAllocator(ictx, allocator{budget: in.budget, slot: &in.mem, img: img})
	p.rt.mu.RLock()
	defer p.rt.mu.RUnlock()
	if p.rt.wz == nil {
		in.close()
		return nil, &CallError{Plugin: p.name, Kind: ErrCanceled, Detail: "the runtime is closed"}
	}
	mod, err := p.rt.wz.InstantiateModule(ictx, p.compiled, cfg)
	if err != nil {
		in.close()
		return nil, p.classify(ictx, st, "", "instantiate", err)
	}
	in.mod = mod
	flag, ok := mod.ExportedGlobal(p.flag).(api.MutableGlobal)
	if !ok {
		in.close()
		return nil, &CallError{Plugin: p.name, Kind: ErrTrap, Detail: fmt.Sprintf("the interrupt flag %s is not an exported mutable global", p.flag)}
	}
	in.flag = flag
	if p.dirty != "" {
		if in.dirty, ok = mod.ExportedGlobal(p.dirty).(api.MutableGlobal); !ok {
			in.close()
			return nil, &CallError{Plugin: p.name, Kind: ErrTrap, Detail: fmt.Sprintf("the write-tracking global %s is not an exported mutable global", p.dirty)}
		}
	}
	if img != nil {
		if err := in.startFromImage(img, p.snap.prep.Globals, allRegions); err != nil {
			in.close()
			return nil, &CallError{Plugin: p.name, Kind: ErrTrap, Detail: "starting from the memory image: " + err.Error(), Err: err}
		}
		in.img = img
		if probe := p.snap.prep.FDProbe; probe != "" && len(mounts) == 0 && !p.rt.noRecycle {
			// The baseline against which a recycled instance's descriptors
			// are checked.
			fds, err := in.probeFDs(ictx, probe)
			if err != nil {
				in.close()
				return nil, &CallError{Plugin: p.name, Kind: ErrTrap, Detail: "probing the instance's file descriptors: " + err.Error(), Err: err}
			}
			in.fdBase = &fds
		}
		return in, nil
	}
	if p.snap != nil {
		if err := in.copyData(p.snap.prep.Data); err != nil {
			in.close()
			return nil, &CallError{Plugin: p.name, Kind: ErrTrap, Detail: err.Error(), Err: err}
		}
	}
	// The start function, which instantiation would have run, then the
	// initialiser: each must finish in time for the instance to serve.
	for _, export := range []string{p.startFunc, p.initFunc} {
		if export == "" {
			continue
		}
		_, interrupted, err := in.call(ictx, mod.ExportedFunction(export))
		if err == nil && interrupted {
			err = fmt.Errorf("its deadline passed as it returned")
		}
		if err != nil {
			in.close()
			return nil, p.classify(ictx, st, "", export, err)
		}
	}
	return in, nil
}

// copyData does what instantiation does for a module whose data segments
// were moved out of it (see wasmbin.PrepareSnapshot): it copies them into
// memory, in order.
func (in *instance) copyData(segs []wasmbin.DataSegment) error {
	mem := in.mod.Memory()
	for i, d := range segs {
		if !mem.Write(d.Offset, d.Bytes) {
			return fmt.Errorf("data segment %d (%d bytes at %d) does not fit in the module's %d bytes of memory", i, len(d.Bytes), d.Offset, mem.Size())
		}
	}
	return nil
}

// poolKey identifies instances that are interchangeable: made under the
// same memory limit with the same mounts.
type poolKey struct {
	memory capabilities.Size
	mounts string
}

func mountsKey(ms []Mount) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Host + "\x00" + m.Guest + "\x00" + map[bool]string{true: "ro", false: "rw"}[m.ReadOnly]
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x01")
}

// instancePool keeps instances ready for calls, so a call does not wait for
// the module's start-up (for a Go plugin, its runtime's _initialize): a few
// made ahead, and those reset to the memory image after a call (recycle.go).
// Either way an instance is new to the guest: nothing survives a call.
// Making ahead turns itself off for a plugin whose initialiser calls host
// functions, since those would be bound to no call.
type instancePool struct {
	size      int
	mu        sync.Mutex
	ready     map[poolKey][]*instance
	filling   map[poolKey]int
	recycling map[poolKey]int // instances being reset after their call
	live      map[poolKey]int // instances made for calls and not closed
	closed    bool
	disabled  bool
	logger    *slog.Logger
}

func newInstancePool(size int, logger *slog.Logger) *instancePool {
	return &instancePool{size: size, ready: map[poolKey][]*instance{}, filling: map[poolKey]int{}, recycling: map[poolKey]int{}, live: map[poolKey]int{}, logger: logger}
}

// take returns a ready instance for key, or nil.
func (pl *instancePool) take(key poolKey) *instance {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	list := pl.ready[key]
	if len(list) == 0 {
		return nil
	}
	in := list[len(list)-1]
	pl.ready[key] = list[:len(list)-1]
	return in
}

// refill starts making instances for key until size are ready or on the
// way.
func (pl *instancePool) refill(p *Plugin, key poolKey, limits capabilities.Limits, mounts []Mount) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.size <= 0 || pl.closed || pl.disabled {
		return
	}
	for n := pl.size - len(pl.ready[key]) - pl.filling[key] - pl.recycling[key]; n > 0; n-- {
		pl.filling[key]++
		go pl.fill(p, key, limits, mounts)
	}
}

func (pl *instancePool) fill(p *Plugin, key poolKey, limits capabilities.Limits, mounts []Mount) {
	ctx, cancel := context.WithTimeout(p.rt.closing, time.Duration(limits.Timeout))
	defer cancel()
	st := &callState{ctx: ctx, callerCtx: context.Background(), plugin: p.name, limits: limits, sandbox: &Sandbox{}}
	st.logs = newPluginLog(ctx, st.sandbox, p.name, "")
	in, err := p.newInstance(ctx, st, int64(limits.Memory), mounts, instanceOptions{})
	if err == nil {
		in.ctx.Store(nil)
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.filling[key]--
	switch {
	case err != nil:
		// The call path will meet (and report) the same failure.
		pl.logger.Debug("instance pool: could not prepare an instance", slog.String("plugin", p.name), slog.String("error", err.Error()))
	case st.hostCalls > 0:
		in.close()
		pl.disabled = true
		pl.logger.Info("instance pool disabled: the plugin's initialiser calls host functions", slog.String("plugin", p.name))
	case pl.closed:
		in.close()
	default:
		pl.live[key]++
		in.onClose = pl.uncount(key)
		pl.ready[key] = append(pl.ready[key], in)
	}
}

// startRecycling counts an instance on its way back to the pool under key;
// it returns false when the pool is closed.
func (pl *instancePool) startRecycling(key poolKey) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return false
	}
	pl.recycling[key]++
	return true
}

// recycled ends what startRecycling began.
func (pl *instancePool) recycled(key poolKey) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.recycling[key]--; pl.recycling[key] <= 0 {
		delete(pl.recycling, key)
	}
}

// count counts in among the live instances under key until it is closed.
func (pl *instancePool) count(key poolKey, in *instance) {
	pl.mu.Lock()
	pl.live[key]++
	pl.mu.Unlock()
	in.onClose = pl.uncount(key)
}

// uncount is what closing a counted instance does.
func (pl *instancePool) uncount(key poolKey) func() {
	return func() {
		pl.mu.Lock()
		if pl.live[key]--; pl.live[key] <= 0 {
			delete(pl.live, key)
		}
		pl.mu.Unlock()
	}
}

// keep adds a reset instance to the ready ones under key, unless the pool
// is closed or more than max instances are live: calls beyond the plugin's
// concurrency (bursts, instances made ahead) make instances that are not
// kept, so memory stays bounded by the concurrency.
func (pl *instancePool) keep(key poolKey, in *instance, max int) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed || len(pl.ready[key]) >= max || pl.live[key] > max {
		return false
	}
	pl.ready[key] = append(pl.ready[key], in)
	return true
}

// close discards the ready instances and stops refilling.
func (pl *instancePool) close() {
	pl.mu.Lock()
	pl.closed = true
	var ready []*instance
	for k, list := range pl.ready {
		ready = append(ready, list...)
		delete(pl.ready, k)
	}
	pl.mu.Unlock()
	// Outside the lock: closing a counted instance takes it.
	for _, in := range ready {
		in.close()
	}
}

// lister runs a plugin's list exports at load, one after another, in a
// single throwaway instance that has no capabilities: one start-up instead
// of one per export.
type lister struct {
	p      *Plugin
	inst   *instance
	st     *callState
	limits capabilities.Limits
}

func (p *Plugin) newLister(ctx context.Context) (*lister, error) {
	limits := p.rt.EffectiveLimits(capabilities.Limits{})
	st := &callState{ctx: ctx, callerCtx: ctx, plugin: p.name, limits: limits, sandbox: &Sandbox{}}
	st.logs = newPluginLog(ctx, st.sandbox, p.name, "")
	ictx, cancel := context.WithTimeout(ctx, time.Duration(limits.Timeout))
	defer cancel()
	in, err := p.newInstance(ictx, st, int64(limits.Memory), nil, instanceOptions{})
	if err != nil {
		return nil, err
	}
	return &lister{p: p, inst: in, st: st, limits: limits}, nil
}

// call runs export with input and returns its output.
func (l *lister) call(ctx context.Context, export string, input []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(l.limits.Timeout))
	defer cancel()
	st := l.st
	st.ctx, st.callerCtx = ctx, ctx
	st.output, st.outputSet, st.errMsg, st.errSet, st.abort = nil, false, "", false, nil
	st.lastProgress, st.progressSeen = 0, false
	if err := st.arena.SetInput(input); err != nil {
		return nil, &CallError{Plugin: l.p.name, Kind: ErrMemoryLimit, Detail: err.Error(), Err: err}
	}
	l.inst.bind(ctx, io.Discard, io.Discard)
	ictx := context.WithValue(ctx, stateKey{}, st)
	res, interrupted, err := l.inst.call(ictx, l.inst.mod.ExportedFunction(export))
	if err == nil && interrupted {
		err = fmt.Errorf("its deadline passed as it returned")
	}
	if err != nil {
		return nil, l.p.classify(ictx, st, "", export, err)
	}
	if rc := int32(res[0]); rc != 0 {
		msg := escape([]byte(st.errMsg))
		if msg == "" {
			msg = fmt.Sprintf("export %s returned %d without an error message", export, rc)
		}
		return nil, &CallError{Plugin: l.p.name, Kind: ErrPluginFailed, Detail: msg}
	}
	return append([]byte(nil), st.output...), nil
}

func (l *lister) close() { l.inst.close() }
