package signing

import (
	"errors"
	"fmt"
	"strings"
)

// The sentinel errors below classify why a verification was refused. Every
// error returned by Verifier.VerifyBlob for a refused artifact is a
// *VerificationError that matches exactly one of them with errors.Is (or
// several, when several policy entries were tried and failed differently).
var (
	// ErrNoPolicy means that no entry of the trust policy names the plugin,
	// so nothing it could be signed with would be accepted.
	ErrNoPolicy = errors.New("no trust policy for plugin")
	// ErrMalformedBundle means that the bundle is not a Sigstore bundle this
	// package accepts: not JSON, an unknown media type, too large, missing
	// parts, or a DSSE attestation instead of a message signature.
	ErrMalformedBundle = errors.New("malformed Sigstore bundle")
	// ErrArtifactMismatch means that the bundle was made for other bytes
	// than the artifact being verified.
	ErrArtifactMismatch = errors.New("bundle is for another artifact")
	// ErrBadSignature means that the signature in the bundle does not
	// verify over the artifact: the artifact or the bundle was modified, or
	// the bundle was signed with another key than the one it names.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUntrusted means that the signature is not by a signer the trust
	// policy accepts for the plugin: another identity, issuer, GitHub
	// repository or workflow, another key, or a certificate not issued by a
	// trusted certificate authority at signing time.
	ErrUntrusted = errors.New("signer not trusted")
	// ErrTransparency means that the bundle lacks the transparency-log
	// entries, signed certificate timestamps or trusted timestamps the
	// policy requires, or that they do not verify.
	ErrTransparency = errors.New("transparency or timestamp requirement not met")
)

// VerificationError describes a refused verification: what the trust policy
// expected and what the bundle holds. It matches its Kind sentinel (one of
// ErrNoPolicy, ErrMalformedBundle, ErrArtifactMismatch, ErrBadSignature,
// ErrUntrusted, ErrTransparency) and its Cause with errors.Is and errors.As.
type VerificationError struct {
	// Plugin is the name the artifact was being verified for.
	Plugin string
	// Policy names the trust policy entry that was applied, such as
	// "trust[1]"; empty when no entry applied.
	Policy string
	// Kind is the sentinel error classifying the refusal.
	Kind error
	// Message says what was expected and what was found.
	Message string
	// Cause is the underlying error, if any (often from sigstore-go).
	Cause error
}

// Error returns the message, followed by the underlying cause when there is
// one.
func (e *VerificationError) Error() string {
	if e.Cause == nil {
		return e.Message
	}
	return e.Message + ": " + e.Cause.Error()
}

// Unwrap returns the Kind sentinel and the Cause, so that errors.Is and
// errors.As see both.
func (e *VerificationError) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// refusal is a shorthand constructor for *VerificationError.
func refusal(kind error, plugin, policy string, cause error, format string, args ...any) *VerificationError {
	if cause != nil && strings.Contains(cause.Error(), "%!w(<nil>)") {
		cause = tidied{cause}
	}
	return &VerificationError{
		Plugin:  plugin,
		Policy:  policy,
		Kind:    kind,
		Message: fmt.Sprintf(format, args...),
		Cause:   cause,
	}
}

// tidied hides a formatting artefact ("; error: %!w(<nil>)") that
// sigstore-go leaves in some threshold errors.
type tidied struct{ err error }

func (t tidied) Error() string {
	s := t.err.Error()
	s = strings.ReplaceAll(s, "; error: %!w(<nil>)", "")
	return strings.ReplaceAll(s, "%!w(<nil>)", "")
}

func (t tidied) Unwrap() error { return t.err }

// MultiError is returned when several trust policy entries applied to a
// plugin (for instance an old and a new key during a rotation) and each of
// them refused the signature. It matches the sentinels of all its errors.
type MultiError struct {
	// Plugin is the name the artifact was being verified for.
	Plugin string
	// Errs holds one refusal per applicable policy entry, in policy order.
	Errs []*VerificationError
}

// Error lists each entry's refusal.
func (e *MultiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "none of the %d trust policy entries for plugin %q accepts the signature", len(e.Errs), e.Plugin)
	for _, err := range e.Errs {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the individual refusals.
func (e *MultiError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, err := range e.Errs {
		errs[i] = err
	}
	return errs
}

// PolicyError reports an invalid trust policy entry. Its message names the
// entry index and field, and the YAML line when the policy was parsed from
// YAML, e.g. "trust[1].keyless.identityRegexp (line 12): invalid regexp".
type PolicyError struct {
	// Index is the entry's position in the trust list, from 0; -1 when the
	// error concerns the list itself.
	Index int
	// Field is the dotted field path inside the entry, e.g.
	// "keyless.identityRegexp"; empty for the entry as a whole.
	Field string
	// Line is the YAML line of the offending value, or 0 when unknown.
	Line int
	// Err says what is wrong.
	Err error
}

// Error formats the location and the problem.
func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString("trust")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "[%d]", e.Index)
	}
	if e.Field != "" {
		b.WriteString(".")
		b.WriteString(e.Field)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *PolicyError) Unwrap() error { return e.Err }
