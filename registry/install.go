package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/registry/internal/semver"
)

// InstallOptions configure Install.
type InstallOptions struct {
	// Verifier checks the signature against the operator's trust policy.
	// Required unless InsecureSkipSignature is set.
	Verifier Verifier
	// Store is where the module, its bundle and its record go. Required.
	Store *Store
	// Lockfile is the path of warden.lock. Required; a missing file is
	// created.
	Lockfile string
	// Source configures fetching (explicit bundle location, HTTP client,
	// caps, credentials).
	Source SourceOptions
	// ListTools lists the plugin's tool definitions (MCP Tool objects) by
	// running the module in a sandbox with no capabilities. The registry
	// never runs Wasm itself; the caller provides this. Required.
	ListTools func(ctx context.Context, wasm []byte) ([]json.RawMessage, error)
	// AllowDowngrade permits installing a version older than the installed
	// one (--allow-downgrade).
	AllowDowngrade bool
	// AcceptToolChanges permits an upgrade whose tool definitions differ
	// from the installed version's (--accept-tool-changes).
	AcceptToolChanges bool
	// InsecureSkipSignature installs without checking any signature. It is
	// recorded in the lockfile, and LoadVerified refuses such entries:
	// only LoadUnverified loads them, for loopback-only development.
	InsecureSkipSignature bool
	// Deny lists digests that must never be installed (warden.yaml deny:).
	Deny []string
	// Now returns the time recorded in the store; nil means time.Now.
	Now func() time.Time
}

// Installed describes a successful install.
type Installed struct {
	Name string
	// Entry is the new lockfile entry.
	Entry LockEntry
	// Previous is the entry it replaced, nil for a first install.
	Previous *LockEntry
	// Evidence is what the verification established; nil with
	// InsecureSkipSignature.
	Evidence *Evidence
	// BundleSource says where the bundle that verified came from.
	BundleSource string
	// Manifest is the plugin's embedded manifest, nil when it has none.
	Manifest *capabilities.Manifest
	// Tools are the plugin's tool definitions as ListTools returned them.
	Tools []json.RawMessage
	// ToolChanges is the accepted difference from the previous version's
	// tool definitions; nil when they did not change (or on a first
	// install, or when the previous definitions were not in the store).
	ToolChanges *ToolDiff
}

