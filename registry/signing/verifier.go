package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 digests in bundles
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/wardenmcp/warden/registry"
)

// MaxBundleSize is the largest Sigstore bundle VerifyBlob parses (1 MiB).
// Real bundles are a few KiB; sources should cap bundle downloads to it.
const MaxBundleSize = 1 << 20

// Verifier verifies Sigstore bundles over plugin artifacts against a trust
// Policy. It implements registry.Verifier. A Verifier is safe for
// concurrent use.
type Verifier struct {
	policy    Policy
	entries   []*compiledEntry // parallel to policy.Entries
	roots     *rootSource      // the default trusted root
	maxBundle int64
}

var _ registry.Verifier = (*Verifier)(nil)

// Option configures NewVerifier.
type Option func(*config)

type config struct {
	baseDir  string
	rootFile string
	rootJSON []byte
	snapshot string
	tufCache string
}

// WithBaseDir sets the directory that relative key and trustedRoot paths in
// the policy are resolved against, normally the directory of warden.yaml.
// The default is the current directory.
func WithBaseDir(dir string) Option { return func(c *config) { c.baseDir = dir } }

// WithTrustedRootFile makes the trusted_root.json at path the default
// trusted root (for entries that do not name their own), instead of the
// Sigstore public-good root. It is read by NewVerifier. Use it for private
// Sigstore deployments and air-gapped hosts.
func WithTrustedRootFile(path string) Option { return func(c *config) { c.rootFile = path } }

// WithTrustedRootJSON is WithTrustedRootFile with the file's contents.
func WithTrustedRootJSON(data []byte) Option {
	return func(c *config) { c.rootJSON = append([]byte(nil), data...) }
}

// WithTrustedRootSnapshot names a snapshot of the public-good trusted root
// (a trusted_root.json kept in the plugin store). When the default root is
// first needed, the verifier reads the snapshot if it exists and does not
// contact TUF at all; otherwise it fetches the root through TUF and writes
// the snapshot. Refresh the snapshot with SnapshotTrustedRoot while online
// (at install time); loads then keep working offline, even after the TUF
// metadata has expired. Ignored when WithTrustedRootFile or
// WithTrustedRootJSON is given.
func WithTrustedRootSnapshot(path string) Option { return func(c *config) { c.snapshot = path } }

// WithTUFCache sets the directory where the TUF client caches the Sigstore
// public-good TUF metadata (default: sigstore-go's, $HOME/.sigstore/root).
func WithTUFCache(dir string) Option { return func(c *config) { c.tufCache = dir } }

// NewVerifier validates p, reads the public keys and trusted roots its
// entries name, and returns a Verifier. Errors about the policy are
// *PolicyError values naming the entry and field.
//
// Keyless entries without their own trustedRoot use the default trusted
// root: the file or JSON given with WithTrustedRootFile or
// WithTrustedRootJSON if any; otherwise the Sigstore public-good root, read
// from the snapshot named by WithTrustedRootSnapshot if it exists, or else
// fetched through TUF (see WithTUFCache) the first time a keyless signature
// is verified. A failure to obtain it refuses only the plugins that need it.
func NewVerifier(p Policy, opts ...Option) (*Verifier, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		policy:    Policy{Entries: append([]Entry(nil), p.Entries...)},
		maxBundle: MaxBundleSize,
		roots:     &rootSource{snapshot: cfg.snapshot, tufCache: cfg.tufCache, fetch: fetchPublicGoodRoot},
	}
	switch {
	case cfg.rootJSON != nil:
		tr, err := root.NewTrustedRootFromJSON(cfg.rootJSON)
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w", err)
		}
		v.roots.tm, v.roots.desc = tr, "the trusted root given"
	case cfg.rootFile != "":
		tr, err := loadTrustedRoot(cfg.rootFile)
		if err != nil {
			return nil, err
		}
		v.roots.tm, v.roots.desc = tr, cfg.rootFile
	}
	resolve := func(path string) string {
		if filepath.IsAbs(path) || cfg.baseDir == "" {
			return path
		}
		return filepath.Join(cfg.baseDir, path)
	}
	rootCache := map[string]root.TrustedMaterial{}
	for i, e := range v.policy.Entries {
		var c *compiledEntry
		if e.Key != "" {
			data, err := readCapped(resolve(e.Key), maxKeyFileSize)
			if err != nil {
				return nil, &PolicyError{Index: i, Field: "key", Line: e.line("key"), Err: err}
			}
			pub, err := ParsePublicKey(data)
			if err != nil {
				return nil, &PolicyError{Index: i, Field: "key", Line: e.line("key"), Err: fmt.Errorf("%s: %w", e.Key, err)}
			}
			c, err = compileKeyEntry(i, pub, e.Key)
			if err != nil {
				return nil, &PolicyError{Index: i, Field: "key", Line: e.line("key"), Err: err}
			}
		} else {
			c = compileKeylessEntry(i, e)
		}
		c.entry = e
		if c.keyless() {
			c.tlog, c.timestamps = 1, 1
		}
		if e.Tlog != nil {
			c.tlog = *e.Tlog
		}
		if e.Timestamps != nil {
			c.timestamps = *e.Timestamps
		}
		c.scts = e.SCTs
		if e.TrustedRoot != "" {
			path := resolve(e.TrustedRoot)
			tm, ok := rootCache[path]
			if !ok {
				tr, err := loadTrustedRoot(path)
				if err != nil {
					return nil, &PolicyError{Index: i, Field: "trustedRoot", Line: e.line("trustedRoot"), Err: err}
				}
				tm, rootCache[path] = tr, tr
			}
			c.root, c.rootDesc = tm, e.TrustedRoot
		}
		v.entries = append(v.entries, c)
	}
	return v, nil
}

