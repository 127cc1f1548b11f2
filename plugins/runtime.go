package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wardenmcp/warden/capabilities"
)

// DefaultMaxModuleBytes caps the size of a module accepted by Load. A Go
// wasip1 plugin is about 2–3 MiB; 64 MiB leaves room for large ones while
// bounding the compiler's work on hostile input.
const DefaultMaxModuleBytes = 64 << 20

// Runtime compiles plugin modules and runs their calls. One Runtime serves
// every plugin of a process; it is safe for concurrent use.
type Runtime struct {
	// mu guards wz against Close while instances are being made (the
	// instance pools make them in the background).
	mu             sync.RWMutex
	wz             wazero.Runtime
	cache          wazero.CompilationCache
	rewrites       *rewriteCache // nil: modules are rewritten at every Load
	logger         *slog.Logger
	maxModuleBytes int64
	defaults       capabilities.Limits
	ceilings       capabilities.Limits
	calls          *gate // host-wide admission
	perPlugin      int
	queue          int
	prewarm        int
	noImages       bool
	noRecycle      bool
	// closing ends when Close starts: work the runtime does in the
	// background runs under it, so that Close need not wait out its
	// deadline.
	closing    context.Context
	endClosing context.CancelFunc
}

// DefaultPrewarm is how many instances per plugin are kept instantiated and
// initialised ahead of calls (each is new to the call it serves).
const DefaultPrewarm = 1

// Default concurrency: calls running at once host-wide and per plugin, and
// calls allowed to wait for a slot before new ones are refused as busy.
const (
	DefaultConcurrency          = 64
	DefaultPerPluginConcurrency = 16
	DefaultQueue                = 128
)

type runtimeConfig struct {
	concurrency, perPlugin, queue int
	prewarm                       int
	noImages                      bool
	noRecycle                     bool
	cacheDir                      string
	logger                        *slog.Logger
	maxModuleBytes                int64
	defaults                      *capabilities.Limits
	ceilings                      *capabilities.Limits
}

// Option configures a Runtime. Options return an error when their value is
// unusable, and NewRuntime reports it.
type Option func(*runtimeConfig) error

// WithCacheDir keeps compiled machine code in dir, and the modules as Load
// rewrote them in its warden-rewrite subdirectory, so that later processes
// skip compilation and the rewrites. The directory is created with mode 0700 and refused when
// anyone but the current user could write to it: wazero trusts its cache
// files, so whoever can write them can bypass every signature check.
func WithCacheDir(dir string) Option {
	return func(c *runtimeConfig) error {
		if dir == "" {
			return errors.New("cache directory: empty path")
		}
		c.cacheDir = dir
		return nil
	}
}

// WithLogger sets where the runtime reports its own events (not plugin logs,
// which go to each call's Sandbox.Log).
func WithLogger(l *slog.Logger) Option {
	return func(c *runtimeConfig) error {
		if l == nil {
			return errors.New("logger: nil")
		}
		c.logger = l
		return nil
	}
}

// WithMaxModuleBytes caps the size of modules accepted by Load.
func WithMaxModuleBytes(n int64) Option {
	return func(c *runtimeConfig) error {
		if n <= 0 {
			return fmt.Errorf("max module bytes: %d is not positive", n)
		}
		c.maxModuleBytes = n
		return nil
	}
}

// WithDefaultLimits sets the limits used where a grant is silent.
func WithDefaultLimits(l capabilities.Limits) Option {
	return func(c *runtimeConfig) error {
		c.defaults = &l
		return nil
	}
}

// WithCeilings sets host-wide maxima that no grant can exceed.
func WithCeilings(l capabilities.Limits) Option {
	return func(c *runtimeConfig) error {
		c.ceilings = &l
		return nil
	}
}

// WithConcurrency bounds how many calls run at once in total and per plugin,
// and how many may wait for a slot; beyond that a call fails at once with
// ErrBusy and a retry hint.
func WithConcurrency(total, perPlugin, queue int) Option {
	return func(c *runtimeConfig) error {
		if total < 1 || perPlugin < 1 || queue < 0 {
			return fmt.Errorf("concurrency: want total and perPlugin >= 1 and queue >= 0, got %d, %d, %d", total, perPlugin, queue)
		}
		if perPlugin > total {
			return fmt.Errorf("concurrency: perPlugin (%d) is more than total (%d)", perPlugin, total)
		}
		c.concurrency, c.perPlugin, c.queue = total, perPlugin, queue
		return nil
	}
}

// WithPrewarm keeps n instances per plugin instantiated and initialised
// ahead of calls, so a call does not wait for the module's start-up. Each
// instance is new to the call it serves (closed after it, or reset to the
// memory image: WithRecycling); 0 disables it. Idle instances cost their
// memory (a few MiB each for a Go plugin).
func WithPrewarm(n int) Option {
	return func(c *runtimeConfig) error {
		if n < 0 || n > 64 {
			return fmt.Errorf("prewarm: %d is not between 0 and 64", n)
		}
		c.prewarm = n
		return nil
	}
}

// WithMemoryImages turns memory images on (the default) or off. With
// images, a plugin's initialiser runs at load, and every call starts from a
// private copy of the initialised memory, with the Go
// runtime's random generators reseeded, instead of running the initialiser
// again: for a Go plugin that is most of a call's cost. Values a plugin
// derives from randomness in its own initialiser are then the same in every
// call (see RATIONALE.md); turn images off for a plugin set that needs them
// fresh.
func WithMemoryImages(on bool) Option {
	return func(c *runtimeConfig) error {
		c.noImages = !on
		return nil
	}
}

