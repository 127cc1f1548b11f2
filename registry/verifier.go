// Package registry decides where plugins come from and whether to trust
// them: sources (file, https, oci), Sigstore verification, the
// content-addressed store and the lockfile. It never runs Wasm.
package registry

import "context"

// Verifier checks that a Sigstore bundle is a valid signature over an
// artifact's bytes by a signer the operator's trust policy accepts for the
// named plugin. Implementations hide the Sigstore library behind this
// interface (see package registry/signing).
type Verifier interface {
	// VerifyBlob verifies bundle (Sigstore bundle JSON) over artifact for the
	// plugin installed as name. The error says what was expected and what was
	// found (identity, issuer, digest, key).
	VerifyBlob(ctx context.Context, name string, artifact, bundle []byte) (*Evidence, error)
}

// Evidence records what a successful verification established. It is kept
// in the store next to the artifact and summarised in the lockfile.
type Evidence struct {
	// Digest is "sha256:<hex>" of the artifact that was verified.
	Digest string `json:"digest"`
	// Kind is "keyless" (a Fulcio certificate) or "key" (a public key).
	Kind string `json:"kind"`
	// Signer is the certificate's identity (SAN: email or URI) for keyless
	// signatures, or "sha256:<hex>" of the public key (its fingerprint).
	Signer string `json:"signer"`
	// Issuer is the OIDC issuer of a keyless signature; empty for keys.
	Issuer string `json:"issuer,omitempty"`
	// Extensions holds the certificate extensions that were checked, such as
	// the GitHub repository and workflow ref.
	Extensions map[string]string `json:"extensions,omitempty"`
	// Timestamps lists the verified signing times (transparency log and
	// timestamp authorities), RFC 3339.
	Timestamps []string `json:"timestamps,omitempty"`
	// Policy names the trust policy entry that accepted the signature.
	Policy string `json:"policy,omitempty"`
}
