package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenmcp/warden/internal/atomicfile"
	"github.com/wardenmcp/warden/internal/config"
	"github.com/wardenmcp/warden/plugins"
	"github.com/wardenmcp/warden/registry"
	"github.com/wardenmcp/warden/registry/signing"
)

// storeFlags are the flags every registry command shares.
type storeFlags struct {
	config   string
	store    string
	lockfile string
	// trust flags (used when no --config gives a trust policy)
	key, identity, identityRegexp, issuer, issuerRegexp, trustedRoot string
}

func (f *storeFlags) register(cmd *cobra.Command, trust bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "warden.yaml to take the store, lockfile and trust policy from")
	fl.StringVar(&f.store, "store", "./.warden/store", "content-addressed plugin store")
	fl.StringVar(&f.lockfile, "lockfile", "./warden.lock", "lockfile pinning installed plugins")
	if trust {
		fl.StringVar(&f.key, "key", "", "trust signatures by this public key (PEM; cosign.pub works)")
		fl.StringVar(&f.identity, "identity", "", "trust keyless signatures whose certificate identity is exactly this")
		fl.StringVar(&f.identityRegexp, "identity-regexp", "", "trust keyless signatures whose identity matches this (anchored) regexp")
		fl.StringVar(&f.issuer, "issuer", "", "OIDC issuer of keyless signatures (exact)")
		fl.StringVar(&f.issuerRegexp, "issuer-regexp", "", "OIDC issuer of keyless signatures (anchored regexp)")
		fl.StringVar(&f.trustedRoot, "trusted-root", "", "trusted_root.json for keyless verification (default: the Sigstore public-good root)")
	}
}

// resolve applies --config: its store, lockfile and trust policy win over
// the defaults. It returns the config (nil without --config).
func (f *storeFlags) resolve(cmd *cobra.Command) (*config.Config, error) {
	if f.config == "" {
		return nil, nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, usageError{err}
	}
	if !cmd.Flags().Changed("store") {
		f.store = cfg.Store
	}
	if !cmd.Flags().Changed("lockfile") {
		f.lockfile = cfg.Lockfile
	}
	return cfg, nil
}

// open applies --config and opens the store and the lockfile.
func (f *storeFlags) open(cmd *cobra.Command) (*config.Config, *registry.Store, *registry.Lockfile, error) {
	cfg, err := f.resolve(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := registry.OpenStore(f.store)
	if err != nil {
		return nil, nil, nil, err
	}
	lock, err := registry.ReadLockfile(f.lockfile)
	if err != nil {
		return nil, nil, nil, usageError{err}
	}
	return cfg, store, lock, nil
}

// verifier builds the trust policy: from the config's trust: list, or from
// the flags for the one plugin name.
func (f *storeFlags) verifier(cfg *config.Config, name string, store *registry.Store) (*signing.Verifier, error) {
	var policy signing.Policy
	base := "."
	flagged := f.key != "" || f.identity != "" || f.identityRegexp != ""
	switch {
	case flagged:
		e := signing.Entry{Plugins: []string{name}, TrustedRoot: f.trustedRoot}
		if f.key != "" {
			if f.identity != "" || f.identityRegexp != "" {
				return nil, usagef("--key and --identity/--identity-regexp are two different trust models; give one")
			}
			e.Key = f.key
		} else {
			e.Keyless = &signing.Keyless{Identity: f.identity, IdentityRegexp: f.identityRegexp, Issuer: f.issuer, IssuerRegexp: f.issuerRegexp}
		}
		policy.Entries = []signing.Entry{e}
	case cfg != nil && cfg.Trust.Kind != 0:
		if err := cfg.Trust.Decode(&policy); err != nil {
			return nil, usagef("%s: trust: %w", cfg.File, err)
		}
		base = cfg.Dir
	default:
		return nil, usagef("no trust policy: pass --key PUB, or --identity/--identity-regexp with --issuer, or --config with a trust: list")
	}
	opts := []signing.Option{signing.WithBaseDir(base)}
	if store != nil {
		opts = append(opts, signing.WithTrustedRootSnapshot(filepath.Join(store.Dir(), "trusted_root.json")))
	}
	v, err := signing.NewVerifier(policy, opts...)
	if err != nil {
		return nil, usageError{err}
	}
	return v, nil
}

// listTools loads wasm in the runtime (after verification) to read its
// tool definitions, which the lockfile pins.
func listTools(rt *plugins.Runtime, name string) func(ctx context.Context, wasm []byte) ([]json.RawMessage, error) {
	return func(ctx context.Context, wasm []byte) ([]json.RawMessage, error) {
		p, err := rt.Load(ctx, name, wasm)
		if err != nil {
			return nil, err
		}
		defer p.Close(ctx)
		var defs []json.RawMessage
		for _, t := range p.Tools() {
			defs = append(defs, t.Definition)
		}
		return defs, nil
	}
}

func newKeygenCmd() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out KEY",
		Short: "Generate a signing key pair: KEY (private, 0600) and KEY.pub",
		Long: `Generate an ECDSA P-256 key pair for signing plugins: KEY (PKCS#8 PEM, mode 0600) and
KEY.pub (PEM public key). Put KEY.pub in warden.yaml's trust: list (key: keys/dev.pub) or
pass it to "warden plugin install --key". Existing files are never overwritten without --force.`,
		Example: `  warden plugin keygen --out keys/dev`,
		Args:    argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("keygen needs --out KEY")
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				return err
			}
			if err := signing.WriteKeyPair(out, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (private, 0600) and %s.pub\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "path of the private key; the public key goes to PATH.pub")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

