//go:build wasip1

// Command fsprobe is the guest of fsmount's end-to-end test: a WASI command
// that performs one filesystem operation named by its arguments with Go's
// os package and prints one line, "ok ..." or "err ERRNO ...".
//
// Usage: fsprobe OP ARG...
package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		os.Stdout.WriteString("err EINVAL usage: fsprobe OP ARG...\n")
		return
	}
	out, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		os.Stdout.WriteString("err " + errnoName(err) + " " + err.Error() + "\n")
		return
	}
	os.Stdout.WriteString(strings.TrimRight("ok "+out, " ") + "\n")
}

// run performs op and returns what to print after "ok".
func run(op string, args []string) (string, error) {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch op {
	case "read":
		b, err := os.ReadFile(arg(0))
		return string(b), err
	case "write":
		return "", os.WriteFile(arg(0), []byte(arg(1)), 0o644)
	case "create":
		f, err := os.Create(arg(0))
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(arg(1)); err != nil {
			f.Close()
			return "", err
		}
		return "", f.Close()
	case "append":
		f, err := os.OpenFile(arg(0), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(arg(1)); err != nil {
			f.Close()
			return "", err
		}
		return "", f.Close()
	case "seekread": // seekread PATH OFFSET: the bytes from OFFSET on
		f, err := os.Open(arg(0))
		if err != nil {
			return "", err
		}
		defer f.Close()
		off, _ := strconv.ParseInt(arg(1), 10, 64)
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return "", err
		}
		b, err := io.ReadAll(f)
		return string(b), err
	case "ls":
		entries, err := os.ReadDir(arg(0))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name()+typeSuffix(e.Type()))
		}
		return strings.Join(names, " "), err
	case "walk":
		var names []string
		err := filepath.WalkDir(arg(0), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			names = append(names, p+typeSuffix(d.Type()))
			return nil
		})
		return strings.Join(names, " "), err
	case "stat", "lstat":
		stat := os.Stat
		if op == "lstat" {
			stat = os.Lstat
		}
		fi, err := stat(arg(0))
		if err != nil {
			return "", err
		}
		return kind(fi.Mode()) + " " + strconv.FormatInt(fi.Size(), 10), nil
	case "mkdir":
		return "", os.Mkdir(arg(0), 0o755)
	case "mkdirall":
		return "", os.MkdirAll(arg(0), 0o755)
	case "symlink":
		return "", os.Symlink(arg(0), arg(1))
	case "readlink":
		return os.Readlink(arg(0))
	case "rename":
		return "", os.Rename(arg(0), arg(1))
	case "remove":
		return "", os.Remove(arg(0))
	case "removeall":
		return "", os.RemoveAll(arg(0))
	case "truncate":
		n, _ := strconv.ParseInt(arg(1), 10, 64)
		return "", os.Truncate(arg(0), n)
	case "chtimes": // chtimes PATH UNIXSECONDS
		sec, _ := strconv.ParseInt(arg(1), 10, 64)
		t := time.Unix(sec, 0)
		return "", os.Chtimes(arg(0), t, t)
	case "link":
		return "", os.Link(arg(0), arg(1))
	}
	return "", &os.PathError{Op: "unknown op " + op, Err: syscall.EINVAL}
}

func typeSuffix(t fs.FileMode) string {
	switch {
	case t.IsDir():
		return "/"
	case t&fs.ModeSymlink != 0:
		return "@"
	}
	return ""
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "other"
}

// errnoName names the WASI errno under err, for the test to match.
func errnoName(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "EOTHER"
	}
	names := map[syscall.Errno]string{
		syscall.EACCES:      "EACCES",
		syscall.EBADF:       "EBADF",
		syscall.EEXIST:      "EEXIST",
		syscall.EINVAL:      "EINVAL",
		syscall.EIO:         "EIO",
		syscall.EISDIR:      "EISDIR",
		syscall.ELOOP:       "ELOOP",
		syscall.ENOENT:      "ENOENT",
		syscall.ENOSYS:      "ENOSYS",
		syscall.ENOTDIR:     "ENOTDIR",
		syscall.ENOTEMPTY:   "ENOTEMPTY",
		syscall.EPERM:       "EPERM",
		syscall.EROFS:       "EROFS",
		syscall.ENOTCAPABLE: "ENOTCAPABLE",
	}
	if n, ok := names[errno]; ok {
		return n
	}
	return "E" + strconv.Itoa(int(errno))
}
