package signing

import "context"

// Test hooks for the external test package.

// SetRootFetcher replaces how v fetches the public-good trusted root (TUF),
// so that tests never touch the network.
func SetRootFetcher(v *Verifier, fetch func(ctx context.Context, cacheDir string) ([]byte, error)) {
	v.roots.fetch = fetch
}

// SnapshotTrustedRootWith is SnapshotTrustedRoot with a stub fetcher.
func SnapshotTrustedRootWith(ctx context.Context, dst, cacheDir string, fetch func(context.Context, string) ([]byte, error)) error {
	return snapshotTrustedRoot(ctx, dst, cacheDir, fetch)
}

// ParseBundle exposes the bundle parser to the fuzz tests.
func ParseBundle(data []byte) error {
	_, err := parseBundle(data, MaxBundleSize)
	return err
}