func newSignCmd() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign --key KEY PLUGIN.wasm",
		Short: "Sign a plugin with a private key; writes PLUGIN.wasm.sigstore.json",
		Long: `Sign a plugin's bytes with a private key and write a Sigstore bundle next to it
(PLUGIN.wasm.sigstore.json), the file "warden plugin install" looks for. Encrypted cosign
keys are read with the password in COSIGN_PASSWORD. Pack the manifest first: the signature
covers the module's bytes, manifest included.`,
		Example: `  warden plugin sign --key keys/dev examples/hello.wasm`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usagef("sign needs --key KEY")
			}
			priv, err := os.ReadFile(key)
			if err != nil {
				return usagef("read key: %w", err)
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("read plugin: %w", err)
			}
			var opts []signing.SignOption
			if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
				opts = append(opts, signing.WithPassword([]byte(pw)))
			}
			bundle, err := signing.SignBlob(priv, wasm, opts...)
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + ".sigstore.json"
			}
			if err := atomicfile.WriteFile(out, bundle, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "signed %s (%s): %s\n", args[0], registry.Digest(wasm), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "private key (PEM)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "bundle path (default PLUGIN.wasm.sigstore.json)")
	return cmd
}

func newInstallCmd() *cobra.Command {
	var f storeFlags
	var bundle string
	var allowDowngrade, acceptToolChanges, insecureSkip, insecureHTTP bool
	cmd := &cobra.Command{
		Use:   "install NAME SOURCE",
		Short: "Verify and install a plugin into the store under NAME",
		Long: `Fetch a plugin, verify its Sigstore signature against the trust policy, check it, and
install it into the content-addressed store under NAME, pinning it in the lockfile
(name → source → digest → signer → hash of its tool definitions).

SOURCE is a path or file:// URL (the bundle is SOURCE.sigstore.json), an https:// URL
(bundle at URL.sigstore.json, or --bundle), or oci://REGISTRY/REPO:TAG (the bundle is an OCI
referrer or the sha256-<digest>.sigstore.json tag; hyper-mcp images with /plugin.wasm work).

The trust policy is --key PUB, or --identity/--identity-regexp with --issuer for keyless
signatures, or the trust: list of --config warden.yaml. Unsigned or unverifiable plugins are
refused and nothing is installed. If the plugin's manifest names another plugin, if it is
older than the installed version (--allow-downgrade), or if its tool definitions changed
since the last install (--accept-tool-changes, after reading the diff shown), it is refused.`,
		Example: `  warden plugin install hello ./examples/hello.wasm --key keys/dev.pub
  warden plugin install fetch oci://127.0.0.1:5000/plugins/fetch:0.1.0 --config warden.yaml
  warden plugin install gh https://example.com/gh.wasm --identity-regexp '^https://github\.com/acme/.*$' --issuer https://token.actions.githubusercontent.com`,
		Args: argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name, source := args[0], args[1]
			cfg, err := f.resolve(cmd)
			if err != nil {
				return err
			}
			store, err := registry.OpenStore(f.store)
			if err != nil {
				return err
			}
			var v registry.Verifier
			if !insecureSkip {
				sv, err := f.verifier(cfg, name, store)
				if err != nil {
					return err
				}
				v = sv
			}
			rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(store.CompiledDir()))
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			opts := registry.InstallOptions{
				Verifier: v, Store: store, Lockfile: f.lockfile, ListTools: listTools(rt, name),
				AllowDowngrade: allowDowngrade, AcceptToolChanges: acceptToolChanges, InsecureSkipSignature: insecureSkip,
				Source: registry.SourceOptions{Bundle: bundle, InsecureLoopbackHTTP: insecureHTTP},
			}
			if cfg != nil {
				opts.Deny = cfg.Deny
			}
			if creds, err := registry.DockerCredentials(); err == nil {
				opts.Source.Credentials = creds
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "installing %s from %s…\n", name, source)
			inst, err := registry.Install(ctx, name, source, opts)
			if err != nil {
				return err
			}
			e, _ := mustLock(f.lockfile).Entry(name)
			fmt.Fprintf(cmd.OutOrStdout(), "installed %s %s\n  digest: %s\n  signer: %s\n  tools:  %s\n", name, e.Version, e.Digest, signerOf(e), e.Tools)
			_ = inst
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&bundle, "bundle", "", "Sigstore bundle path or URL (default: next to the source)")
	cmd.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "allow installing an older version over a newer one")
	cmd.Flags().BoolVar(&acceptToolChanges, "accept-tool-changes", false, "accept changed tool definitions (after reviewing the diff)")
	cmd.Flags().BoolVar(&insecureSkip, "insecure-skip-signature", false, "install WITHOUT verifying any signature (development only; serve refuses it outside loopback)")
	cmd.Flags().BoolVar(&insecureHTTP, "insecure-loopback-http", false, "allow plain http:// and OCI registries on loopback addresses (tests and local registries)")
	return cmd
}

