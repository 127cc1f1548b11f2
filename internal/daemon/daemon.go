// Package daemon is `warden serve`: it reads warden.yaml, loads and checks
// every plugin, serves the endpoint, reloads on SIGHUP or a changed config
// (atomically: a bad new config leaves the old set serving) and shuts down
// gracefully.
package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/config"
	"github.com/wardenmcp/warden/plugins"
	"github.com/wardenmcp/warden/registry"
)

// Loaded is a plugin's verified bytes and what the loader knows of them.
type Loaded struct {
	Wasm   []byte
	Digest string
	Signer string
	// ToolsHash is the hash of the tool definitions recorded at install;
	// empty skips the check.
	ToolsHash string
}

// Loader fetches an installed plugin's bytes and checks them (digest,
// signature, trust policy, kill switch) before anything parses them.
type Loader interface {
	Load(ctx context.Context, cfg *config.Config, name string) (*Loaded, error)
}

// ToolsHasher hashes a plugin's tool definitions the way the lockfile does.
type ToolsHasher func(defs [][]byte) (string, error)

// Options configure Run.
type Options struct {
	ConfigPath string
	Loader     Loader
	ToolsHash  ToolsHasher
	Logger     *slog.Logger
	// InsecureNoAuth allows serving without authentication on a
	// non-loopback address.
	InsecureNoAuth bool
	// Ready, when set, is called with the endpoint's address once it
	// listens (tests and `warden demo` use it).
	Ready func(addr string)
	// PollInterval is how often the config file is checked for changes
	// (2s when 0; negative disables polling).
	PollInterval time.Duration
}

// Daemon is a running `warden serve`.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	rt      *plugins.Runtime
	srv     *host.Server
	mu      sync.Mutex // serialises reloads
	cfg     *config.Config
	modMu   sync.Mutex
	modules map[string]*plugins.Plugin // by name+digest, reused across reloads
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives.
func Run(ctx context.Context, opts Options) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(plugins.ServeGCPercent)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if opts.Loader == nil {
		return errors.New("serve: no plugin loader")
	}
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Auth.Mode == "none" && !config.IsLoopback(cfg.Listen) && !opts.InsecureNoAuth {
		return fmt.Errorf("%s: listen %s is not a loopback address and auth.mode is none: anyone who can reach it could call every tool; listen on 127.0.0.1, configure auth, or pass --insecure-no-auth", cfg.File, cfg.Listen)
	}
	if err := os.MkdirAll(cfg.Store, 0o700); err != nil {
		return fmt.Errorf("store %s: %w", cfg.Store, err)
	}
	rtOpts := []plugins.Option{
		plugins.WithCacheDir(filepath.Join(cfg.Store, "compiled")),
		plugins.WithConcurrency(cfg.Limits.Concurrency, cfg.Limits.PerPluginConcurrency, cfg.Limits.Queue),
		plugins.WithCeilings(cfg.Limits.Ceilings),
		plugins.WithLogger(opts.Logger),
	}
	if cfg.Limits.Prewarm != nil {
		rtOpts = append(rtOpts, plugins.WithPrewarm(*cfg.Limits.Prewarm))
	}
	if cfg.Limits.MemoryImages != nil {
		rtOpts = append(rtOpts, plugins.WithMemoryImages(*cfg.Limits.MemoryImages))
	}
	if cfg.Limits.RecycleInstances != nil {
		rtOpts = append(rtOpts, plugins.WithRecycling(*cfg.Limits.RecycleInstances))
	}
	rt, err := plugins.NewRuntime(ctx, rtOpts...)
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	d := &Daemon{opts: opts, log: opts.Logger, rt: rt, modules: map[string]*plugins.Plugin{}}
	d.srv, err = host.New(hostOptions(cfg, rt, opts))
	if err != nil {
		return err
	}
	defer d.srv.Close(context.Background())
	if err := d.apply(ctx, cfg); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: d.srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	admin, err := d.serveAdmin(cfg, errc)
	if err != nil {
		hs.Close()
		return err
	}
	defer admin.Close()
	d.log.Info("serving", slog.String("endpoint", "http://"+ln.Addr().String()+cfg.Endpoint), slog.Int("plugins", len(d.srv.Status().Loaded)))
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	poll := opts.PollInterval
	if poll == 0 {
		poll = 2 * time.Second
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	lastMod := modTime(cfg.File)
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return d.shutdown(hs)
		case s := <-sig:
			if s != syscall.SIGHUP {
				return d.shutdown(hs)
			}
			if err := d.srv.ReopenAudit(); err != nil {
				d.log.Error("audit log reopen failed", slog.String("error", err.Error()))
			}
			d.Reload(ctx)
		case <-tick:
			if m := modTime(cfg.File); !m.Equal(lastMod) {
				lastMod = m
				d.log.Info("config changed; reloading", slog.String("config", cfg.File))
				d.Reload(ctx)
			}
		}
	}
}

