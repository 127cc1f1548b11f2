package fsmount

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// FS is a wazero filesystem (experimental/sys.FS) rooted at one host
// directory through an [os.Root]. Paths given to its methods are relative to
// that directory; a leading "/" is ignored, and "" or "/" name the directory
// itself.
//
// An FS is safe for concurrent use by several guests at once; the files it
// opens are not, as wazero uses each from one guest only.
//
// The runtime hands an FS to wazero as a preopen under the grant's guest
// path:
//
//	m, err := fsmount.New("/srv/reports", true)
//	if err != nil { ... }
//	defer m.Close()
//	cfg := wazero.NewModuleConfig().WithFSConfig(
//		wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(m, "/reports"))
//
// where sysfs is github.com/tetratelabs/wazero/experimental/sysfs. Each
// further mount is chained the same way on the FSConfig the previous call
// returned.
type FS struct {
	root     *os.Root
	hostDir  string
	readOnly bool
}

var _ experimentalsys.FS = (*FS)(nil)

// New opens the host directory hostDir as the root of a mount and returns
// its FS. When readOnly is true every change through the FS, and every open
// with a write, create, truncate or append flag, fails with EROFS,
// whatever the permissions of the files.
//
// The directory is held open until Close: if it is renamed, the FS keeps
// referring to it. hostDir itself may be, or pass through, a symbolic link;
// only what is below it is confined.
func New(hostDir string, readOnly bool) (*FS, error) {
	if hostDir == "" {
		return nil, errors.New("fsmount: empty host directory")
	}
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		return nil, fmt.Errorf("fsmount: %w", err)
	}
	learnEscapeError(root)
	return &FS{root: root, hostDir: hostDir, readOnly: readOnly}, nil
}

// Close releases the directory. Operations on the FS fail with EBADF
// afterwards; files already open stay usable until they are closed.
func (m *FS) Close() error {
	return m.root.Close()
}

// ReadOnly reports whether the mount refuses every change.
func (m *FS) ReadOnly() bool { return m.readOnly }

// HostDir returns the host directory the FS was opened on, as given to New.
func (m *FS) HostDir() string { return m.hostDir }

// String describes the mount for logs, for example "fsmount(/srv/reports, ro)".
func (m *FS) String() string {
	mode := "rw"
	if m.readOnly {
		mode = "ro"
	}
	return "fsmount(" + m.hostDir + ", " + mode + ")"
}

