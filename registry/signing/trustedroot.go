package signing

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// rootSource provides the default trusted root: one given explicitly, or
// the public-good root from a snapshot file or TUF. It loads lazily and
// remembers a success; a failure is retried on the next call.
type rootSource struct {
	snapshot string // snapshot path, or ""
	tufCache string // TUF cache dir, or "" for sigstore-go's default
	// fetch obtains the public-good trusted_root.json (through TUF).
	fetch func(ctx context.Context, cacheDir string) ([]byte, error)

	mu   sync.Mutex
	tm   root.TrustedMaterial
	desc string // where tm came from, for messages
}

// get returns the default trusted root and a description of its source.
func (s *rootSource) get(ctx context.Context) (root.TrustedMaterial, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tm != nil {
		return s.tm, s.desc, nil
	}
	var snapErr error
	if s.snapshot != "" {
		data, err := readCapped(s.snapshot, maxTrustedRootSize)
		switch {
		case err == nil:
			tr, perr := root.NewTrustedRootFromJSON(data)
			if perr == nil {
				s.tm, s.desc = tr, "snapshot "+s.snapshot
				return s.tm, s.desc, nil
			}
			snapErr = fmt.Errorf("trusted root snapshot %s: %w", s.snapshot, perr)
		case errors.Is(err, fs.ErrNotExist):
		default:
			snapErr = fmt.Errorf("trusted root snapshot: %w", err)
		}
	}
	data, err := s.fetch(ctx, s.tufCache)
	if err == nil {
		var tr *root.TrustedRoot
		if tr, err = root.NewTrustedRootFromJSON(data); err == nil {
			if s.snapshot != "" {
				// Best effort: the root is usable even if the snapshot
				// cannot be written (SnapshotTrustedRoot reports errors).
				_ = writeFileAtomic(s.snapshot, data, 0o644, true)
			}
			s.tm, s.desc = tr, "the Sigstore public-good root (TUF)"
			return s.tm, s.desc, nil
		}
	}
	err = fmt.Errorf("no Sigstore trusted root: fetching the public-good root through TUF: %w", err)
	if snapErr != nil {
		err = errors.Join(snapErr, err)
	}
	if s.snapshot != "" && snapErr == nil {
		err = fmt.Errorf("%w (and no snapshot at %s; run `warden plugin install` or SnapshotTrustedRoot while online, or configure a trustedRoot file)", err, s.snapshot)
	}
	return nil, "", err
}

// SnapshotTrustedRoot fetches the Sigstore public-good trusted root through
// TUF (using the cache directory of WithTUFCache, if given among opts) and
// writes it to dst atomically, replacing any older snapshot. Give dst to
// WithTrustedRootSnapshot so that verification keeps working offline. Other
// options are ignored.
func SnapshotTrustedRoot(ctx context.Context, dst string, opts ...Option) error {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return snapshotTrustedRoot(ctx, dst, cfg.tufCache, fetchPublicGoodRoot)
}

// snapshotTrustedRoot is SnapshotTrustedRoot with the fetcher as a
// parameter, for tests.
func snapshotTrustedRoot(ctx context.Context, dst, cacheDir string, fetch func(context.Context, string) ([]byte, error)) error {
	data, err := fetch(ctx, cacheDir)
	if err != nil {
		return fmt.Errorf("fetching the Sigstore public-good trusted root through TUF: %w", err)
	}
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		return fmt.Errorf("the trusted root from TUF does not parse: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(dst, data, 0o644, true)
}