// loadTrustedRoot reads and parses a trusted_root.json.
func loadTrustedRoot(path string) (*root.TrustedRoot, error) {
	data, err := readCapped(path, maxTrustedRootSize)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return tr, nil
}

// maxTrustedRootSize caps trusted_root.json files.
const maxTrustedRootSize = 4 << 20

// compiledEntry is a policy entry ready for verification.
type compiledEntry struct {
	index int
	label string // "trust[1]"
	entry Entry

	// Key entries.
	pub     crypto.PublicKey
	keyDesc string // the key path as written in the policy
	keyFP   string

	// Keyless entries.
	issuerRE, identityRE *regexp.Regexp
	github               *GitHubClaims // with ServerURL filled in

	root       root.TrustedMaterial // the entry's own trusted root, or nil
	rootDesc   string
	tlog       int
	timestamps int
	scts       *int
}

// keyless reports whether the entry accepts keyless signatures.
func (c *compiledEntry) keyless() bool { return c.pub == nil }

// compileKeyEntry prepares an entry accepting signatures by pub.
func compileKeyEntry(index int, pub crypto.PublicKey, desc string) (*compiledEntry, error) {
	fp, err := fingerprint(pub)
	if err != nil {
		return nil, err
	}
	return &compiledEntry{index: index, label: label(index), pub: pub, keyDesc: desc, keyFP: fp}, nil
}

// compileKeylessEntry prepares a validated keyless entry.
func compileKeylessEntry(index int, e Entry) *compiledEntry {
	k := e.Keyless
	c := &compiledEntry{index: index, label: label(index)}
	if k.IssuerRegexp != "" {
		c.issuerRE, _ = compileAnchored(k.IssuerRegexp) // validated
	}
	if k.IdentityRegexp != "" {
		c.identityRE, _ = compileAnchored(k.IdentityRegexp)
	}
	if k.GitHub != nil {
		g := *k.GitHub
		if g.ServerURL == "" {
			g.ServerURL = DefaultGitHubServerURL
		}
		g.ServerURL = strings.TrimSuffix(g.ServerURL, "/")
		c.github = &g
	}
	return c
}

// label names a policy entry in evidence and messages.
func label(index int) string {
	if index < 0 {
		return "key"
	}
	return fmt.Sprintf("trust[%d]", index)
}

