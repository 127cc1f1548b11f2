package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/host"
	"github.com/wardenmcp/warden/internal/config"
	"github.com/wardenmcp/warden/internal/daemon"
	"github.com/wardenmcp/warden/registry"
	"github.com/wardenmcp/warden/registry/signing"
)

// storeLoader loads installed plugins from the store for serve: every load
// re-checks the bytes against the lockfile and re-verifies the signature
// against the trust policy of the current config.
type storeLoader struct {
	insecureSkipSignature bool

	mu       sync.Mutex
	cfg      *config.Config // the config the verifier was built for
	verifier *signing.Verifier
	err      error
}

func (l *storeLoader) Load(ctx context.Context, cfg *config.Config, name string) (*daemon.Loaded, error) {
	store, err := registry.OpenStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	lock, err := registry.ReadLockfile(cfg.Lockfile)
	if err != nil {
		return nil, err
	}
	e, ok := lock.Entry(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no entry for %s; install it with: warden plugin install %s SOURCE --config %s", registry.ErrNotInstalled, cfg.Lockfile, name, name, cfg.File)
	}
	if e.InsecureSkipSignature {
		if !l.insecureSkipSignature || !config.IsLoopback(cfg.Listen) {
			return nil, fmt.Errorf("%s was installed with --insecure-skip-signature; serve loads such plugins only with --insecure-skip-signature on a loopback address", name)
		}
		wasm, err := registry.LoadUnverified(name, lock, store)
		if err != nil {
			return nil, err
		}
		return &daemon.Loaded{Wasm: wasm, Digest: e.Digest, ToolsHash: e.Tools}, nil
	}
	v, err := l.verifierFor(cfg, store)
	if err != nil {
		return nil, err
	}
	wasm, ev, err := registry.LoadVerified(ctx, name, lock, v, store)
	if err != nil {
		return nil, err
	}
	return &daemon.Loaded{Wasm: wasm, Digest: e.Digest, Signer: ev.Signer, ToolsHash: e.Tools}, nil
}

func (l *storeLoader) verifierFor(cfg *config.Config, store *registry.Store) (*signing.Verifier, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg == cfg {
		return l.verifier, l.err
	}
	l.cfg, l.verifier, l.err = cfg, nil, nil
	var policy signing.Policy
	if cfg.Trust.Kind == 0 {
		l.err = fmt.Errorf("%s has no trust: list, so no signature can be accepted; add the keys or identities that sign your plugins", cfg.File)
		return nil, l.err
	}
	if err := cfg.Trust.Decode(&policy); err != nil {
		l.err = fmt.Errorf("%s: trust: %w", cfg.File, err)
		return nil, l.err
	}
	l.verifier, l.err = signing.NewVerifier(policy, signing.WithBaseDir(cfg.Dir),
		signing.WithTrustedRootSnapshot(filepath.Join(store.Dir(), "trusted_root.json")))
	return l.verifier, l.err
}

func toolsHash(defs [][]byte) (string, error) {
	raw := make([]json.RawMessage, len(defs))
	for i, d := range defs {
		raw[i] = d
	}
	return registry.ToolsHash(raw)
}

func newServeCmd() *cobra.Command {
	var cfgPath string
	var insecureNoAuth, insecureSkip bool
	cmd := &cobra.Command{
		Use:   "serve --config warden.yaml",
		Short: "Serve every installed plugin's tools on one stateless MCP endpoint",
		Long: `Serve the plugins listed in warden.yaml on one MCP Streamable HTTP endpoint (POST /mcp),
stateless, for protocol 2026-07-28 and the initialize-era revisions 2025-11-25, 2025-06-18
and 2025-03-26. Every plugin is loaded from the store, checked against the lockfile and
re-verified against the trust policy; bad ones are refused and reported (/readyz) while the
rest are served. /healthz and /readyz are on the endpoint's listener; /metrics on the admin
listener (loopback by default).

SIGHUP, or a change to warden.yaml, reloads atomically: calls in flight finish on the old
set, and a bad new config is reported while the old one keeps serving. SIGTERM shuts down
gracefully.

Without authentication (auth.mode: none) serve refuses a non-loopback listen address, and
requests that came through a reverse proxy, unless --insecure-no-auth is given.`,
		Example: `  warden serve --config warden.yaml`,
		Args:    argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(cfgPath); err != nil {
				return usagef("config: %w (write one: see README, or run \"warden demo\")", err)
			}
			logger := slog.New(host.LogHandler(slog.NewJSONHandler(cmd.ErrOrStderr(), nil)))
			return daemon.Run(cmd.Context(), daemon.Options{
				ConfigPath: cfgPath, Loader: &storeLoader{insecureSkipSignature: insecureSkip},
				ToolsHash: toolsHash, Logger: logger, InsecureNoAuth: insecureNoAuth,
			})
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "warden.yaml", "the host configuration (apiVersion: warden.dev/v1, kind: Host)")
	cmd.Flags().BoolVar(&insecureNoAuth, "insecure-no-auth", false, "serve WITHOUT authentication on a non-loopback address or behind a proxy")
	cmd.Flags().BoolVar(&insecureSkip, "insecure-skip-signature", false, "load plugins installed with --insecure-skip-signature (loopback only)")
	return cmd
}
