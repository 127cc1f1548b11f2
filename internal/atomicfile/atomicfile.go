// Package atomicfile writes files so that a reader, or a process that
// starts after a crash, sees either the old content or the new content
// under the final name, never a partial write.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// TempPrefix starts the name of every temporary file this package creates.
// Files whose names start with it are never final: readers ignore them and
// CleanTemp removes old ones.
const TempPrefix = ".tmp-"

// WriteFile writes data to a temporary file in the directory of path,
// flushes it to stable storage, renames it to path and flushes the
// directory. perm is applied to the new file. On error the temporary file
// is removed and path is left as it was.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir flushes a directory's entries (a rename, a new file) to stable
// storage. Filesystems that cannot sync a directory are not an error.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Windows cannot open a directory for syncing; its rename is
		// atomic and metadata is journaled.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// isUnsupported reports whether err is a filesystem's refusal to sync a
// directory (some FUSE and network filesystems); the rename itself is
// still atomic there.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported)
}

// CleanTemp removes the temporary files in dir that were last modified
// before cutoff: leftovers of writers that crashed. It returns how many it
// removed. Callers must hold whatever lock keeps live writers out, or pass
// a cutoff old enough that no live writer can be that slow.
func CleanTemp(dir string, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}