// VerifyBlob verifies that bundle (Sigstore bundle JSON) is a valid
// signature over artifact by a signer the policy accepts for the plugin
// called name, and returns what was established. The bundle is parsed only
// after its size is checked against MaxBundleSize; the artifact is only
// hashed. A refusal is a *VerificationError (or a *MultiError when several
// equally specific policy entries applied) matching one of the sentinels
// ErrNoPolicy, ErrMalformedBundle, ErrArtifactMismatch, ErrBadSignature,
// ErrUntrusted and ErrTransparency; other errors (a cancelled context, an
// unobtainable trusted root) are returned as they are.
func (v *Verifier) VerifyBlob(ctx context.Context, name string, artifact, bundleJSON []byte) (*registry.Evidence, error) {
	idx := v.policy.Select(name)
	if len(idx) == 0 {
		return nil, refusal(ErrNoPolicy, name, "", nil,
			"no trust policy entry covers plugin %q (add one to the trust: list of warden.yaml)", name)
	}
	cands := make([]*compiledEntry, len(idx))
	for i, j := range idx {
		cands[i] = v.entries[j]
	}
	return v.verify(ctx, name, artifact, bundleJSON, cands)
}

// verify checks the bundle against each candidate entry in turn.
func (v *Verifier) verify(ctx context.Context, name string, artifact, bundleJSON []byte, cands []*compiledEntry) (*registry.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(artifact)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	pb, err := parseBundle(bundleJSON, v.maxBundle)
	if err != nil {
		return nil, refusal(ErrMalformedBundle, name, "", err, "bundle for plugin %q is not a valid Sigstore bundle", name)
	}
	// The digest in the bundle is not authenticated, but when it differs
	// from the artifact's the bundle was certainly made for other bytes,
	// and saying so is the most useful message.
	h := pb.hash.New()
	h.Write(artifact)
	if got := h.Sum(nil); !bytes.Equal(got, pb.digest) {
		alg := hashName(pb.hash)
		return nil, refusal(ErrArtifactMismatch, name, "", nil,
			"bundle is for %s:%x, not for this artifact %s:%x (plugin %q)", alg, pb.digest, alg, got, name)
	}
	var refusals []*VerificationError
	for _, c := range cands {
		ev, err := v.verifyEntry(ctx, c, name, artifact, pb)
		if err == nil {
			ev.Digest = digest
			return ev, nil
		}
		ve, ok := err.(*VerificationError)
		if !ok {
			return nil, err // not a refusal: context, trusted root
		}
		refusals = append(refusals, ve)
	}
	if len(refusals) == 1 {
		return nil, refusals[0]
	}
	return nil, &MultiError{Plugin: name, Errs: refusals}
}

// parsedBundle is a bundle checked to hold a message signature.
type parsedBundle struct {
	b      *bundle.Bundle
	hash   crypto.Hash
	digest []byte
	sig    []byte
	leaf   *x509.Certificate // nil for key-signed bundles
	hint   string            // public key hint of key-signed bundles
}

// parseBundle parses bundle JSON of at most limit bytes and checks that it
// holds a message signature with a digest and either a certificate or a
// public key hint.
func parseBundle(data []byte, limit int64) (*parsedBundle, error) {
	switch {
	case len(data) == 0:
		return nil, errors.New("empty bundle (is the artifact signed?)")
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("bundle is %d bytes, more than the %d allowed", len(data), limit)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return nil, err
	}
	if sc.EnvelopeContent() != nil {
		return nil, errors.New("bundle holds a DSSE envelope (an attestation), not a message signature over the artifact (as `cosign sign-blob` and `warden plugin sign` make)")
	}
	msg := sc.MessageSignatureContent()
	if msg == nil || len(msg.Signature()) == 0 {
		return nil, errors.New("bundle has no message signature")
	}
	pb := &parsedBundle{b: &b, digest: msg.Digest(), sig: msg.Signature()}
	switch msg.DigestAlgorithm() {
	case "SHA2_256":
		pb.hash = crypto.SHA256
	case "SHA2_384":
		pb.hash = crypto.SHA384
	case "SHA2_512":
		pb.hash = crypto.SHA512
	default:
		return nil, fmt.Errorf("unsupported message digest algorithm %q", msg.DigestAlgorithm())
	}
	if len(pb.digest) != pb.hash.Size() {
		return nil, fmt.Errorf("message digest is %d bytes, want %d for %s", len(pb.digest), pb.hash.Size(), hashName(pb.hash))
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	if leaf := vc.Certificate(); leaf != nil {
		pb.leaf = leaf
	} else if pk := vc.PublicKey(); pk != nil {
		pb.hint = pk.Hint()
	} else {
		return nil, errors.New("bundle has neither a certificate nor a public key")
	}
	return pb, nil
}

// hashName is the lower-case digest prefix for h, as in "sha256:…".
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return "sha256"
}

