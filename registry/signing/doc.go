// Package signing decides whether a plugin artifact is signed by someone the
// operator trusts. It verifies Sigstore bundles with sigstore-go behind
// Warden's own types (Policy, Verifier, registry.Evidence, the error
// sentinels), and it makes key pairs and bundles for `warden plugin keygen`
// and `warden plugin sign`.
//
// # Trust policy
//
// The policy is the `trust:` list of warden.yaml, reviewed like grants:
//
//	trust:
//	  - plugins: ["*"]                  # names, "prefix*" globs, or "*"
//	    keyless:
//	      issuer: https://token.actions.githubusercontent.com
//	      identityRegexp: '^https://github\.com/acme/.*$'
//	      github: {repository: acme/plugins, ref: "refs/tags/v*"}
//	  - plugins: [hello]
//	    key: keys/dev.pub               # a PEM public key; cosign.pub works
//
// Each entry accepts either keyless signatures (a Fulcio certificate whose
// OIDC issuer and identity match, exactly or by a regular expression that
// this package anchors as ^(?:…)$, optionally with GitHub Actions claims
// from the certificate's extensions) or signatures by one public key. The
// entries whose plugins patterns match a plugin's name most specifically
// apply to it (see Policy); several equally specific entries are
// alternatives, which is how a key is rotated. ParsePolicy and
// Policy.Validate report problems as *PolicyError values naming the entry
// index, field and YAML line; unknown fields are errors.
//
// # Verification
//
// NewVerifier compiles a policy (reading key files and trusted roots);
// Verifier.VerifyBlob implements registry.Verifier. It refuses bundles over
// MaxBundleSize before parsing them, never parses the artifact (it only
// hashes it), accepts only message signatures (not DSSE attestations), and
// reports refusals as *VerificationError values that say what the policy
// wanted and what the bundle holds, classified by the sentinels
// ErrNoPolicy, ErrMalformedBundle, ErrArtifactMismatch, ErrBadSignature,
// ErrUntrusted and ErrTransparency.
//
// Keyless entries are checked by sigstore-go against a trusted root: the
// certificate chain to a Fulcio CA valid at the signing time, at least
// tlogThreshold (default 1) transparency-log entries, at least
// timestampThreshold (default 1) verified signing times (log integrated
// times or RFC 3161 timestamps), signed certificate timestamps when the
// root lists CT logs, and the identity; the GitHub claims are then checked
// by this package.
//
// # Key-signed bundles
//
// SignBlob signs the artifact's bytes with a PEM private key (GenerateKey's
// ECDSA P-256, or P-384/P-521, Ed25519ph, RSA; or a cosign "ENCRYPTED
// SIGSTORE PRIVATE KEY" with a password) through sigstore-go's sign.Bundle
// and writes a v0.3 bundle: a messageSignature (the artifact's digest and
// the signature) and, as verification material, a publicKey whose hint is
// the key's fingerprint, "sha256:<hex of the DER SubjectPublicKeyInfo>". It
// has no log entry or timestamp. A key entry verifies it with sigstore-go's
// key-based verification: trusted material that offers the policy's key
// whatever the (unauthenticated) hint says, WithKey, and no observer
// timestamps unless the entry sets thresholds. `cosign sign-blob --key
// cosign.key --new-bundle-format --bundle B --tlog-upload=false` bundles
// verify the same way with cosign.pub, and cosign verifies SignBlob's.
//
// # Trusted root
//
// An entry's trustedRoot file, else the verifier's default: a file given
// with WithTrustedRootFile (air-gapped hosts, private Sigstore), else the
// Sigstore public-good root. The public-good root comes from the snapshot
// named by WithTrustedRootSnapshot when that file exists (no network at
// all), otherwise from TUF (sigstore-go's client, cache directory set with
// WithTUFCache), after which the snapshot is written. SnapshotTrustedRoot
// refreshes the snapshot explicitly; the store keeps it so that `serve` and
// `plugin verify` work offline even after the TUF metadata has expired.
// Key entries without thresholds need no trusted root at all.
package signing
