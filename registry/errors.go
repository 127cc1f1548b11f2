package registry

import "errors"

// Sentinel errors, wrapped by the detailed errors this package returns so
// that callers can tell the cases apart with errors.Is.
var (
	// ErrNotInstalled: the lockfile has no entry for the plugin.
	ErrNotInstalled = errors.New("plugin is not installed")
	// ErrDisabled: the plugin is disabled in the lockfile (the kill switch).
	ErrDisabled = errors.New("plugin is disabled")
	// ErrDenied: the artifact's digest is on the deny list.
	ErrDenied = errors.New("digest is on the deny list")
	// ErrUnsigned: no Sigstore bundle was found for the artifact.
	ErrUnsigned = errors.New("artifact is not signed")
	// ErrVerification: the signature did not verify, or verified for
	// something other than what was pinned.
	ErrVerification = errors.New("signature verification failed")
	// ErrInsecureEntry: the lockfile entry was installed with
	// InsecureSkipSignature, so it has no signature to verify at load.
	ErrInsecureEntry = errors.New("plugin was installed without a signature check")
	// ErrTampered: a stored file does not match its recorded digest.
	ErrTampered = errors.New("the store was modified")
	// ErrMismatch: what the store holds differs from what the lockfile pins.
	ErrMismatch = errors.New("store and lockfile disagree")
	// ErrNameMismatch: the plugin's embedded manifest names another plugin.
	ErrNameMismatch = errors.New("manifest name differs from the install name")
	// ErrDowngrade: the new version is older than the installed one.
	ErrDowngrade = errors.New("version downgrade")
	// ErrToolsChanged: the plugin's tool definitions differ from the
	// installed version's (a possible rug pull).
	ErrToolsChanged = errors.New("tool definitions changed")
	// ErrTooLarge: an artifact, bundle or manifest exceeds its size cap.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidName: the plugin name is not a valid plugin name.
	ErrInvalidName = errors.New("invalid plugin name")
)
