package fsmount

import (
	"io"
	"io/fs"
	"os"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// file is an experimental/sys.File on an *os.File opened through the
// mount's Root. Apart from SetAppend, which reopens the file through the
// Root, it acts on the descriptor only.
//
// A file is used by one guest and is not safe for concurrent use, like the
// files of wazero's DirFS.
//
// Every method of experimental/sys.File is declared on file except Seek,
// which is promoted from the embedded File: wazero's interface makes Seek
// return an Errno, and go vet's stdmethods check reports any method named
// Seek that does not return an error. The embedded File is wazero's own
// adapter (experimental/sysfs.AdaptFS) around a seekOnly, which reports
// itself as a regular file so that the adapter always passes the call on to
// file.seek. TestFileDeclaresEveryMethod keeps the other methods declared
// here.
type file struct {
	experimentalsys.File // for Seek only

	m    *FS
	name string // the name it was opened with, for SetAppend
	flag experimentalsys.Oflag
	perm fs.FileMode
	f    *os.File

	// Cached from the fstat done at open; they do not change while the file
	// is open.
	isDir bool
	dev   uint64
	ino   sys.Inode

	closed bool
}

var _ experimentalsys.File = (*file)(nil)

// newFile wraps f, opened as name with flag, after checking O_DIRECTORY on
// systems without it.
func newFile(m *FS, name string, flag experimentalsys.Oflag, perm fs.FileMode, f *os.File) (*file, experimentalsys.Errno) {
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, toErrno(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && !fi.IsDir() {
		_ = f.Close()
		return nil, experimentalsys.ENOTDIR
	}
	st := sys.NewStat_t(fi)
	fl := &file{m: m, name: name, flag: flag, perm: perm, f: f, isDir: fi.IsDir(), dev: st.Dev, ino: st.Ino}
	seeker, errno := (&sysfs.AdaptFS{FS: seekOnlyFS{fl}}).OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		_ = f.Close()
		return nil, errno
	}
	fl.File = seeker
	return fl, 0
}

// seekOnlyFS is the fs.FS whose only file is a seekOnly on f.
type seekOnlyFS struct{ f *file }

// Open returns the seekOnly whatever the name.
func (s seekOnlyFS) Open(string) (fs.File, error) { return seekOnly(s), nil }

// seekOnly is an fs.File and io.Seeker whose Seek is file.seek. It claims to
// be a regular file, so that wazero's adapter hands every Seek to it.
type seekOnly struct{ f *file }

// Seek calls file.seek.
func (s seekOnly) Seek(offset int64, whence int) (int64, error) {
	n, errno := s.f.seek(offset, whence)
	if errno != 0 {
		return n, errno
	}
	return n, nil
}

// Stat describes a regular file.
func (seekOnly) Stat() (fs.FileInfo, error) { return regularInfo{}, nil }

// Read is not used.
func (seekOnly) Read([]byte) (int, error) { return 0, experimentalsys.ENOSYS }

// Close does nothing: file.Close closes the descriptor.
func (seekOnly) Close() error { return nil }

// regularInfo is the fs.FileInfo of a seekOnly.
type regularInfo struct{}

func (regularInfo) Name() string       { return "." }
func (regularInfo) Size() int64        { return 0 }
func (regularInfo) Mode() fs.FileMode  { return 0 }
func (regularInfo) ModTime() time.Time { return time.Time{} }
func (regularInfo) IsDir() bool        { return false }
func (regularInfo) Sys() any           { return nil }

// writable reports whether the file was opened for writing.
func (f *file) writable() bool {
	return f.flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0
}

// Dev implements experimental/sys.File.
func (f *file) Dev() (uint64, experimentalsys.Errno) { return f.dev, 0 }

// Ino implements experimental/sys.File.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) { return f.ino, 0 }

// IsDir implements experimental/sys.File.
func (f *file) IsDir() (bool, experimentalsys.Errno) { return f.isDir, 0 }

// IsAppend implements experimental/sys.File.
func (f *file) IsAppend() bool { return f.flag&experimentalsys.O_APPEND != 0 }

// SetAppend implements experimental/sys.File. The append mode of an open
// descriptor cannot be changed portably, so the file is reopened through the
// Root under the name it was opened with, at the same offset, and the new
// descriptor is kept only if it is the same file (ENOENT otherwise, like
// wazero's DirFS). Enabling it on a read-only mount yields EROFS.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if f.isDir {
		return experimentalsys.EISDIR
	}
	if enable == f.IsAppend() {
		return 0
	}
	flag := f.flag &^ (experimentalsys.O_CREAT | experimentalsys.O_EXCL | experimentalsys.O_TRUNC | experimentalsys.O_APPEND)
	if enable {
		if f.m.readOnly {
			return experimentalsys.EROFS
		}
		flag |= experimentalsys.O_APPEND
	}
	offset, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return toErrno(err)
	}
	nf, errno := f.m.open(f.name, flag, f.perm)
	if errno != 0 {
		return errno
	}
	oldInfo, err1 := f.f.Stat()
	newInfo, err2 := nf.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(oldInfo, newInfo) {
		_ = nf.Close()
		return experimentalsys.ENOENT
	}
	if _, err := nf.Seek(offset, io.SeekStart); err != nil {
		_ = nf.Close()
		return toErrno(err)
	}
	_ = f.f.Close()
	f.f, f.flag = nf, flag
	return 0
}