// verifyEntry verifies the bundle against one policy entry.
func (v *Verifier) verifyEntry(ctx context.Context, c *compiledEntry, name string, artifact []byte, pb *parsedBundle) (*registry.Evidence, error) {
	if c.keyless() {
		return v.verifyKeyless(ctx, c, name, artifact, pb)
	}
	return v.verifyKey(ctx, c, name, artifact, pb)
}

// trustedMaterial returns the entry's trusted root, or the default one.
func (v *Verifier) trustedMaterial(ctx context.Context, c *compiledEntry) (root.TrustedMaterial, string, error) {
	if c.root != nil {
		return c.root, c.rootDesc, nil
	}
	tm, desc, err := v.roots.get(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", c.label, err)
	}
	return tm, desc, nil
}

// messageVerifier returns a verifier for message signatures made with pub
// over a digest computed with h.
func messageVerifier(pub crypto.PublicKey, h crypto.Hash) (signature.Verifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return signature.LoadECDSAVerifier(k, h)
	case *rsa.PublicKey:
		return signature.LoadRSAPKCS1v15Verifier(k, h)
	case ed25519.PublicKey:
		if h != crypto.SHA512 {
			return nil, fmt.Errorf("an Ed25519 message signature must use Ed25519ph with a SHA-512 digest, not %s", hashName(h))
		}
		return signature.LoadED25519phVerifier(k)
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// keyMaterial is trusted material that offers only the given verifier for
// key-signed bundles, whatever key hint they carry (the hint is not
// authenticated; the signature check decides).
func keyMaterial(sv signature.Verifier) root.TrustedMaterial {
	ek := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil })
}

// hintFingerprint turns a key hint into a "sha256:<hex>" fingerprint when it
// is one (as SignBlob writes) or the base64 SHA-256 cosign and sigstore-go
// write; otherwise it returns "".
func hintFingerprint(hint string) string {
	if h, ok := strings.CutPrefix(hint, "sha256:"); ok {
		if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
			return "sha256:" + strings.ToLower(h)
		}
		return ""
	}
	if b, err := base64.StdEncoding.DecodeString(hint); err == nil && len(b) == sha256.Size {
		return "sha256:" + hex.EncodeToString(b)
	}
	return ""
}

// verifyKey verifies a bundle against a key entry.
func (v *Verifier) verifyKey(ctx context.Context, c *compiledEntry, name string, artifact []byte, pb *parsedBundle) (*registry.Evidence, error) {
	want := fmt.Sprintf("want the key in %s (%s)", c.keyDesc, c.keyFP)
	if pb.leaf != nil {
		s := unverifiedSummary(pb.leaf)
		return nil, refusal(ErrUntrusted, name, c.label, nil,
			"plugin %q (%s): signed keyless by %s (issuer %s), %s", name, c.label, s.SubjectAlternativeName, s.Issuer, want)
	}
	sv, err := messageVerifier(c.pub, pb.hash)
	if err != nil {
		return nil, refusal(ErrBadSignature, name, c.label, err, "plugin %q (%s): cannot check the signature with %s", name, c.label, c.keyDesc)
	}
	if err := sv.VerifySignature(bytes.NewReader(pb.sig), bytes.NewReader(artifact)); err != nil {
		if fp := hintFingerprint(pb.hint); fp != "" && fp != c.keyFP {
			return nil, refusal(ErrUntrusted, name, c.label, nil, "plugin %q (%s): signed by key %s, %s", name, c.label, fp, want)
		}
		why := "the artifact or the bundle was modified"
		if fp := hintFingerprint(pb.hint); fp == "" {
			why += ", or it was signed with another key"
			if pb.hint != "" {
				why += fmt.Sprintf(" (bundle key hint %q)", pb.hint)
			}
		}
		return nil, refusal(ErrBadSignature, name, c.label, nil,
			"plugin %q (%s): the signature does not verify with %s (%s): %s", name, c.label, c.keyDesc, c.keyFP, why)
	}
	tms := root.TrustedMaterialCollection{keyMaterial(sv)}
	var vopts []verify.VerifierOption
	if c.tlog > 0 || c.timestamps > 0 {
		tm, _, err := v.trustedMaterial(ctx, c)
		if err != nil {
			return nil, err
		}
		tms = append(tms, tm)
	}
	if c.tlog > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(c.tlog))
	}
	if c.timestamps > 0 {
		vopts = append(vopts, verify.WithObserverTimestamps(c.timestamps))
	} else {
		vopts = append(vopts, verify.WithNoObserverTimestamps())
	}
	res, err := runVerify(tms, vopts, pb, artifact, verify.WithKey())
	if err != nil {
		kind, what := classify(err)
		who := fmt.Sprintf("key %s", c.keyFP)
		return nil, refusal(kind, name, c.label, err, "plugin %q (%s): signature by %s: %s", name, c.label, who, what(c))
	}
	return &registry.Evidence{
		Kind:       "key",
		Signer:     c.keyFP,
		Timestamps: timestamps(res),
		Policy:     c.label,
	}, nil
}

