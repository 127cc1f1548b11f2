//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package fsmount

import (
	"os"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// futimens sets the times of f by descriptor with futimes(2), at
// microsecond precision; a time to leave unchanged is read back first.
func futimens(f *os.File, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := f.Stat()
		if err != nil {
			return toErrno(err)
		}
		st := sys.NewStat_t(fi)
		if atim == experimentalsys.UTIME_OMIT {
			atim = st.Atim
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = st.Mtim
		}
	}
	tv := []syscall.Timeval{syscall.NsecToTimeval(atim), syscall.NsecToTimeval(mtim)}
	rc, err := f.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Futimes(int(fd), tv) }); err != nil {
		return toErrno(err)
	}
	return toErrno(ferr)
}
