//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package fsmount

import "syscall"

// oDirectory and oNonblock are the system's open flags for O_DIRECTORY and
// O_NONBLOCK, passed through os.Root.OpenFile.
const (
	oDirectory = syscall.O_DIRECTORY
	oNonblock  = syscall.O_NONBLOCK
)
