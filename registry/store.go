package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/wardenmcp/warden/internal/atomicfile"
	"github.com/wardenmcp/warden/registry/internal/flock"
)

// Store is the content-addressed plugin store. Every file is named by the
// SHA-256 digest of the Wasm module it belongs to:
//
//	<dir>/                            0700
//	  .lock                           writers hold an flock on it
//	  sha256/<hex>.wasm               the module
//	  sha256/<hex>.sigstore.json      the Sigstore bundle that verified it
//	  sha256/<hex>.evidence.json      the Record: Evidence, source, time
//	  sha256/<hex>.tools.json         its tool definitions (canonical JSON)
//	  sha256/<hex>.image-manifest.json  plugin images only: the signed
//	  sha256/<hex>.image-layer          image manifest and the layer blob
//	  compiled/                       0700, the runtime's compilation cache
//
// Which name is installed at which digest is recorded only in the
// lockfile, not in the store: a store may hold modules no lockfile names
// (left by a failed install, or by a removal while another name still
// used the digest), and they are never loaded unless a lockfile pins them.
//
// Files are written atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory), so a crash never leaves a
// partial file under its final name; leftover temporary files start with
// ".tmp-" and are ignored, and removed by OpenStore when they are more
// than an hour old. Writers take an exclusive flock on .lock, so two
// installs at once, in one process or several, are serialised. Readers
// take no lock: they see each file either whole or not at all, and Get
// re-hashes the module on every read.
type Store struct {
	dir string
}

// Record is what the store keeps about a module next to its bytes (the
// .evidence.json file).
type Record struct {
	// Digest is "sha256:<hex>" of the module.
	Digest string `json:"digest"`
	// Size is the module's size in bytes.
	Size int64 `json:"size"`
	// Source is where the module was installed from.
	Source string `json:"source"`
	// Stored is when it was stored, RFC 3339 in UTC.
	Stored string `json:"stored"`
	// Evidence is what the signature verification established; nil when
	// the module was installed with InsecureSkipSignature.
	Evidence *Evidence `json:"evidence,omitempty"`
	// InsecureSkipSignature records an install that skipped verification.
	InsecureSkipSignature bool `json:"insecureSkipSignature,omitempty"`
	// Image is set for modules taken from a plugin image: the chain from
	// the signed image manifest to the module.
	Image *ImageChain `json:"image,omitempty"`
	// Tools is the hash of the tool definitions (see ToolsHash).
	Tools string `json:"tools,omitempty"`
}

// Stored is a module read back from the store, with everything needed to
// verify it again.
type Stored struct {
	Record *Record
	// Bytes is the module; its digest has been checked.
	Bytes []byte
	// Bundle is the Sigstore bundle; nil for an unsigned install.
	Bundle []byte
	// ImageManifest and ImageLayer are the stored image manifest and
	// layer blob when Record.Image is set; their digests are not yet
	// checked (CheckImageChain does that).
	ImageManifest, ImageLayer []byte
}

var hexDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d has the form "sha256:<64 lower-case hex>".
func ValidDigest(d string) bool { return hexDigestRE.MatchString(d) }

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// OpenStore opens the store in dir, creating dir, its sha256/ and
// compiled/ subdirectories (mode 0700) as needed. It removes temporary
// files more than an hour old, leftovers of a crashed writer, when no
// writer holds the lock.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store directory is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{abs, filepath.Join(abs, "sha256"), filepath.Join(abs, "compiled")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating the plugin store: %w", err)
		}
		info, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("plugin store %s: want a directory, found a file", d)
		}
	}
	s := &Store{dir: abs}
	if l, err := flock.TryLock(s.lockPath()); err == nil {
		atomicfile.CleanTemp(filepath.Join(abs, "sha256"), time.Now().Add(-time.Hour))
		l.Unlock()
	}
	return s, nil
}

// Dir returns the store's directory as an absolute path.
func (s *Store) Dir() string { return s.dir }

// CompiledDir returns the directory reserved for the runtime's
// compilation cache (mode 0700).
func (s *Store) CompiledDir() string { return filepath.Join(s.dir, "compiled") }

func (s *Store) lockPath() string { return filepath.Join(s.dir, ".lock") }

// path returns the store path of digest's file with the given suffix.
func (s *Store) path(digest, suffix string) (string, error) {
	if !ValidDigest(digest) {
		return "", fmt.Errorf("want a digest of the form sha256:<64 hex digits>, found %q", digest)
	}
	return filepath.Join(s.dir, "sha256", strings.TrimPrefix(digest, "sha256:")+suffix), nil
}

// relPath names a store file in messages: "sha256/<hex>.wasm".
func relPath(digest, suffix string) string {
	return "sha256/" + strings.TrimPrefix(digest, "sha256:") + suffix
}

// Lock takes the store's writer lock, waiting for other writers until ctx
// is done. Install, Remove, Disable and Enable take it themselves, around
// both the store and the lockfile update.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	l, err := flock.Acquire(ctx, s.lockPath())
	if err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}