// verifyKeyless verifies a bundle against a keyless entry.
func (v *Verifier) verifyKeyless(ctx context.Context, c *compiledEntry, name string, artifact []byte, pb *parsedBundle) (*registry.Evidence, error) {
	k := c.entry.Keyless
	if pb.leaf == nil {
		signer := "a key"
		if fp := hintFingerprint(pb.hint); fp != "" {
			signer = "key " + fp
		} else if pb.hint != "" {
			signer = fmt.Sprintf("a key (hint %q)", pb.hint)
		}
		return nil, refusal(ErrUntrusted, name, c.label, nil,
			"plugin %q (%s): signed by %s, want a keyless signature by %s", name, c.label, signer, k.want())
	}
	s := unverifiedSummary(pb.leaf)
	who := fmt.Sprintf("%s (issuer %s)", s.SubjectAlternativeName, s.Issuer)
	if sv, err := messageVerifier(pb.leaf.PublicKey, pb.hash); err != nil {
		return nil, refusal(ErrBadSignature, name, c.label, err, "plugin %q (%s): cannot check the signature by %s", name, c.label, who)
	} else if err := sv.VerifySignature(bytes.NewReader(pb.sig), bytes.NewReader(artifact)); err != nil {
		return nil, refusal(ErrBadSignature, name, c.label, nil,
			"plugin %q (%s): the signature does not verify with the certificate of %s: the artifact or the bundle was modified", name, c.label, who)
	}
	tm, rootDesc, err := v.trustedMaterial(ctx, c)
	if err != nil {
		return nil, err
	}
	id, err := verify.NewShortCertificateIdentity(k.Issuer, reString(c.issuerRE), k.Identity, reString(c.identityRE))
	if err != nil {
		return nil, err
	}
	var vopts []verify.VerifierOption
	if c.tlog > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(c.tlog))
	}
	if c.timestamps > 0 {
		vopts = append(vopts, verify.WithObserverTimestamps(c.timestamps))
	} else {
		vopts = append(vopts, verify.WithCurrentTime())
	}
	scts := 0
	if len(tm.CTLogs()) > 0 {
		scts = 1
	}
	if c.scts != nil {
		scts = *c.scts
	}
	if scts > 0 {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(scts))
	}
	res, err := runVerify(tm, vopts, pb, artifact, verify.WithCertificateIdentity(id))
	if err != nil {
		var nomatch *verify.ErrNoMatchingCertificateIdentity
		if errors.As(err, &nomatch) {
			m := c.mismatch(s)
			if m == "" {
				m = "want " + k.want()
			}
			return nil, refusal(ErrUntrusted, name, c.label, nil,
				"signature by %s does not match the trust policy for plugin %q (%s): %s", who, name, c.label, m)
		}
		kind, what := classify(err)
		msg := what(c)
		if kind == ErrTransparency && time.Now().After(pb.leaf.NotAfter) {
			msg += fmt.Sprintf("; the certificate expired at %s, so only a verified timestamp can show it was used while valid",
				pb.leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		if kind == ErrUntrusted {
			msg += fmt.Sprintf(" (trusted root: %s; certificate valid %s to %s)", rootDesc,
				pb.leaf.NotBefore.UTC().Format(time.RFC3339), pb.leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return nil, refusal(kind, name, c.label, err, "plugin %q (%s): signature by %s: %s", name, c.label, who, msg)
	}
	got := s
	if res.Signature != nil && res.Signature.Certificate != nil {
		got = *res.Signature.Certificate
	}
	// sigstore-go matched the anchored identity; check it again ourselves,
	// with the GitHub claims it does not know about.
	if m := c.mismatch(got); m != "" {
		return nil, refusal(ErrUntrusted, name, c.label, nil,
			"signature by %s (issuer %s) does not match the trust policy for plugin %q (%s): %s",
			got.SubjectAlternativeName, got.Issuer, name, c.label, m)
	}
	return &registry.Evidence{
		Kind:       "keyless",
		Signer:     got.SubjectAlternativeName,
		Issuer:     got.Issuer,
		Extensions: extensionMap(got.Extensions),
		Timestamps: timestamps(res),
		Policy:     c.label,
	}, nil
}

// runVerify runs sigstore-go's verification of the bundle.
func runVerify(tm root.TrustedMaterial, vopts []verify.VerifierOption, pb *parsedBundle, artifact []byte, popt verify.PolicyOption) (*verify.VerificationResult, error) {
	sv, err := verify.NewVerifier(tm, vopts...)
	if err != nil {
		return nil, err
	}
	return sv.Verify(pb.b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), popt))
}

// reString returns re's source, or "" for nil.
func reString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
}

