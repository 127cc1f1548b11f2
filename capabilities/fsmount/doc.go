// Package fsmount implements the filesystem mounts of a plugin's grant: a
// host directory exposed to a WebAssembly guest as a WASI preopen, read-only
// or read-write, through which the guest can never reach anything outside
// that directory.
//
// # Why not wazero's DirFS
//
// wazero's own DirFS (experimental/sysfs.DirFS) joins the guest's path to the
// host directory and calls the path-based os functions. It refuses symbolic
// links with absolute targets, but nothing else: a guest with a read-write
// mount can create "x -> ../../.." and then open "x/etc/passwd", and the host
// kernel follows the link out of the mount. A link planted on the host by
// somebody else has the same effect even on a read-only mount.
//
// This package builds every mount on an [os.Root] instead. Every operation
// that takes a path (open, stat, mkdir, rename, unlink, link, symlink,
// readlink, chmod, chtimes) goes through the Root, which resolves the path
// one component at a time with openat(2) and friends relative to a
// descriptor of the mount directory, follows symbolic links itself and
// refuses any step, via ".." or via a link, that would leave the directory.
// No path-based os function (os.Open, os.Stat, os.Rename, ...) is ever
// called on a guest-supplied name. Files are then used only through their
// descriptors.
//
// # Errors
//
// Go errors are mapped to wazero's experimental/sys Errno values, which
// wazero forwards to the guest as WASI errnos:
//
//   - a path that would leave the mount, through ".." or through a symbolic
//     link, yields EPERM ("operation not permitted"). This is the errno
//     wazero itself returns for a guest path that climbs out of a preopen
//     (the WASI test suite's stand-in for ENOTCAPABLE); EACCES is left for
//     the host's own permission checks;
//   - creating a symbolic link whose target is absolute or climbs above the
//     mount from the link's directory yields EPERM;
//   - any change on a read-only mount, including an open with a write,
//     create, truncate or append flag, yields EROFS;
//   - too many levels of symbolic links yield ELOOP;
//   - syscall errors are mapped one to one (ENOENT, EEXIST, ENOTDIR, EISDIR,
//     ENOTEMPTY, EACCES, EPERM, EINVAL, EBADF, ...); errnos outside wazero's
//     subset (EXDEV, ENOSPC, EBUSY, ...) become EIO, as they do in wazero.
//
// # Limits
//
// The guarantee is os.Root's: on Linux and the BSDs (including macOS) the
// kernel enforces it, race-free, for every path resolution. os.Root does not
// prevent crossing into other filesystems mounted below the directory, and
// does not hide device files or hard links that already exist inside it: a
// grant's host directory must not contain such things. A Root is not
// race-free on js/wasm and Chmod and Chtimes may act on a symbolic link that
// replaces a file while the call runs (the link, never its target outside
// the root, as the final component is not followed then).
package fsmount
