//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package fsmount

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// futimens is not implemented here: setting times by descriptor yields
// ENOSYS. Setting them by path (FS.Utimens) works everywhere.
func futimens(*os.File, int64, int64) experimentalsys.Errno {
	return experimentalsys.ENOSYS
}
