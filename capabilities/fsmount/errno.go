package fsmount

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// escapeMessage is the text of the error os.Root returns for a path that
// would leave it. The os package does not export that error, so New learns
// the value itself (learnEscapeError) and the text is the fallback.
const escapeMessage = "path escapes from parent"

var (
	escapeOnce sync.Once
	escapeErr  error
)

// learnEscapeError records the error os.Root returns for an escape, by
// asking root for "..", which it refuses before making any system call.
func learnEscapeError(root *os.Root) {
	escapeOnce.Do(func() {
		_, err := root.Lstat("..")
		if err = underlying(err); err != nil && err.Error() == escapeMessage {
			escapeErr = err
		}
	})
}

// underlying strips the *os.PathError, *os.LinkError or *os.SyscallError
// around an error from the os package.
func underlying(err error) error {
	for {
		switch e := err.(type) {
		case *os.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}

// isEscape reports whether err is os.Root refusing a path that leaves it.
func isEscape(err error) bool {
	err = underlying(err)
	if err == nil {
		return false
	}
	if escapeErr != nil && errors.Is(err, escapeErr) {
		return true
	}
	return err.Error() == escapeMessage
}

// toErrno maps an error from the os package to the Errno wazero passes to
// the guest. Zero means success; io.EOF is not an error.
//
//   - os.Root refusing a path that leaves the mount becomes EPERM, the errno
//     wazero gives a guest path that climbs out of a preopen;
//   - syscall errnos map one to one where wazero has the errno, and to EIO
//     otherwise;
//   - fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, fs.ErrInvalid and
//     fs.ErrClosed become ENOENT, EEXIST, EPERM, EINVAL and EBADF;
//   - os.Root's "empty path" becomes ENOENT, as open("") does, and its
//     "unsupported file mode" EINVAL;
//   - anything else becomes EIO.
func toErrno(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	if isEscape(err) {
		return experimentalsys.EPERM
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return experimentalsys.UnwrapOSError(errno)
	}
	var serr experimentalsys.Errno
	if errors.As(err, &serr) {
		return serr
	}
	switch {
	case errors.Is(err, fs.ErrClosed):
		return experimentalsys.EBADF
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	case errors.Is(err, fs.ErrExist):
		return experimentalsys.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return experimentalsys.EPERM
	case errors.Is(err, fs.ErrInvalid):
		return experimentalsys.EINVAL
	}
	switch underlying(err).Error() {
	case "empty path":
		return experimentalsys.ENOENT
	case "unsupported file mode":
		return experimentalsys.EINVAL
	}
	return experimentalsys.EIO
}
