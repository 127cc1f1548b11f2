//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package fsmount

// oDirectory and oNonblock are zero where the flags are not passed to the
// system: O_DIRECTORY is then checked after the open, and O_NONBLOCK is
// ignored.
const (
	oDirectory = 0
	oNonblock  = 0
)
