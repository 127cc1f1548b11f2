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
// The guarantee is os.Root's. On Unix it resolves a path one component at a
// time with openat(2) and O_NOFOLLOW relative to descriptors of directories
// already inside the mount, so a link swapped in or a directory renamed
// while a call runs cannot redirect it outside. It does not stop a path at
// a filesystem mounted below the directory, and a device file or a hard
// link that already exists in the directory stays reachable: a grant's host
// directory must not contain such things (a guest cannot create either).
// Chmod and Chtimes may act on a symbolic link, not its target, if one
// replaces the file during the call; the link is inside the mount.
//
// Readdir, Stat and the other calls on an open file use its descriptor
// only. SetAppend reopens the file by name through the Root and keeps the
// new descriptor only if it is the same file.
//
// Times set through a file's descriptor (File.Utimens) are supported on
// Linux and the BSDs; elsewhere they yield ENOSYS. Files do not implement
// experimental/sys.PollableFile: a guest asking for non-blocking mode gets
// ENOSYS, and Go's wasip1 runtime then uses blocking reads and writes, which
// is what regular files and directories need.
package fsmount