// unverifiedSummary summarises a certificate for messages before (or
// without) verifying it.
func unverifiedSummary(cert *x509.Certificate) certificate.Summary {
	s, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		s.SubjectAlternativeName = "(no identity)"
	}
	if s.Issuer == "" {
		s.Issuer = "(none)"
	}
	return s
}

// mismatch says how the certificate summary fails the keyless entry, or
// returns "" when it satisfies it.
func (c *compiledEntry) mismatch(s certificate.Summary) string {
	k := c.entry.Keyless
	var wants []string
	switch {
	case k.Identity != "" && s.SubjectAlternativeName != k.Identity:
		wants = append(wants, fmt.Sprintf("want identity %s", k.Identity))
	case c.identityRE != nil && !c.identityRE.MatchString(s.SubjectAlternativeName):
		wants = append(wants, fmt.Sprintf("want identity matching %s", displayRegexp(k.IdentityRegexp)))
	}
	switch {
	case k.Issuer != "" && s.Issuer != k.Issuer:
		wants = append(wants, fmt.Sprintf("want issuer %s", k.Issuer))
	case c.issuerRE != nil && !c.issuerRE.MatchString(s.Issuer):
		wants = append(wants, fmt.Sprintf("want issuer matching %s", displayRegexp(k.IssuerRegexp)))
	}
	if c.github != nil {
		wants = append(wants, c.github.mismatch(s.Extensions)...)
	}
	return strings.Join(wants, "; ")
}

// mismatch lists the claims the certificate extensions fail.
func (g *GitHubClaims) mismatch(x certificate.Extensions) []string {
	var wants []string
	prefix := g.ServerURL + "/"
	if g.Repository != "" {
		got := x.SourceRepositoryURI
		repo, ok := strings.CutPrefix(got, prefix)
		if got == "" && x.GithubWorkflowRepository != "" { // certificates before Fulcio 1.x extensions
			repo, ok, got = x.GithubWorkflowRepository, true, x.GithubWorkflowRepository
		}
		if !ok || !globMatch(strings.ToLower(g.Repository), strings.ToLower(repo)) {
			wants = append(wants, fmt.Sprintf("want GitHub repository %s, certificate has %s", g.Repository, orNone(got)))
		}
	}
	if g.WorkflowRef != "" {
		want := g.WorkflowRef
		if !strings.Contains(want, "://") {
			want = prefix + want
		}
		if !globMatch(want, x.BuildSignerURI) {
			wants = append(wants, fmt.Sprintf("want GitHub workflow %s, certificate has %s", want, orNone(x.BuildSignerURI)))
		}
	}
	if g.Ref != "" {
		got := x.SourceRepositoryRef
		if got == "" {
			got = x.GithubWorkflowRef
		}
		if !globMatch(g.Ref, got) {
			wants = append(wants, fmt.Sprintf("want git ref %s, certificate has %s", g.Ref, orNone(got)))
		}
	}
	if g.Trigger != "" {
		got := x.BuildTrigger
		if got == "" {
			got = x.GithubWorkflowTrigger
		}
		if got != g.Trigger {
			wants = append(wants, fmt.Sprintf("want GitHub trigger %s, certificate has %s", g.Trigger, orNone(got)))
		}
	}
	if g.RunnerEnvironment != "" && x.RunnerEnvironment != g.RunnerEnvironment {
		wants = append(wants, fmt.Sprintf("want runner environment %s, certificate has %s", g.RunnerEnvironment, orNone(x.RunnerEnvironment)))
	}
	return wants
}