// put writes the module's files, the record last. The caller holds the
// lock.
func (s *Store) put(rec *Record, wasm, bundle, tools []byte, img *Image) error {
	if Digest(wasm) != rec.Digest {
		return fmt.Errorf("record digest %s does not match the module's %s", rec.Digest, Digest(wasm))
	}
	type file struct {
		suffix string
		data   []byte
	}
	files := []file{{".wasm", wasm}}
	if bundle != nil {
		files = append(files, file{".sigstore.json", bundle})
	}
	if tools != nil {
		files = append(files, file{".tools.json", tools})
	}
	if img != nil {
		files = append(files, file{".image-manifest.json", img.Manifest}, file{".image-layer", img.Layer})
	}
	recJSON, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	files = append(files, file{".evidence.json", append(recJSON, '\n')})
	for _, f := range files {
		p, err := s.path(rec.Digest, f.suffix)
		if err != nil {
			return err
		}
		if f.suffix == ".wasm" {
			// The module's content is its name: if the file is already
			// there and intact, leave it.
			if old, err := readCapped(p, MaxModuleSize); err == nil && Digest(old) == rec.Digest {
				continue
			}
		}
		if err := atomicfile.WriteFile(p, f.data, 0o600); err != nil {
			return fmt.Errorf("writing %s to the plugin store: %w", relPath(rec.Digest, f.suffix), err)
		}
	}
	return nil
}

// Get returns the module stored under digest after checking that its
// bytes still hash to digest.
func (s *Store) Get(digest string) ([]byte, error) {
	p, err := s.path(digest, ".wasm")
	if err != nil {
		return nil, err
	}
	b, err := readCapped(p, MaxModuleSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s from the plugin store %s: %w", relPath(digest, ".wasm"), s.dir, err)
	}
	if got := Digest(b); got != digest {
		return nil, fmt.Errorf("store file %s has digest %s; it was stored as %s: %w",
			relPath(digest, ".wasm"), got, digest, ErrTampered)
	}
	return b, nil
}

// Has reports whether the store holds a module and record for digest. It
// does not check the module's bytes.
func (s *Store) Has(digest string) bool {
	for _, suffix := range []string{".wasm", ".evidence.json"} {
		p, err := s.path(digest, suffix)
		if err != nil {
			return false
		}
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// Record returns the stored record of digest.
func (s *Store) Record(digest string) (*Record, error) {
	p, err := s.path(digest, ".evidence.json")
	if err != nil {
		return nil, err
	}
	b, err := readCapped(p, maxRecordSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s from the plugin store: %w", relPath(digest, ".evidence.json"), err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("store file %s is not a valid record: %v: %w", relPath(digest, ".evidence.json"), err, ErrTampered)
	}
	if rec.Digest != digest {
		return nil, fmt.Errorf("store file %s records digest %s, want %s: %w", relPath(digest, ".evidence.json"), rec.Digest, digest, ErrTampered)
	}
	return &rec, nil
}

// Tools returns the tool definitions stored with digest, or nil when none
// were stored.
func (s *Store) Tools(digest string) ([]json.RawMessage, error) {
	p, err := s.path(digest, ".tools.json")
	if err != nil {
		return nil, err
	}
	b, err := readCapped(p, maxToolsSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var defs []json.RawMessage
	if err := json.Unmarshal(b, &defs); err != nil {
		return nil, fmt.Errorf("store file %s: %w", relPath(digest, ".tools.json"), err)
	}
	return defs, nil
}

// Open reads everything the store holds for digest: the module (digest
// checked), its record, its bundle and, for a plugin image, the image
// manifest and layer.
func (s *Store) Open(digest string) (*Stored, error) {
	rec, err := s.Record(digest)
	if err != nil {
		return nil, err
	}
	wasm, err := s.Get(digest)
	if err != nil {
		return nil, err
	}
	st := &Stored{Record: rec, Bytes: wasm}
	if !rec.InsecureSkipSignature {
		p, _ := s.path(digest, ".sigstore.json")
		if st.Bundle, err = readCapped(p, MaxBundleSize); err != nil {
			return nil, fmt.Errorf("reading %s from the plugin store: %w", relPath(digest, ".sigstore.json"), err)
		}
	}
	if rec.Image != nil {
		p, _ := s.path(digest, ".image-manifest.json")
		if st.ImageManifest, err = readCapped(p, MaxImageManifestSize); err != nil {
			return nil, fmt.Errorf("reading %s from the plugin store: %w", relPath(digest, ".image-manifest.json"), err)
		}
		p, _ = s.path(digest, ".image-layer")
		if st.ImageLayer, err = readCapped(p, MaxModuleSize); err != nil {
			return nil, fmt.Errorf("reading %s from the plugin store: %w", relPath(digest, ".image-layer"), err)
		}
	}
	return st, nil
}

// remove deletes every file of digest. The caller holds the lock.
func (s *Store) remove(digest string) error {
	var errs []error
	for _, suffix := range []string{".evidence.json", ".wasm", ".sigstore.json", ".tools.json", ".image-manifest.json", ".image-layer"} {
		p, err := s.path(digest, suffix)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readCapped reads the regular file at path, refusing one larger than max
// bytes.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: want a regular file, found %s", path, info.Mode().Type())
	}
	if info.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: %w", path, info.Size(), max, ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is more than the %d bytes allowed: %w", path, max, ErrTooLarge)
	}
	return b, nil
}