// WithRecycling turns instance recycling on (the default) or off. With
// recycling, an instance that started from a memory image and whose call
// ended cleanly is reset to the image (memory, globals, random seeds; its
// tables and file descriptors are proven unchanged) and serves a later
// call, which then skips instantiation. It applies only to plugins whose
// code cannot change state that a reset cannot restore, and only to calls
// without mounts (RATIONALE.md).
func WithRecycling(on bool) Option {
	return func(c *runtimeConfig) error {
		c.noRecycle = !on
		return nil
	}
}

// ServeGCPercent is the garbage collector setting a long-running server
// should use (warden serve sets it unless GOGC is set): with memory images,
// most of the heap is guest memory arrays, which hold no pointers, so
// collecting twice as often costs little CPU and keeps the process near its
// live set instead of twice it (64 clients: 289 MiB at the default 100,
// 228 MiB at 50, the same calls/s).
const ServeGCPercent = 50

// NewRuntime returns a Runtime configured by opts. Close it to release the
// compiled code.
func NewRuntime(ctx context.Context, opts ...Option) (*Runtime, error) {
	cfg := runtimeConfig{logger: slog.New(slog.DiscardHandler), maxModuleBytes: DefaultMaxModuleBytes,
		concurrency: DefaultConcurrency, perPlugin: DefaultPerPluginConcurrency, queue: DefaultQueue, prewarm: DefaultPrewarm}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("plugins: %w", err)
		}
	}
	r := &Runtime{logger: cfg.logger, maxModuleBytes: cfg.maxModuleBytes, defaults: capabilities.DefaultLimits, ceilings: capabilities.MaxLimits,
		calls: newGate(cfg.concurrency, cfg.queue), perPlugin: cfg.perPlugin, queue: cfg.queue, prewarm: cfg.prewarm, noImages: cfg.noImages, noRecycle: cfg.noRecycle || cfg.noImages}
	if cfg.defaults != nil {
		r.defaults = cfg.defaults.WithDefaults(capabilities.DefaultLimits)
	}
	if cfg.ceilings != nil {
		r.ceilings = cfg.ceilings.WithDefaults(capabilities.MaxLimits)
	}
	r.defaults = r.defaults.Clamp(r.ceilings)
	r.closing, r.endClosing = context.WithCancel(context.Background())

	// No WithCloseOnContextDone: a deadline stops a guest through the
	// checks Load adds to its code (wasmbin.AddInterruptChecks), which cost
	// a load and a branch where wazero's cost an exit into Go.
	wcfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(pagesFor(int64(r.ceilings.Memory)))
	if cfg.cacheDir != "" {
		if err := secureDir(cfg.cacheDir); err != nil {
			return nil, fmt.Errorf("plugins: compilation cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache %s: %w", cfg.cacheDir, err)
		}
		r.cache = cache
		wcfg = wcfg.WithCompilationCache(cache)
		var why string
		if r.rewrites, why = newRewriteCache(cfg.cacheDir, r); r.rewrites == nil {
			r.logger.Info("rewritten modules are not cached; every start rewrites every plugin", slog.String("reason", why))
		}
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, wcfg)
	// WASI's writes into guest memory are recorded for write tracking.
	if _, err := wasi_snapshot_preview1.Instantiate(experimental.WithFunctionListenerFactory(ctx, wasiWrites{}), r.wz); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("plugins: instantiate WASI: %w", err)
	}
	if err := instantiateHostEnv(ctx, r.wz); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("plugins: instantiate extism:host/env: %w", err)
	}
	if err := instantiateUserEnv(ctx, r.wz); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("plugins: instantiate extism:host/user: %w", err)
	}
	return r, nil
}

// Close releases the runtime and every plugin loaded by it. It is safe to
// call on a partly constructed Runtime and more than once.
func (r *Runtime) Close(ctx context.Context) error {
	if r.endClosing != nil {
		r.endClosing() // background guest code stops at its next check
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.wz != nil {
		errs = append(errs, r.wz.Close(ctx))
		r.wz = nil
	}
	if r.cache != nil {
		errs = append(errs, r.cache.Close(ctx))
		r.cache = nil
	}
	return errors.Join(errs...)
}

// EffectiveLimits returns the limits a call runs under for a grant's limits:
// the grant's values, the runtime defaults where it is silent, clamped to the
// runtime's ceilings.
func (r *Runtime) EffectiveLimits(granted capabilities.Limits) capabilities.Limits {
	return granted.WithDefaults(r.defaults).Clamp(r.ceilings)
}

const wasmPage = 65536

func pagesFor(bytes int64) uint32 {
	p := (bytes + wasmPage - 1) / wasmPage
	if p > 65536 {
		p = 65536
	}
	if p < 1 {
		p = 1
	}
	return uint32(p)
}

// secureDir creates dir (mode 0700) if needed and checks that it is a real
// directory that only the current user can write.
func secureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (found %s)", dir, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s has mode %04o; want no group or world write (0700): anyone who can write compiled code bypasses signature checks", dir, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by the current user (uid %d)", dir, st.Uid, os.Getuid())
	}
	return nil
}