// globMatch matches value against pattern, exactly or, with a trailing
// "*", by prefix.
func globMatch(pattern, value string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return value != "" && strings.HasPrefix(value, p)
	}
	return value == pattern
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// classify maps a sigstore-go verification error to a sentinel and a
// message builder saying what the entry wanted.
func classify(err error) (error, func(*compiledEntry) string) {
	s := err.Error()
	switch {
	case strings.Contains(s, "integrated time outside certificate validity"):
		return ErrUntrusted, func(*compiledEntry) string {
			return "the certificate was not valid at the time the transparency log recorded the signature"
		}
	case strings.HasPrefix(s, "failed to verify log inclusion"):
		return ErrTransparency, func(c *compiledEntry) string {
			return fmt.Sprintf("want %d transparency-log %s verified against the trusted root (tlogThreshold)", c.tlog, plural(c.tlog, "entry", "entries"))
		}
	case strings.HasPrefix(s, "failed to verify timestamps"):
		return ErrTransparency, func(c *compiledEntry) string {
			n := c.timestamps
			return fmt.Sprintf("want %d verified %s (transparency-log integrated time or RFC 3161 timestamp authority) showing when it was signed (timestampThreshold)", n, plural(n, "timestamp", "timestamps"))
		}
	case strings.HasPrefix(s, "failed to verify signed certificate timestamp"):
		return ErrTransparency, func(*compiledEntry) string {
			return "want a signed certificate timestamp from a CT log in the trusted root (ctlogThreshold)"
		}
	case strings.HasPrefix(s, "failed to verify leaf certificate"):
		return ErrUntrusted, func(*compiledEntry) string {
			return "the certificate was not issued by a certificate authority in the trusted root, or was not valid when it was used"
		}
	case strings.HasPrefix(s, "failed to verify signature"):
		return ErrBadSignature, func(*compiledEntry) string {
			return "the signature does not verify over this artifact"
		}
	}
	return ErrUntrusted, func(*compiledEntry) string { return "verification failed" }
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// timestamps lists the verified observer timestamps as RFC 3339 strings.
func timestamps(res *verify.VerificationResult) []string {
	var out []string
	for _, t := range res.VerifiedTimestamps {
		if t.Type == "CurrentTime" {
			continue
		}
		out = append(out, t.Timestamp.UTC().Format(time.RFC3339))
	}
	return out
}

// extensionMap returns the certificate's non-empty CI extensions, keyed by
// their Fulcio names.
func extensionMap(x certificate.Extensions) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"githubWorkflowTrigger":               x.GithubWorkflowTrigger,
		"githubWorkflowSHA":                   x.GithubWorkflowSHA,
		"githubWorkflowName":                  x.GithubWorkflowName,
		"githubWorkflowRepository":            x.GithubWorkflowRepository,
		"githubWorkflowRef":                   x.GithubWorkflowRef,
		"buildSignerURI":                      x.BuildSignerURI,
		"buildSignerDigest":                   x.BuildSignerDigest,
		"runnerEnvironment":                   x.RunnerEnvironment,
		"sourceRepositoryURI":                 x.SourceRepositoryURI,
		"sourceRepositoryDigest":              x.SourceRepositoryDigest,
		"sourceRepositoryRef":                 x.SourceRepositoryRef,
		"sourceRepositoryIdentifier":          x.SourceRepositoryIdentifier,
		"sourceRepositoryOwnerURI":            x.SourceRepositoryOwnerURI,
		"sourceRepositoryOwnerIdentifier":     x.SourceRepositoryOwnerIdentifier,
		"buildConfigURI":                      x.BuildConfigURI,
		"buildConfigDigest":                   x.BuildConfigDigest,
		"buildTrigger":                        x.BuildTrigger,
		"runInvocationURI":                    x.RunInvocationURI,
		"sourceRepositoryVisibilityAtSigning": x.SourceRepositoryVisibilityAtSigning,
	} {
		if v != "" {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