// Stat implements experimental/sys.File (fstat).
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Read implements experimental/sys.File. A directory yields EISDIR.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, toErrno(err)
}

// Pread implements experimental/sys.File.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, toErrno(err)
}

// seek implements Seek of experimental/sys.File (see file). On a directory
// only a rewind (offset 0 from io.SeekStart) is allowed; it restarts
// Readdir, which then sees entries added since the directory was opened.
func (f *file) seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if whence < io.SeekStart || whence > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	if f.isDir {
		if offset != 0 || whence != io.SeekStart {
			return 0, experimentalsys.EISDIR
		}
	}
	n, err := f.f.Seek(offset, whence)
	return n, toErrno(err)
}

// Readdir implements experimental/sys.File: up to n entries (all remaining
// when n <= 0), without "." and "..", and no io.EOF at the end. Entries are
// stat'ed with fstatat on the directory's descriptor, never by path. A file
// that is not a directory yields EBADF.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed || !f.isDir {
		return nil, experimentalsys.EBADF
	}
	infos, err := f.f.Readdir(n)
	if errno := toErrno(err); errno != 0 {
		if errno == experimentalsys.EINVAL || errno == experimentalsys.ENOTDIR {
			errno = experimentalsys.EBADF
		}
		return nil, errno
	}
	dirents := make([]experimentalsys.Dirent, 0, len(infos))
	for _, fi := range infos {
		dirents = append(dirents, experimentalsys.Dirent{
			Name: fi.Name(),
			Ino:  sys.NewStat_t(fi).Ino,
			Type: fi.Mode().Type(),
		})
	}
	return dirents, 0
}

// Write implements experimental/sys.File. A file not opened for writing,
// which is every file of a read-only mount, yields EBADF.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.checkWrite(); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, toErrno(err)
}

// Pwrite implements experimental/sys.File. A file opened in append mode
// yields EINVAL: the os package refuses positioned writes to it.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.checkWrite(); errno != 0 {
		return 0, errno
	}
	if off < 0 || f.IsAppend() {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, toErrno(err)
}

// Truncate implements experimental/sys.File.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if errno := f.checkWrite(); errno != 0 {
		return errno
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return toErrno(f.f.Truncate(size))
}

// checkWrite returns the Errno for a write to f, zero when allowed.
func (f *file) checkWrite() experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	case !f.writable() || f.m.readOnly:
		return experimentalsys.EBADF
	}
	return 0
}

// Sync implements experimental/sys.File (fsync).
func (f *file) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return toErrno(f.f.Sync())
}

// Datasync implements experimental/sys.File. It does a full Sync, which
// is portable and at least as strong.
func (f *file) Datasync() experimentalsys.Errno {
	return f.Sync()
}

// Utimens implements experimental/sys.File: it sets the times of the open
// file by its descriptor. A read-only mount yields EROFS.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if f.m.readOnly {
		return experimentalsys.EROFS
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	return futimens(f.f, atim, mtim)
}

// Close implements experimental/sys.File. Closing twice is not an error.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return toErrno(f.f.Close())
}