// shutdown fails the tasks running here (a task may have hours to go;
// clients learn at once, from any replica, that it must be started again)
// and lets ordinary calls in flight finish.
func (d *Daemon) shutdown(hs *http.Server) error {
	d.log.Info("shutting down; failing the tasks running here and letting calls in flight finish")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.srv.Drain(ctx)
	return hs.Shutdown(ctx)
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// Reload re-reads the config and swaps in the new plugin set. A config that
// does not parse, or a set that is inconsistent, is reported and the old
// set keeps serving.
func (d *Daemon) Reload(ctx context.Context) {
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		d.log.Error("reload refused: the new config is invalid; still serving the previous one", slog.String("error", err.Error()))
		return
	}
	if err := d.apply(ctx, cfg); err != nil {
		d.log.Error("reload refused; still serving the previous plugin set", slog.String("error", err.Error()))
		return
	}
	d.log.Info("reloaded", slog.Int("plugins", len(d.srv.Status().Loaded)), slog.Int("failed", len(d.srv.Status().Failed)))
}

// apply loads every plugin of cfg (reusing modules already loaded with the
// same digest) and swaps the set in. Plugins that fail to load are reported
// and left out; the rest are served.
func (d *Daemon) apply(ctx context.Context, cfg *config.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var set []*host.Plugin
	var failed []host.PluginStatus
	keep := map[string]bool{}
	// Plugins load in parallel (verification and start-up are CPU-bound),
	// and are served in config order.
	type loaded struct {
		p   *host.Plugin
		err error
	}
	results := make([]loaded, len(cfg.Plugins))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, pc := range cfg.Plugins {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := d.loadOne(ctx, cfg, pc)
			results[i] = loaded{p, err}
		}()
	}
	wg.Wait()
	for i, pc := range cfg.Plugins {
		p, err := results[i].p, results[i].err
		if err != nil {
			d.log.Error("plugin refused", slog.String("plugin", pc.Name), slog.String("error", err.Error()))
			d.srv.RecordLoadFailure(pc.Name, loadFailureReason(err))
			failed = append(failed, host.PluginStatus{Name: pc.Name, Error: err.Error()})
			continue
		}
		keep[pc.Name+"@"+p.Module.Digest()] = true
		set = append(set, p)
	}
	if err := d.srv.Swap(set, failed); err != nil {
		return err
	}
	d.cfg = cfg
	// Modules no longer served are closed once calls that may still be
	// using them have had time to end.
	var stale []*plugins.Plugin
	for k, m := range d.modules {
		if !keep[k] {
			stale = append(stale, m)
			delete(d.modules, k)
		}
	}
	if len(stale) > 0 {
		grace := time.Duration(capabilities.MaxLimits.Timeout) + 5*time.Second
		for _, m := range stale {
			time.AfterFunc(grace, func() { d.closeWhenIdle(m) })
		}
	}
	return nil
}

// closeWhenIdle closes a module no longer served once no task runs on it
// (a task may run for hours), checking again every 30 seconds.
func (d *Daemon) closeWhenIdle(m *plugins.Plugin) {
	if d.srv.RunningTasks(m) > 0 {
		time.AfterFunc(30*time.Second, func() { d.closeWhenIdle(m) })
		return
	}
	m.Close(context.Background())
}

func (d *Daemon) loadOne(ctx context.Context, cfg *config.Config, pc config.Plugin) (*host.Plugin, error) {
	var grant *capabilities.Grant
	if pc.Grant != "" {
		g, err := capabilities.LoadGrant(pc.Grant)
		if err != nil {
			return nil, err
		}
		grant = g
	}
	ld, err := d.opts.Loader.Load(ctx, cfg, pc.Name)
	if err != nil {
		return nil, err
	}
	for _, denied := range cfg.Deny {
		if denied == ld.Digest {
			return nil, fmt.Errorf("%w: %s is listed under deny: in %s", registry.ErrDenied, ld.Digest, cfg.File)
		}
	}
	key := pc.Name + "@" + ld.Digest
	d.modMu.Lock()
	mod := d.modules[key]
	d.modMu.Unlock()
	if mod == nil {
		mod, err = d.rt.Load(ctx, pc.Name, ld.Wasm)
		if err != nil {
			return nil, err
		}
		if ld.ToolsHash != "" && d.opts.ToolsHash != nil {
			var defs [][]byte
			for _, t := range mod.Tools() {
				defs = append(defs, t.Definition)
			}
			got, err := d.opts.ToolsHash(defs)
			if err != nil {
				mod.Close(ctx)
				return nil, err
			}
			if got != ld.ToolsHash {
				mod.Close(ctx)
				return nil, fmt.Errorf("%w since install (lockfile %s, now %s): a description or schema changed after review; reinstall with --accept-tool-changes after reviewing the diff", registry.ErrToolsChanged, ld.ToolsHash, got)
			}
		}
		d.modMu.Lock()
		d.modules[key] = mod
		d.modMu.Unlock()
	}
	hp := &host.Plugin{Name: pc.Name, Module: mod, Grant: grant, Expose: pc.Expose, Tools: map[string]host.ToolOverride{},
		Scopes: pc.Scopes, RateLimit: pc.RateLimit, Signer: ld.Signer}
	if pc.Probe != nil {
		args, err := json.Marshal(pc.Probe.Arguments)
		if err != nil || string(args) == "null" {
			args = []byte("{}")
		}
		hp.Probe = &host.Probe{Tool: pc.Probe.Tool, Arguments: args}
	}
	for name, t := range pc.Tools {
		hp.Tools[name] = host.ToolOverride{Scopes: t.Scopes, Description: t.Description, Title: t.Title, Annotations: host.Annotations{
			ReadOnlyHint: t.Annotations.ReadOnlyHint, DestructiveHint: t.Annotations.DestructiveHint,
			IdempotentHint: t.Annotations.IdempotentHint, OpenWorldHint: t.Annotations.OpenWorldHint,
		}}
	}
	return hp, nil
}

func slogLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hostOptions turns the config into the endpoint's options.
func hostOptions(cfg *config.Config, rt *plugins.Runtime, opts Options) host.Options {
	o := host.Options{
		Runtime:        rt,
		Endpoint:       cfg.Endpoint,
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodyBytes:   int64(cfg.Limits.MaxBody),
		Logger:         opts.Logger,
		PluginLogger:   opts.Logger.With(slog.String("source", "plugin")),
		PluginLogLevel: slogLevel(cfg.LogLevel),
		AllowForwarded: opts.InsecureNoAuth,
		AuditPath:      cfg.Audit.Path,
	}
	if cfg.Auth.Mode == "jwt" {
		o.Auth = &host.AuthConfig{
			Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, JWKSURL: cfg.Auth.JWKSURL, JWKSFile: cfg.Auth.JWKSFile,
			AuthorizationServers: cfg.Auth.AuthorizationServers, ScopesSupported: cfg.Auth.ScopesSupported, RolesClaim: cfg.Auth.RolesClaim,
		}
		o.StepUp = cfg.Auth.HiddenTools == "stepUp"
	}
	if cfg.RateLimits.Backend == "redis" {
		rl := &host.RateLimitConfig{Backend: "redis", RedisAddr: cfg.RateLimits.Redis.Addr, OnError: cfg.RateLimits.Redis.OnError}
		if env := cfg.RateLimits.Redis.PasswordEnv; env != "" {
			rl.RedisPassword = os.Getenv(env)
		}
		o.RateLimits = rl
	}
	tc := cfg.Tasks
	o.Tasks = &host.TaskConfig{
		Backend:           tc.Backend,
		DefaultTTL:        time.Duration(tc.DefaultTTL),
		MaxTTL:            time.Duration(tc.MaxTTL),
		MaxOpenPerSubject: tc.MaxOpenPerSubject,
		PollInterval:      time.Duration(tc.PollInterval),
	}
	if tc.Backend == "redis" {
		o.Tasks.RedisAddr, o.Tasks.RedisUsername, o.Tasks.RedisDB, o.Tasks.RedisKeyPrefix = tc.Redis.Addr, tc.Redis.Username, tc.Redis.DB, tc.Redis.KeyPrefix
		if env := tc.Redis.PasswordEnv; env != "" {
			o.Tasks.RedisPassword = os.Getenv(env)
		}
	}
	if t := cfg.Telemetry.OTLP; t.Endpoint != "" || t.Sampling != nil {
		o.Telemetry = &host.TelemetryConfig{OTLPEndpoint: t.Endpoint, Headers: t.Headers, Sampling: t.Sampling}
	}
	return o
}

// serveAdmin starts the operator listener (/metrics, /readyz?deep=1, the
// status page), loopback by default.
func (d *Daemon) serveAdmin(cfg *config.Config, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin listener %s: %w", cfg.Admin.Listen, err)
	}
	hs := &http.Server{Handler: d.srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	d.log.Info("admin listener", slog.String("address", "http://"+ln.Addr().String()))
	return hs, nil
}

// loadFailureReason is a short, bounded metric label for why a plugin was
// refused.
func loadFailureReason(err error) string {
	switch {
	case errors.Is(err, registry.ErrTampered), errors.Is(err, registry.ErrMismatch):
		return "tampered"
	case errors.Is(err, registry.ErrNotInstalled):
		return "not_installed"
	case errors.Is(err, registry.ErrDenied), errors.Is(err, registry.ErrDisabled):
		return "denied"
	case errors.Is(err, registry.ErrToolsChanged):
		return "tools_changed"
	case errors.Is(err, registry.ErrVerification), errors.Is(err, registry.ErrUnsigned), errors.Is(err, registry.ErrInsecureEntry):
		return "verification"
	}
	return "load"
}