func mustLock(path string) *registry.Lockfile {
	l, err := registry.ReadLockfile(path)
	if err != nil {
		return &registry.Lockfile{}
	}
	return l
}

func signerOf(e *registry.LockEntry) string {
	switch {
	case e.InsecureSkipSignature:
		return "NONE (installed with --insecure-skip-signature)"
	case e.Issuer != "":
		return e.Signer + " (issuer " + e.Issuer + ")"
	}
	return e.Signer
}

func newVerifyCmd() *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "verify [NAME]",
		Short: "Re-verify installed plugins: bytes, signature, trust policy, tool definitions",
		Long: `Re-verify one installed plugin, or all of them: the stored bytes against the lockfile's
digest, the signature against the current trust policy, and the tool definitions against the
hash pinned at install. Prints one line per plugin; exits 1 if any fails.`,
		Example: `  warden plugin verify --config warden.yaml
  warden plugin verify hello --key keys/dev.pub`,
		Args: argsBetween(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, store, lock, err := f.open(cmd)
			if err != nil {
				return err
			}
			names := lock.Names()
			if len(args) == 1 {
				names = args
			}
			if len(names) == 0 {
				return usagef("nothing is installed (lockfile %s)", f.lockfile)
			}
			rt, err := plugins.NewRuntime(ctx, plugins.WithCacheDir(store.CompiledDir()))
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			failed := 0
			for _, name := range names {
				if err := verifyOne(ctx, &f, cfg, name, lock, store, rt); err != nil {
					failed++
					fmt.Fprintf(cmd.OutOrStdout(), "FAIL %s: %v\n", name, err)
					continue
				}
				e, _ := lock.Entry(name)
				fmt.Fprintf(cmd.OutOrStdout(), "ok   %s %s signed by %s\n", name, e.Digest, signerOf(e))
			}
			if failed > 0 {
				return exitError{exitFailure, fmt.Errorf("%d of %d plugin(s) failed verification", failed, len(names))}
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func verifyOne(ctx context.Context, f *storeFlags, cfg *config.Config, name string, lock *registry.Lockfile, store *registry.Store, rt *plugins.Runtime) error {
	e, ok := lock.Entry(name)
	if !ok {
		return fmt.Errorf("%w: not in %s", registry.ErrNotInstalled, f.lockfile)
	}
	if e.InsecureSkipSignature {
		if _, err := registry.LoadUnverified(name, lock, store); err != nil {
			return err
		}
		return errors.New("installed with --insecure-skip-signature: there is no signature to verify")
	}
	v, err := f.verifier(cfg, name, store)
	if err != nil {
		return err
	}
	wasm, _, err := registry.LoadVerified(ctx, name, lock, v, store)
	if err != nil {
		return err
	}
	defs, err := listTools(rt, name)(ctx, wasm)
	if err != nil {
		return err
	}
	return e.CheckTools(name, defs)
}

func newListCmd() *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List installed plugins",
		Args:  argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.resolve(cmd); err != nil {
				return err
			}
			lock, err := registry.ReadLockfile(f.lockfile)
			if err != nil {
				return usageError{err}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tDIGEST\tSIGNER\tSTATE")
			for _, n := range lock.Names() {
				e, _ := lock.Entry(n)
				state := "enabled"
				if e.Disabled {
					state = "DISABLED"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, orDash(e.Version), shortDigest(e.Digest), signerOf(e), state)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

// lockCmd builds remove/disable/enable, which change only the lockfile.
func lockCmd(use, short string, op func(ctx context.Context, name, lockfile string, store *registry.Store) error, done string) *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   use + " NAME",
		Short: short,
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.resolve(cmd); err != nil {
				return err
			}
			store, err := registry.OpenStore(f.store)
			if err != nil {
				return err
			}
			if err := op(cmd.Context(), args[0], f.lockfile, store); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %s (%s); a running serve picks it up on reload (SIGHUP)\n", done, args[0], f.lockfile)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func newPushCmd() *cobra.Command {
	var f storeFlags
	var insecureHTTP bool
	cmd := &cobra.Command{
		Use:   "push NAME oci://REGISTRY/REPO:TAG",
		Short: "Publish an installed plugin and its signature to an OCI registry",
		Long: `Push an installed plugin as an OCI artifact (artifactType application/vnd.wardenmcp.plugin.v1,
one layer application/vnd.wasm.content.layer.v1+wasm) with its Sigstore bundle attached as
a referrer (and the sha256-<digest>.sigstore.json tag for registries without the referrers
API). Credentials come from ~/.docker/config.json.`,
		Example: `  warden plugin push hello oci://127.0.0.1:5000/plugins/hello:0.1.0 --insecure-loopback-http`,
		Args:    argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, store, lock, err := f.open(cmd)
			if err != nil {
				return err
			}
			opts := &registry.SourceOptions{InsecureLoopbackHTTP: insecureHTTP}
			if creds, err := registry.DockerCredentials(); err == nil {
				opts.Credentials = creds
			}
			digest, err := registry.PushInstalled(cmd.Context(), args[0], args[1], lock, store, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s to %s (manifest %s)\n", args[0], strings.TrimPrefix(args[1], "oci://"), digest)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&insecureHTTP, "insecure-loopback-http", false, "allow plain HTTP to a registry on a loopback address")
	return cmd
}

func registryCmds() []*cobra.Command {
	return []*cobra.Command{
		newKeygenCmd(), newSignCmd(), newInstallCmd(), newVerifyCmd(), newListCmd(),
		lockCmd("remove", "Uninstall a plugin (its bytes stay in the store)", registry.Remove, "removed"),
		lockCmd("disable", "Kill switch: keep a plugin installed but never load it", registry.Disable, "disabled"),
		lockCmd("enable", "Undo disable", registry.Enable, "enabled"),
		newPushCmd(),
	}
}