// Install fetches the plugin at source, verifies it and installs it under
// name. The steps, in order, each of which refuses the install:
//
//  1. fetch the module and its bundle (size-capped; see Fetch);
//  2. refuse a denied digest;
//  3. verify the bundle over the signed bytes with opts.Verifier, before
//     anything is parsed (for a plugin image the signed bytes are the
//     image manifest, and the chain to the module was checked by Fetch);
//  4. read the embedded manifest (custom section "warden.manifest"), if
//     any: its name must be name;
//  5. refuse a version older than the installed one, unless
//     AllowDowngrade;
//  6. list the tools (opts.ListTools) and hash them (ToolsHash); if the
//     plugin was installed before with another hash, refuse with the
//     difference unless AcceptToolChanges;
//  7. store the module, bundle, record and tool definitions;
//  8. write the lockfile entry (atomically).
//
// Steps 5 to 8 run under the store's lock, against the lockfile as it is
// then. Nothing is installed when any step fails: the lockfile is written
// last, and store files no lockfile names are never loaded.
func Install(ctx context.Context, name, source string, opts InstallOptions) (*Installed, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	switch {
	case opts.Store == nil:
		return nil, errors.New("install: no store")
	case opts.Lockfile == "":
		return nil, errors.New("install: no lockfile path")
	case opts.ListTools == nil:
		return nil, errors.New("install: no ListTools function: the tool definitions must be hashed into the lockfile")
	case opts.Verifier == nil && !opts.InsecureSkipSignature:
		return nil, fmt.Errorf("install %q: no trust policy to verify the signature with", name)
	}
	// A broken lockfile fails before any download.
	lock, err := ReadLockfile(opts.Lockfile)
	if err != nil {
		return nil, err
	}
	art, err := Fetch(ctx, source, &opts.Source)
	if err != nil {
		return nil, fmt.Errorf("install %q: %w", name, err)
	}
	if IsDenied(art.Digest, opts.Deny) {
		return nil, fmt.Errorf("install %q: module %s from %s: %w", name, art.Digest, source, ErrDenied)
	}
	if art.Image != nil && IsDenied(art.Image.Chain.ManifestDigest, opts.Deny) {
		return nil, fmt.Errorf("install %q: image manifest %s from %s: %w", name, art.Image.Chain.ManifestDigest, source, ErrDenied)
	}
	res := &Installed{Name: name}
	var bundle []byte
	if !opts.InsecureSkipSignature {
		res.Evidence, bundle, res.BundleSource, err = verifyArtifact(ctx, name, art, opts.Verifier)
		if err != nil {
			return nil, err
		}
	}
	res.Manifest, err = readManifest(name, art.Bytes)
	if err != nil {
		return nil, err
	}
	if res.Manifest != nil && res.Manifest.Name != name {
		return nil, fmt.Errorf("install %q: the plugin's manifest names it %q; a signature covers bytes, not a name, so a plugin installs only under its own name: %w",
			name, res.Manifest.Name, ErrNameMismatch)
	}
	version := ""
	if res.Manifest != nil {
		version = res.Manifest.Version
	}
	if err := checkDowngrade(name, lock.Plugins[name], version, opts.AllowDowngrade); err != nil {
		return nil, err
	}
	tools, err := opts.ListTools(ctx, art.Bytes)
	if err != nil {
		return nil, fmt.Errorf("install %q: listing its tools: %w", name, err)
	}
	hash, err := ToolsHash(tools)
	if err != nil {
		return nil, fmt.Errorf("install %q: %w", name, err)
	}
	canon, err := canonicalTools(tools)
	if err != nil {
		return nil, err
	}
	res.Tools = tools

	unlock, err := opts.Store.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another install may have changed the lockfile meanwhile.
	if lock, err = ReadLockfile(opts.Lockfile); err != nil {
		return nil, err
	}
	prev := lock.Plugins[name]
	if err := checkDowngrade(name, prev, version, opts.AllowDowngrade); err != nil {
		return nil, err
	}
	if prev != nil && prev.Tools != hash {
		old, err := opts.Store.Tools(prev.Digest)
		if err == nil && old != nil {
			res.ToolChanges, _ = DiffTools(old, tools)
		}
		if !opts.AcceptToolChanges {
			return nil, &ToolChangeError{Plugin: name, OldHash: prev.Tools, NewHash: hash, Diff: res.ToolChanges}
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rec := &Record{
		Digest:                art.Digest,
		Size:                  int64(len(art.Bytes)),
		Source:                source,
		Stored:                now().UTC().Format(time.RFC3339),
		Evidence:              res.Evidence,
		InsecureSkipSignature: opts.InsecureSkipSignature,
		Tools:                 hash,
	}
	if art.Image != nil {
		c := art.Image.Chain
		rec.Image = &c
	}
	if err := opts.Store.put(rec, art.Bytes, bundle, canon, art.Image); err != nil {
		return nil, fmt.Errorf("install %q: %w", name, err)
	}
	entry := &LockEntry{
		Source:                source,
		Digest:                art.Digest,
		Version:               version,
		Tools:                 hash,
		InsecureSkipSignature: opts.InsecureSkipSignature,
	}
	if ev := res.Evidence; ev != nil {
		entry.Kind, entry.Signer, entry.Issuer = ev.Kind, ev.Signer, ev.Issuer
	}
	if art.Image != nil {
		entry.ImageManifest, entry.ImageLayer = art.Image.Chain.ManifestDigest, art.Image.Chain.LayerDigest
	}
	if prev != nil {
		// The kill switch survives upgrades: enable the plugin explicitly.
		entry.Disabled = prev.Disabled
		p := *prev
		res.Previous = &p
	}
	next := lock.clone()
	next.Plugins[name] = entry
	if err := WriteLockfile(opts.Lockfile, next); err != nil {
		return nil, fmt.Errorf("install %q: writing the lockfile: %w", name, err)
	}
	res.Entry = *entry
	return res, nil
}

// verifyArtifact verifies the artifact's bundles in turn and returns the
// evidence of the first that verifies.
func verifyArtifact(ctx context.Context, name string, art *Artifact, v Verifier) (*Evidence, []byte, string, error) {
	what := "the module " + art.Digest
	if art.Image != nil {
		what = "the image manifest " + art.Image.Chain.ManifestDigest
	}
	if art.Bundle == nil {
		return nil, nil, "", fmt.Errorf("install %q: %s from %s has no Sigstore bundle (looked at: %s); sign it with `warden plugin sign`, or give the bundle's location: %w",
			name, what, art.Source, strings.Join(art.Searched, "; "), ErrUnsigned)
	}
	signed := art.Signed()
	want := Digest(signed)
	var errs []error
	for i, b := range append([][]byte{art.Bundle}, art.Alternates...) {
		ev, err := v.VerifyBlob(ctx, name, signed, b)
		if err == nil {
			err = checkEvidence(ev, want)
		}
		if err != nil {
			if len(art.Alternates) > 0 {
				err = fmt.Errorf("bundle %d: %w", i+1, err)
			}
			errs = append(errs, err)
			continue
		}
		src := art.BundleSource
		if i > 0 {
			src = fmt.Sprintf("alternate bundle %d of %s", i, art.Source)
		}
		return ev, b, src, nil
	}
	return nil, nil, "", fmt.Errorf("install %q: the signature over %s from %s does not verify: %w: %w", name, what, art.Source, ErrVerification, errors.Join(errs...))
}

// checkEvidence checks what a Verifier returned, filling in the digest.
func checkEvidence(ev *Evidence, want string) error {
	if ev == nil {
		return errors.New("the verifier returned no evidence")
	}
	if ev.Digest == "" {
		ev.Digest = want
	} else if ev.Digest != want {
		return fmt.Errorf("the verifier vouched for %s, want %s", ev.Digest, want)
	}
	if ev.Kind != "keyless" && ev.Kind != "key" {
		return fmt.Errorf("the verifier reported signature kind %q, want keyless or key", ev.Kind)
	}
	if ev.Signer == "" {
		return errors.New("the verifier reported no signer")
	}
	return nil
}

// readManifest returns the module's embedded manifest, or nil.
func readManifest(name string, wasm []byte) (*capabilities.Manifest, error) {
	raw, found, err := wasmbin.CustomSection(wasm, capabilities.ManifestSection)
	if err != nil {
		return nil, fmt.Errorf("install %q: not a valid WebAssembly module: %w", name, err)
	}
	if !found {
		return nil, nil
	}
	m, err := capabilities.ParseManifestJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("install %q: the embedded manifest (custom section %s) is invalid: %w", name, capabilities.ManifestSection, err)
	}
	return m, nil
}

// checkDowngrade refuses installing version over prev's, when older.
func checkDowngrade(name string, prev *LockEntry, version string, allow bool) error {
	if prev == nil || prev.Version == "" || allow {
		return nil
	}
	if version == "" {
		return fmt.Errorf("install %q: version %s is installed and the new module states no version, so it may be older; "+
			"allow a downgrade (--allow-downgrade) to install it: %w", name, prev.Version, ErrDowngrade)
	}
	c, err := semver.Compare(version, prev.Version)
	if err != nil {
		return fmt.Errorf("install %q: %w", name, err)
	}
	if c < 0 {
		return fmt.Errorf("install %q: version %s is older than the installed %s; allow a downgrade (--allow-downgrade) to install it: %w",
			name, version, prev.Version, ErrDowngrade)
	}
	return nil
}

// IsDenied reports whether digest is on the deny list (warden.yaml deny:).
// Digests compare without regard to case or surrounding spaces.
func IsDenied(digest string, deny []string) bool {
	d := strings.ToLower(strings.TrimSpace(digest))
	for _, x := range deny {
		if strings.ToLower(strings.TrimSpace(x)) == d {
			return true
		}
	}
	return false
}

// LoadVerified returns the module installed as name, for `serve` and
// `warden plugin verify`. It refuses, with an error naming the plugin and
// what differs, when the plugin is not in the lockfile, is disabled, was
// installed without a signature check, or when:
//
//   - the stored module's digest is not the one the lockfile pins (a
//     modified store);
//   - for a plugin image, the stored chain from the image manifest to the
//     module no longer holds, or names other digests than the lockfile;
//   - the stored bundle does not verify against v, the current trust
//     policy;
//   - it verifies for another signer or issuer than the lockfile pins.
//
// The returned Evidence is the one v just produced. Deny lists are the
// caller's: see IsDenied.
func LoadVerified(ctx context.Context, name string, lock *Lockfile, v Verifier, store *Store) ([]byte, *Evidence, error) {
	e, err := loadableEntry(name, lock)
	if err != nil {
		return nil, nil, err
	}
	if e.InsecureSkipSignature {
		return nil, nil, fmt.Errorf("plugin %q was installed with InsecureSkipSignature, so there is no signature to verify; reinstall it signed: %w", name, ErrInsecureEntry)
	}
	if v == nil {
		return nil, nil, fmt.Errorf("plugin %q: no trust policy to verify it with", name)
	}
	st, err := store.Open(e.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	if st.Record.InsecureSkipSignature || st.Bundle == nil {
		return nil, nil, fmt.Errorf("plugin %q: the store has no signature for %s, but the lockfile says it was signed by %s: %w", name, e.Digest, e.Signer, ErrMismatch)
	}
	signed, what := st.Bytes, "module "+e.Digest
	switch {
	case e.ImageManifest != "":
		c := st.Record.Image
		if c == nil {
			return nil, nil, fmt.Errorf("plugin %q: the lockfile pins image manifest %s, but the store holds %s as a plain module: %w", name, e.ImageManifest, e.Digest, ErrMismatch)
		}
		if c.ManifestDigest != e.ImageManifest || c.LayerDigest != e.ImageLayer {
			return nil, nil, fmt.Errorf("plugin %q: the store records image manifest %s and layer %s, the lockfile pins manifest %s and layer %s: %w",
				name, c.ManifestDigest, c.LayerDigest, e.ImageManifest, e.ImageLayer, ErrMismatch)
		}
		if err := CheckImageChain(*c, st.ImageManifest, st.ImageLayer, st.Bytes); err != nil {
			return nil, nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		signed, what = st.ImageManifest, "image manifest "+e.ImageManifest
	case st.Record.Image != nil:
		return nil, nil, fmt.Errorf("plugin %q: the store holds %s as taken from image manifest %s, but the lockfile pins a plain module: %w", name, e.Digest, st.Record.Image.ManifestDigest, ErrMismatch)
	}
	ev, err := v.VerifyBlob(ctx, name, signed, st.Bundle)
	if err == nil {
		err = checkEvidence(ev, Digest(signed))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("plugin %q: the stored signature over %s does not verify against the trust policy: %w: %w", name, what, ErrVerification, err)
	}
	if ev.Kind != e.Kind || ev.Signer != e.Signer || ev.Issuer != e.Issuer {
		return nil, nil, fmt.Errorf("plugin %q: %s is signed by %s, but the lockfile pins %s: %w",
			name, what, describeSigner(ev.Kind, ev.Signer, ev.Issuer), describeSigner(e.Kind, e.Signer, e.Issuer), ErrMismatch)
	}
	return st.Bytes, ev, nil
}

func describeSigner(kind, signer, issuer string) string {
	s := fmt.Sprintf("%s (%s", signer, kind)
	if issuer != "" {
		s += ", issuer " + issuer
	}
	return s + ")"
}

// LoadUnverified returns the module installed as name after checking its
// digest against the lockfile, without verifying any signature. It is for
// entries installed with InsecureSkipSignature, in loopback-only
// development; serving anything else must use LoadVerified.
func LoadUnverified(name string, lock *Lockfile, store *Store) ([]byte, error) {
	e, err := loadableEntry(name, lock)
	if err != nil {
		return nil, err
	}
	b, err := store.Get(e.Digest)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	return b, nil
}

func loadableEntry(name string, lock *Lockfile) (*LockEntry, error) {
	e, ok := lock.Entry(name)
	if !ok {
		return nil, fmt.Errorf("plugin %q is not in the lockfile: %w", name, ErrNotInstalled)
	}
	if e.Disabled {
		return nil, fmt.Errorf("plugin %q is disabled in the lockfile (the kill switch; `warden plugin enable %s` turns it back on): %w", name, name, ErrDisabled)
	}
	return e, nil
}

// Remove deletes the lockfile entry for name and, when no other entry of
// the lockfile uses the same module, the module's files in the store.
func Remove(ctx context.Context, name, lockfile string, store *Store) error {
	return updateLock(ctx, lockfile, store, func(l *Lockfile) (func() error, error) {
		e, ok := l.Plugins[name]
		if !ok {
			return nil, fmt.Errorf("plugin %q is not in %s: %w", name, lockfile, ErrNotInstalled)
		}
		delete(l.Plugins, name)
		for _, other := range l.Plugins {
			if other.Digest == e.Digest {
				return nil, nil
			}
		}
		// A module left in the store by a failed lockfile write is
		// harmless; a lockfile naming a deleted module is not: delete the
		// files after writing the lockfile.
		return func() error { return store.remove(e.Digest) }, nil
	})
}

// Disable turns the kill switch on for name: LoadVerified refuses it until
// Enable.
func Disable(ctx context.Context, name, lockfile string, store *Store) error {
	return setDisabled(ctx, name, lockfile, store, true)
}

// Enable turns the kill switch off for name.
func Enable(ctx context.Context, name, lockfile string, store *Store) error {
	return setDisabled(ctx, name, lockfile, store, false)
}

func setDisabled(ctx context.Context, name, lockfile string, store *Store, disabled bool) error {
	return updateLock(ctx, lockfile, store, func(l *Lockfile) (func() error, error) {
		e, ok := l.Plugins[name]
		if !ok {
			return nil, fmt.Errorf("plugin %q is not in %s: %w", name, lockfile, ErrNotInstalled)
		}
		e.Disabled = disabled
		return nil, nil
	})
}

// updateLock applies change to the lockfile under the store's lock, writes
// it, then runs what change returned, if anything.
func updateLock(ctx context.Context, lockfile string, store *Store, change func(*Lockfile) (func() error, error)) error {
	if store == nil {
		return errors.New("no store")
	}
	unlock, err := store.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	l, err := ReadLockfile(lockfile)
	if err != nil {
		return err
	}
	after, err := change(l)
	if err != nil {
		return err
	}
	if err := WriteLockfile(lockfile, l); err != nil {
		return err
	}
	if after != nil {
		return after()
	}
	return nil
}
