package fsmount

import (
	"errors"
	"io"
	"os"
	"sync"

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
//   - os.Root's "empty path" becomes ENOENT, as open("") does, and its
//     "unsupported file mode" EINVAL;
//   - the rest is mapped by wazero's experimental/sys.UnwrapOSError:
//     syscall errnos one to one where wazero has the errno and EIO
//     otherwise, fs.ErrNotExist, fs.ErrExist, fs.ErrPermission,
//     fs.ErrInvalid and fs.ErrClosed to ENOENT, EEXIST, EPERM, EINVAL and
//     EBADF, anything else to EIO.
func toErrno(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	if isEscape(err) {
		return experimentalsys.EPERM
	}
	u := underlying(err)
	switch u.Error() {
	case "empty path":
		return experimentalsys.ENOENT
	case "unsupported file mode":
		return experimentalsys.EINVAL
	}
	return experimentalsys.UnwrapOSError(u)
}