// rel turns a path from wazero into a name for the Root. wazero passes
// cleaned relative paths for preopens, but joins a directory descriptor's
// name with "/" (giving "/x" for a descriptor on the root itself), so leading
// slashes are dropped rather than refused. Everything else, ".." included,
// is left to the Root to resolve or refuse.
func rel(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// writeFlags are the open flags refused on a read-only mount.
const writeFlags = experimentalsys.O_WRONLY | experimentalsys.O_RDWR |
	experimentalsys.O_CREAT | experimentalsys.O_TRUNC | experimentalsys.O_APPEND

// OpenFile implements experimental/sys.FS. The file is opened through the
// Root, so neither the path nor any symbolic link met on the way can lead
// outside the mount. perm is masked to the permission bits: a guest cannot
// create set-user-ID, set-group-ID or sticky files.
//
// O_NOFOLLOW is honoured by checking the final component with Lstat first
// (ELOOP when it is a symbolic link), as a Root always follows links inside
// the mount; a link swapped in between still cannot lead outside.
func (m *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if m.readOnly && flag&writeFlags != 0 {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
		return nil, experimentalsys.EISDIR
	}
	name := rel(p)
	f, errno := m.open(name, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	return newFile(m, name, flag, perm, f)
}

// open opens name through the Root with the os flags matching flag.
func (m *FS) open(name string, flag experimentalsys.Oflag, perm fs.FileMode) (*os.File, experimentalsys.Errno) {
	const createExcl = experimentalsys.O_CREAT | experimentalsys.O_EXCL
	if flag&experimentalsys.O_NOFOLLOW != 0 && flag&createExcl != createExcl && !strings.HasSuffix(name, "/") {
		if fi, err := m.root.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	f, err := m.root.OpenFile(name, osFlag(flag), perm&fs.ModePerm)
	if err != nil {
		return nil, toErrno(err)
	}
	return f, 0
}

// osFlag converts wazero open flags to os.OpenFile flags. O_NOFOLLOW is
// handled by open. The synchronisation flags all become O_SYNC, the
// strongest of them.
func osFlag(flag experimentalsys.Oflag) int {
	var f int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		f = os.O_RDWR
	case experimentalsys.O_WRONLY:
		f = os.O_WRONLY
	default:
		f = os.O_RDONLY
	}
	if flag&experimentalsys.O_APPEND != 0 {
		f |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		f |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		f |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		f |= os.O_TRUNC
	}
	if flag&(experimentalsys.O_SYNC|experimentalsys.O_DSYNC|experimentalsys.O_RSYNC) != 0 {
		f |= os.O_SYNC
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		f |= oDirectory
	}
	if flag&experimentalsys.O_NONBLOCK != 0 {
		f |= oNonblock
	}
	return f
}

// Lstat implements experimental/sys.FS: the status of the path itself,
// even when it is a symbolic link.
func (m *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := m.root.Lstat(rel(p))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimental/sys.FS: the status of the file the path
// leads to, following symbolic links inside the mount.
func (m *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := m.root.Stat(rel(p))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimental/sys.FS. perm is masked to the permission
// bits. Like wazero's DirFS it reports ENOENT, not ENOTDIR, when a parent is
// not a directory.
func (m *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	errno := toErrno(m.root.Mkdir(rel(p), perm&fs.ModePerm))
	if errno == experimentalsys.ENOTDIR {
		errno = experimentalsys.ENOENT
	}
	return errno
}

// Chmod implements experimental/sys.FS. perm is masked to the permission
// bits, so a guest cannot set the set-user-ID, set-group-ID or sticky bits.
func (m *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	return toErrno(m.root.Chmod(rel(p), perm&fs.ModePerm))
}

// Rename implements experimental/sys.FS. Both paths are resolved in the
// mount; renaming to or from a path outside it fails with EPERM.
//
// os.Root refuses to replace an existing directory. To keep rename(2)'s
// behaviour, a directory replacing an empty directory is done in two steps
// (remove the empty target, then rename), and a file over a directory
// yields EISDIR, a directory over a non-empty directory ENOTEMPTY.
func (m *FS) Rename(from, to string) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	from, to = rel(from), rel(to)
	if from == to {
		return 0
	}
	errno := toErrno(m.root.Rename(from, to))
	if errno != experimentalsys.EEXIST {
		return errno
	}
	toInfo, err := m.root.Lstat(to)
	if err != nil || !toInfo.IsDir() {
		return errno
	}
	fromInfo, err := m.root.Lstat(from)
	if err != nil {
		return toErrno(err)
	}
	if !fromInfo.IsDir() {
		return experimentalsys.EISDIR
	}
	if errno := m.Rmdir(to); errno != 0 {
		return errno
	}
	return toErrno(m.root.Rename(from, to))
}

// Rmdir implements experimental/sys.FS: it removes an empty directory and
// refuses anything else with ENOTDIR (a symbolic link to a directory
// included).
func (m *FS) Rmdir(p string) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	fi, err := m.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return toErrno(m.root.Remove(name))
}

// Unlink implements experimental/sys.FS: it removes a file or a symbolic
// link (never what the link points to) and refuses a directory with EISDIR.
func (m *FS) Unlink(p string) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	fi, err := m.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return toErrno(m.root.Remove(name))
}

// Link implements experimental/sys.FS: a hard link, both names resolved in
// the mount, so a guest cannot link a file from outside into it.
func (m *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	return toErrno(m.root.Link(rel(oldPath), rel(newPath)))
}

// Symlink implements experimental/sys.FS. linkName is resolved in the
// mount; target is stored as given, to be resolved when the link is
// followed.
//
// A target that is absolute, or that climbs above the mount when read from
// the link's directory (such as "../../.." in the mount's top directory),
// is refused with EPERM. That check is lexical and only keeps the mount
// tidy for the host's other programs; it is not what confines the guest
// (links reached through other links can still point out, and links may
// exist on the host already). What confines the guest is that links are
// only ever followed by the Root, which refuses to leave the mount.
func (m *FS) Symlink(target, linkName string) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(linkName)
	if symlinkEscapes(name, target) {
		return experimentalsys.EPERM
	}
	return toErrno(m.root.Symlink(target, name))
}

// symlinkEscapes reports whether target, stored in a link at name (relative
// to the mount), is absolute or climbs above the mount lexically.
func symlinkEscapes(name, target string) bool {
	if path.IsAbs(target) || filepath.IsAbs(target) || filepath.VolumeName(target) != "" {
		return true
	}
	dir := path.Dir(strings.TrimRight(name, "/"))
	j := path.Join(dir, filepath.ToSlash(target))
	return j == ".." || strings.HasPrefix(j, "../")
}

// Readlink implements experimental/sys.FS: the target stored in the link,
// with "/" separators.
func (m *FS) Readlink(p string) (string, experimentalsys.Errno) {
	target, err := m.root.Readlink(rel(p))
	if err != nil {
		return "", toErrno(err)
	}
	return filepath.ToSlash(target), 0
}

// Utimens implements experimental/sys.FS: it sets the access and
// modification times, in nanoseconds since the epoch, of the file the path
// leads to. experimental/sys.UTIME_OMIT leaves a time unchanged.
func (m *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if m.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		_, err := m.root.Stat(name)
		return toErrno(err)
	}
	return toErrno(m.root.Chtimes(name, nanosToTime(atim), nanosToTime(mtim)))
}

// nanosToTime converts epoch nanoseconds to a time for os.Root.Chtimes,
// which leaves a time unchanged when given the zero time.Time.
func nanosToTime(n int64) time.Time {
	if n == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, n)
}
