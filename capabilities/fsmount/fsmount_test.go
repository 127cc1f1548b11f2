package fsmount

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

const (
	rdonly = experimentalsys.O_RDONLY
	rdwr   = experimentalsys.O_RDWR
	wronly = experimentalsys.O_WRONLY
	creat  = experimentalsys.O_CREAT
	excl   = experimentalsys.O_EXCL
	trunc  = experimentalsys.O_TRUNC
	appnd  = experimentalsys.O_APPEND
	dir    = experimentalsys.O_DIRECTORY
	nofol  = experimentalsys.O_NOFOLLOW
)

func TestNew(t *testing.T) {
	tr := newTree(t)
	for _, tc := range []struct {
		name, dir string
	}{
		{"empty", ""},
		{"missing", filepath.Join(tr.top, "missing")},
		{"file", filepath.Join(tr.root, "hello.txt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := New(tc.dir, false); err == nil {
				m.Close()
				t.Fatalf("New(%q) succeeded", tc.dir)
			}
		})
	}

	m, err := New(tr.root, true)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ReadOnly() || m.HostDir() != tr.root || m.String() != "fsmount("+tr.root+", ro)" {
		t.Errorf("ReadOnly %v, HostDir %q, String %q", m.ReadOnly(), m.HostDir(), m.String())
	}
	f, errno := m.OpenFile("hello.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, errno := m.Stat("hello.txt"); errno != experimentalsys.EBADF {
		t.Errorf("Stat after Close: %s, want EBADF", errnoString(errno))
	}
	if got := readAll(t, f); got != "hello" {
		t.Errorf("file opened before Close reads %q", got)
	}
	f.Close()
}

// TestOpenRead opens paths for reading: the legitimate ones work, every
// way out (.., relative and absolute links, chains, links from
// subdirectories) fails with EPERM.
func TestOpenRead(t *testing.T) {
	tr := newTree(t)
	for _, readOnly := range []bool{false, true} {
		m := tr.mount(t, readOnly)
		for _, tc := range []struct {
			path  string
			want  string
			errno experimentalsys.Errno
		}{
			{"hello.txt", "hello", 0},
			{"/hello.txt", "hello", 0},
			{"sub/inner.txt", "inner", 0},
			{"sub/../hello.txt", "hello", 0},
			{"./sub/./inner.txt", "inner", 0},
			{"dirlink/inner.txt", "inner", 0},
			{"in1", "hello", 0},
			{"sub/up", "hello", 0},
			{"dirlink/up", "hello", 0},
			{"dirlink/../hello.txt", "hello", 0},

			{"..", "", experimentalsys.EPERM},
			{"../outside/secret.txt", "", experimentalsys.EPERM},
			{"sub/../../outside/secret.txt", "", experimentalsys.EPERM},
			{"sub/../../root/hello.txt", "", experimentalsys.EPERM},
			{"rel-out/secret.txt", "", experimentalsys.EPERM},
			{"rel-out", "", experimentalsys.EPERM},
			{"abs-out/secret.txt", "", experimentalsys.EPERM},
			{"abs-etc/passwd", "", experimentalsys.EPERM},
			{"/../outside/secret.txt", "", experimentalsys.EPERM},
			{"chain1", "", experimentalsys.EPERM},
			{"sub/upup", "", experimentalsys.EPERM},
			{"dirlink/upup", "", experimentalsys.EPERM},
			{"dirlink/../../outside/secret.txt", "", experimentalsys.EPERM},

			{"missing", "", experimentalsys.ENOENT},
			{"sub/missing", "", experimentalsys.ENOENT},
			{"hello.txt/x", "", experimentalsys.ENOTDIR},
			{"loop1", "", experimentalsys.ELOOP},
		} {
			got, errno := readFile(m, tc.path)
			if errno != tc.errno || got != tc.want {
				t.Errorf("ro=%v read %q = %q, %s; want %q, %s", readOnly, tc.path, got, errnoString(errno), tc.want, errnoString(tc.errno))
			}
		}
	}
}

func TestOpenFlags(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	for _, tc := range []struct {
		path  string
		flag  experimentalsys.Oflag
		errno experimentalsys.Errno
		isDir bool
	}{
		{".", rdonly, 0, true},
		{"", rdonly, 0, true},
		{"/", rdonly, 0, true},
		{"sub", rdonly | dir, 0, true},
		{"sub/", rdonly, 0, true},
		{"dirlink", rdonly | dir, 0, true},
		{"hello.txt", rdonly | dir, experimentalsys.ENOTDIR, false},
		{"hello.txt/", rdonly, experimentalsys.ENOTDIR, false},
		{"sub", rdwr, experimentalsys.EISDIR, false},
		{"sub", wronly, experimentalsys.EISDIR, false},
		{"sub", rdwr | dir, experimentalsys.EISDIR, false},
		{"hello.txt", rdwr | creat | excl, experimentalsys.EEXIST, false},
		{"in1", rdwr | creat | excl, experimentalsys.EEXIST, false},
		{"in1", rdonly | nofol, experimentalsys.ELOOP, false},
		{"hello.txt", rdonly | nofol, 0, false},
		{"new1", rdwr | creat | excl, 0, false},
		{"new2", wronly | creat | trunc, 0, false},
		{"new3", wronly | creat | appnd, 0, false},
		{"sub/new4", rdwr | creat, 0, false},
		{"missing/new", rdwr | creat, experimentalsys.ENOENT, false},
		// Creating through a link that points out fails, and so does
		// creating a name outside.
		{"rel-out/new", rdwr | creat, experimentalsys.EPERM, false},
		{"abs-out/new", rdwr | creat, experimentalsys.EPERM, false},
		{"../new", rdwr | creat, experimentalsys.EPERM, false},
		{"sub/../../outside/new", rdwr | creat, experimentalsys.EPERM, false},
		{"chain1", rdwr | trunc, experimentalsys.EPERM, false},
	} {
		f, errno := m.OpenFile(tc.path, tc.flag, 0o600)
		if errno != tc.errno {
			t.Errorf("OpenFile(%q, %#x) = %s, want %s", tc.path, tc.flag, errnoString(errno), errnoString(tc.errno))
		}
		if errno != 0 {
			continue
		}
		if isDir, _ := f.IsDir(); isDir != tc.isDir {
			t.Errorf("OpenFile(%q).IsDir() = %v", tc.path, isDir)
		}
		if errno := f.Close(); errno != 0 {
			t.Errorf("Close %q: %v", tc.path, errno)
		}
	}
	for _, name := range []string{"new1", "new2", "new3", "sub/new4"} {
		fi, err := os.Stat(filepath.Join(tr.root, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
			t.Errorf("%s created with %v", name, perm)
		}
	}
	if _, err := os.Stat(filepath.Join(tr.top, "new")); !os.IsNotExist(err) {
		t.Errorf("a file was created outside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tr.outside, "new")); !os.IsNotExist(err) {
		t.Errorf("a file was created outside: %v", err)
	}

	// The permission bits beyond 0o777 are dropped.
	f, errno := m.OpenFile("suid", rdwr|creat, 0o4755|fs.ModeSetuid)
	if errno != 0 {
		t.Fatal(errno)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(tr.root, "suid")); fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		t.Errorf("created with %v", fi.Mode())
	}
}

// TestReadOnly checks that a read-only mount refuses every change with
// EROFS, whatever the permissions, and that nothing changes.
func TestReadOnly(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, true)
	before := snapshot(t, tr.top)

	for _, flag := range []experimentalsys.Oflag{wronly, rdwr, rdonly | creat, rdonly | trunc, rdonly | appnd, wronly | creat | excl} {
		for _, name := range []string{"hello.txt", "new", "sub"} {
			if _, errno := m.OpenFile(name, flag, 0o644); errno != experimentalsys.EROFS {
				t.Errorf("OpenFile(%q, %#x) = %s, want EROFS", name, flag, errnoString(errno))
			}
		}
	}
	for name, errno := range map[string]experimentalsys.Errno{
		"Mkdir":   m.Mkdir("newdir", 0o755),
		"Chmod":   m.Chmod("hello.txt", 0o777),
		"Rename":  m.Rename("hello.txt", "moved.txt"),
		"Rmdir":   m.Rmdir("empty"),
		"Unlink":  m.Unlink("hello.txt"),
		"Link":    m.Link("hello.txt", "hard"),
		"Symlink": m.Symlink("hello.txt", "soft"),
		"Utimens": m.Utimens("hello.txt", 0, 0),
	} {
		if errno != experimentalsys.EROFS {
			t.Errorf("%s = %s, want EROFS", name, errnoString(errno))
		}
	}

	f, errno := m.OpenFile("hello.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EBADF {
		t.Errorf("Write = %s, want EBADF", errnoString(errno))
	}
	if _, errno := f.Pwrite([]byte("x"), 0); errno != experimentalsys.EBADF {
		t.Errorf("Pwrite = %s, want EBADF", errnoString(errno))
	}
	if errno := f.Truncate(0); errno != experimentalsys.EBADF {
		t.Errorf("Truncate = %s, want EBADF", errnoString(errno))
	}
	if errno := f.Utimens(0, 0); errno != experimentalsys.EROFS {
		t.Errorf("Utimens = %s, want EROFS", errnoString(errno))
	}
	if errno := f.SetAppend(true); errno != experimentalsys.EROFS {
		t.Errorf("SetAppend = %s, want EROFS", errnoString(errno))
	}
	// Reading, listing and following links inside still work.
	if got := readAll(t, f); got != "hello" {
		t.Errorf("read %q", got)
	}
	if got, errno := readFile(m, "in1"); errno != 0 || got != "hello" {
		t.Errorf("read in1 = %q, %v", got, errno)
	}
	if target, errno := m.Readlink("rel-out"); errno != 0 || target != "../outside" {
		t.Errorf("Readlink = %q, %v", target, errno)
	}
	if after := snapshot(t, tr.top); after != before {
		t.Errorf("the tree changed:\n%s\n---\n%s", before, after)
	}
}

func TestStat(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	hostHello, err := os.Stat(filepath.Join(tr.root, "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		lstat  bool
		mode   fs.FileMode // type bits
		size   int64
		errno  experimentalsys.Errno
		sameAs string // a host path it must be the same file as
	}{
		{"hello.txt", false, 0, 5, 0, "hello.txt"},
		{"hello.txt", true, 0, 5, 0, "hello.txt"},
		{".", false, fs.ModeDir, -1, 0, "."},
		{"", false, fs.ModeDir, -1, 0, "."},
		{"in1", false, 0, 5, 0, "hello.txt"},
		{"in1", true, fs.ModeSymlink, 3, 0, ""},
		{"dirlink", false, fs.ModeDir, -1, 0, "sub"},
		{"dirlink/", true, fs.ModeDir, -1, 0, "sub"},
		{"rel-out", true, fs.ModeSymlink, int64(len("../outside")), 0, ""},
		{"rel-out", false, 0, 0, experimentalsys.EPERM, ""},
		{"abs-etc", false, 0, 0, experimentalsys.EPERM, ""},
		{"chain1", false, 0, 0, experimentalsys.EPERM, ""},
		{"rel-out/secret.txt", true, 0, 0, experimentalsys.EPERM, ""},
		{"../outside", true, 0, 0, experimentalsys.EPERM, ""},
		{"..", true, 0, 0, experimentalsys.EPERM, ""},
		{"missing", true, 0, 0, experimentalsys.ENOENT, ""},
		{"loop1", false, 0, 0, experimentalsys.ELOOP, ""},
	} {
		stat := m.Stat
		if tc.lstat {
			stat = m.Lstat
		}
		st, errno := stat(tc.path)
		if errno != tc.errno {
			t.Errorf("stat(%q, lstat=%v) = %s, want %s", tc.path, tc.lstat, errnoString(errno), errnoString(tc.errno))
			continue
		}
		if errno != 0 {
			continue
		}
		if st.Mode.Type() != tc.mode || (tc.size >= 0 && st.Size != tc.size) {
			t.Errorf("stat(%q, lstat=%v) = mode %v size %d", tc.path, tc.lstat, st.Mode, st.Size)
		}
		if tc.sameAs != "" {
			host, err := os.Stat(filepath.Join(tr.root, tc.sameAs))
			if err != nil {
				t.Fatal(err)
			}
			if hs := hostStat(host); st.Ino != hs.Ino || st.Dev != hs.Dev {
				t.Errorf("stat(%q) is ino %d dev %d, want %d %d", tc.path, st.Ino, st.Dev, hs.Ino, hs.Dev)
			}
		}
	}
	st, _ := m.Stat("hello.txt")
	if st.Mtim != hostHello.ModTime().UnixNano() || st.Ino == 0 || st.Nlink != 1 {
		t.Errorf("Stat = %+v", st)
	}
}

// TestFile exercises the methods of an open file.
func TestFile(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)

	f, errno := m.OpenFile("data", rdwr|creat|trunc, 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	check := func(what string, errno experimentalsys.Errno) {
		t.Helper()
		if errno != 0 {
			t.Fatalf("%s: %v", what, errno)
		}
	}
	n, errno := f.Write([]byte("hello world"))
	check("Write", errno)
	if n != 11 {
		t.Fatalf("Write = %d", n)
	}
	if n, errno = f.Pwrite([]byte("HELLO"), 0); n != 5 {
		t.Fatalf("Pwrite = %d", n)
	}
	check("Pwrite", errno)
	buf := make([]byte, 5)
	n, errno = f.Pread(buf, 6)
	check("Pread", errno)
	if string(buf[:n]) != "world" {
		t.Errorf("Pread = %q", buf[:n])
	}
	n, errno = f.Pread(buf, 100)
	if n != 0 || errno != 0 {
		t.Errorf("Pread past the end = %d, %v", n, errno)
	}
	if _, errno := f.Pread(buf, -1); errno != experimentalsys.EINVAL {
		t.Errorf("Pread(-1) = %s", errnoString(errno))
	}
	if _, errno := f.Pwrite(buf, -1); errno != experimentalsys.EINVAL {
		t.Errorf("Pwrite(-1) = %s", errnoString(errno))
	}
	for _, tc := range []struct {
		offset int64
		whence int
		want   int64
		errno  experimentalsys.Errno
	}{
		{0, io.SeekStart, 0, 0},
		{3, io.SeekCurrent, 3, 0},
		{-1, io.SeekEnd, 10, 0},
		{0, io.SeekEnd, 11, 0},
		{6, io.SeekStart, 6, 0},
		{-100, io.SeekStart, 0, experimentalsys.EINVAL},
		{0, 3, 0, experimentalsys.EINVAL},
		{0, -1, 0, experimentalsys.EINVAL},
	} {
		got, errno := f.Seek(tc.offset, tc.whence)
		if errno != tc.errno || (errno == 0 && got != tc.want) {
			t.Errorf("Seek(%d, %d) = %d, %s; want %d, %s", tc.offset, tc.whence, got, errnoString(errno), tc.want, errnoString(tc.errno))
		}
	}
	if got := readAll(t, f); got != "world" {
		t.Errorf("read after Seek = %q", got)
	}
	if _, errno := f.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if got := readAll(t, f); got != "HELLO world" {
		t.Errorf("content %q", got)
	}
	if n, errno := f.Read(nil); n != 0 || errno != 0 {
		t.Errorf("Read(nil) = %d, %v", n, errno)
	}

	st, errno := f.Stat()
	check("Stat", errno)
	if st.Size != 11 || !st.Mode.IsRegular() {
		t.Errorf("Stat = %+v", st)
	}
	ino, _ := f.Ino()
	dev, _ := f.Dev()
	if ino != st.Ino || dev != st.Dev || ino == 0 {
		t.Errorf("Ino %d Dev %d, Stat %d %d", ino, dev, st.Ino, st.Dev)
	}
	if isDir, _ := f.IsDir(); isDir {
		t.Error("IsDir")
	}
	check("Truncate", f.Truncate(5))
	if _, errno := f.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if got := readAll(t, f); got != "HELLO" {
		t.Errorf("after Truncate: %q", got)
	}
	if errno := f.Truncate(-1); errno != experimentalsys.EINVAL {
		t.Errorf("Truncate(-1) = %s", errnoString(errno))
	}
	check("Sync", f.Sync())
	check("Datasync", f.Datasync())

	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	check("Utimens", f.Utimens(experimentalsys.UTIME_OMIT, mtime.UnixNano()))
	st, _ = f.Stat()
	if st.Mtim != mtime.UnixNano() {
		t.Errorf("Mtim %d, want %d", st.Mtim, mtime.UnixNano())
	}
	check("Utimens omit", f.Utimens(experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT))

	// Append mode: writes go to the end; positioned writes are refused.
	if f.IsAppend() {
		t.Error("IsAppend before SetAppend")
	}
	check("SetAppend", f.SetAppend(true))
	if !f.IsAppend() {
		t.Error("IsAppend after SetAppend")
	}
	if _, errno := f.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	_, errno = f.Write([]byte("!"))
	check("Write append", errno)
	if _, errno := f.Pwrite([]byte("x"), 0); errno != experimentalsys.EINVAL {
		t.Errorf("Pwrite in append mode = %s", errnoString(errno))
	}
	check("SetAppend false", f.SetAppend(false))
	if _, errno := f.Pwrite([]byte("h"), 0); errno != 0 {
		t.Errorf("Pwrite = %v", errno)
	}
	if b, _ := os.ReadFile(filepath.Join(tr.root, "data")); string(b) != "hELLO!" {
		t.Errorf("content %q", b)
	}

	check("Close", f.Close())
	check("Close again", f.Close())
	for what, errno := range map[string]experimentalsys.Errno{
		"Read":      second(f.Read(buf)),
		"Pread":     second(f.Pread(buf, 0)),
		"Write":     second(f.Write(buf)),
		"Pwrite":    second(f.Pwrite(buf, 0)),
		"Seek":      second(f.Seek(0, io.SeekStart)),
		"Stat":      second(f.Stat()),
		"Readdir":   second(f.Readdir(-1)),
		"Truncate":  f.Truncate(0),
		"Sync":      f.Sync(),
		"Datasync":  f.Datasync(),
		"Utimens":   f.Utimens(0, 0),
		"SetAppend": f.SetAppend(true),
	} {
		if errno != experimentalsys.EBADF {
			t.Errorf("%s after Close = %s, want EBADF", what, errnoString(errno))
		}
	}

	// A file opened read-only cannot be written, an O_APPEND one appends.
	r, errno := m.OpenFile("hello.txt", rdonly, 0)
	check("open", errno)
	if _, errno := r.Write([]byte("x")); errno != experimentalsys.EBADF {
		t.Errorf("Write to O_RDONLY = %s", errnoString(errno))
	}
	if errno := r.Truncate(0); errno != experimentalsys.EBADF {
		t.Errorf("Truncate of O_RDONLY = %s", errnoString(errno))
	}
	r.Close()
	a, errno := m.OpenFile("hello.txt", wronly|appnd, 0)
	check("open append", errno)
	if !a.IsAppend() {
		t.Error("IsAppend")
	}
	_, errno = a.Write([]byte(" again"))
	check("append", errno)
	if _, errno := a.Read(buf); errno != experimentalsys.EBADF {
		t.Errorf("Read of O_WRONLY = %s", errnoString(errno))
	}
	a.Close()
	if got, _ := readFile(m, "hello.txt"); got != "hello again" {
		t.Errorf("after append %q", got)
	}
}

func second[T any](_ T, errno experimentalsys.Errno) experimentalsys.Errno { return errno }

// TestDirFile exercises a directory opened as a file: Readdir, rewinding
// with Seek, and the calls a directory refuses.
func TestDirFile(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	d, errno := m.OpenFile(".", rdonly|dir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer d.Close()

	want := []string{"abs-etc@", "abs-out@", "chain1@", "chain2@", "dirlink@", "empty/", "hello.txt", "in1@", "in2@", "loop1@", "loop2@", "rel-out@", "sub/"}
	list := func(n int) []string {
		t.Helper()
		var names []string
		for {
			dirents, errno := d.Readdir(n)
			if errno != 0 {
				t.Fatalf("Readdir(%d): %v", n, errno)
			}
			for _, e := range dirents {
				name := e.Name
				switch {
				case e.IsDir():
					name += "/"
				case e.Type&fs.ModeSymlink != 0:
					name += "@"
				}
				names = append(names, name)
				st, errno := m.Lstat(e.Name)
				if errno != 0 || st.Ino != e.Ino || e.Ino == 0 {
					t.Errorf("%s: dirent ino %d, Lstat ino %d (%v)", e.Name, e.Ino, st.Ino, errno)
				}
			}
			if n <= 0 || len(dirents) < n {
				sort.Strings(names)
				return names
			}
		}
	}
	if got := list(-1); !slices.Equal(got, want) {
		t.Errorf("Readdir(-1) = %v\nwant %v", got, want)
	}
	if dirents, errno := d.Readdir(-1); len(dirents) != 0 || errno != 0 {
		t.Errorf("Readdir at the end = %v, %v", dirents, errno)
	}
	// Rewinding shows entries created since.
	mustWrite(t, filepath.Join(tr.root, "zzz"), "")
	if off, errno := d.Seek(0, io.SeekStart); off != 0 || errno != 0 {
		t.Fatalf("Seek(0) = %d, %v", off, errno)
	}
	if got := list(2); !slices.Equal(got, append(want, "zzz")) {
		t.Errorf("Readdir(2) after rewind = %v", got)
	}
	if _, errno := d.Seek(1, io.SeekStart); errno != experimentalsys.EISDIR {
		t.Errorf("Seek(1) on a directory = %s", errnoString(errno))
	}
	if _, errno := d.Seek(0, io.SeekEnd); errno != experimentalsys.EISDIR {
		t.Errorf("Seek(0, end) on a directory = %s", errnoString(errno))
	}
	buf := make([]byte, 4)
	for what, errno := range map[string]experimentalsys.Errno{
		"Read":      second(d.Read(buf)),
		"Pread":     second(d.Pread(buf, 0)),
		"Write":     second(d.Write(buf)),
		"Pwrite":    second(d.Pwrite(buf, 0)),
		"Truncate":  d.Truncate(0),
		"SetAppend": d.SetAppend(true),
	} {
		if errno != experimentalsys.EISDIR {
			t.Errorf("%s on a directory = %s, want EISDIR", what, errnoString(errno))
		}
	}
	if isDir, _ := d.IsDir(); !isDir {
		t.Error("IsDir")
	}
	if errno := d.Sync(); errno != 0 {
		t.Errorf("Sync on a directory = %v", errno)
	}
	if st, errno := d.Stat(); errno != 0 || !st.Mode.IsDir() {
		t.Errorf("Stat = %v, %v", st.Mode, errno)
	}

	// A subdirectory reached through a link lists the target.
	sub, errno := m.OpenFile("dirlink", rdonly|dir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	dirents, errno := sub.Readdir(-1)
	sub.Close()
	var names []string
	for _, e := range dirents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if errno != 0 || !slices.Equal(names, []string{"inner.txt", "up", "upup"}) {
		t.Errorf("Readdir(dirlink) = %v, %v", names, errno)
	}

	// Readdir on a regular file is EBADF.
	f, errno := m.OpenFile("hello.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	if _, errno := f.Readdir(-1); errno != experimentalsys.EBADF {
		t.Errorf("Readdir on a file = %s", errnoString(errno))
	}

	// A directory that points out cannot be opened, so cannot be listed.
	for _, p := range []string{"rel-out", "abs-out", "abs-etc", "..", "sub/../.."} {
		if _, errno := m.OpenFile(p, rdonly|dir, 0); errno != experimentalsys.EPERM {
			t.Errorf("OpenFile(%q, O_DIRECTORY) = %s, want EPERM", p, errnoString(errno))
		}
	}
}

// TestMutations runs the changing operations on a read-write mount: the
// legitimate ones work, the ones reaching outside fail, and the outside
// never changes.
func TestMutations(t *testing.T) {
	tr := newTree(t)
	mustWrite(t, filepath.Join(tr.root, "sub", "f"), "f")
	mustMkdir(t, tr.root, "full", "x")
	mustMkdir(t, tr.root, "moveme", "y")
	mustMkdir(t, tr.root, "emptytoo")
	m := tr.mount(t, false)
	outsideBefore := snapshot(t, tr.top, "root")

	type op struct {
		name  string
		do    func() experimentalsys.Errno
		errno experimentalsys.Errno
	}
	for _, tc := range []op{
		{"mkdir", func() experimentalsys.Errno { return m.Mkdir("newdir", 0o755) }, 0},
		{"mkdir nested", func() experimentalsys.Errno { return m.Mkdir("newdir/a/", 0o755) }, 0},
		{"mkdir exists", func() experimentalsys.Errno { return m.Mkdir("sub", 0o755) }, experimentalsys.EEXIST},
		{"mkdir over link", func() experimentalsys.Errno { return m.Mkdir("rel-out", 0o755) }, experimentalsys.EEXIST},
		{"mkdir no parent", func() experimentalsys.Errno { return m.Mkdir("nope/a", 0o755) }, experimentalsys.ENOENT},
		{"mkdir under file", func() experimentalsys.Errno { return m.Mkdir("hello.txt/a", 0o755) }, experimentalsys.ENOENT},
		{"mkdir ..", func() experimentalsys.Errno { return m.Mkdir("../newdir", 0o755) }, experimentalsys.EPERM},
		{"mkdir via link", func() experimentalsys.Errno { return m.Mkdir("rel-out/newdir", 0o755) }, experimentalsys.EPERM},
		{"mkdir via abs link", func() experimentalsys.Errno { return m.Mkdir("abs-out/newdir", 0o755) }, experimentalsys.EPERM},

		{"rmdir", func() experimentalsys.Errno { return m.Rmdir("empty") }, 0},
		{"rmdir not empty", func() experimentalsys.Errno { return m.Rmdir("full") }, experimentalsys.ENOTEMPTY},
		{"rmdir file", func() experimentalsys.Errno { return m.Rmdir("hello.txt") }, experimentalsys.ENOTDIR},
		{"rmdir link to dir", func() experimentalsys.Errno { return m.Rmdir("dirlink") }, experimentalsys.ENOTDIR},
		{"rmdir missing", func() experimentalsys.Errno { return m.Rmdir("missing") }, experimentalsys.ENOENT},
		{"rmdir root", func() experimentalsys.Errno { return m.Rmdir(".") }, experimentalsys.EINVAL},
		{"rmdir outside", func() experimentalsys.Errno { return m.Rmdir("../outside/dir") }, experimentalsys.EPERM},
		{"rmdir via link", func() experimentalsys.Errno { return m.Rmdir("rel-out/dir") }, experimentalsys.EPERM},

		{"unlink", func() experimentalsys.Errno { return m.Unlink("sub/f") }, 0},
		{"unlink link", func() experimentalsys.Errno { return m.Unlink("chain1") }, 0},
		{"unlink escaping link", func() experimentalsys.Errno { return m.Unlink("abs-out") }, 0},
		{"unlink dir", func() experimentalsys.Errno { return m.Unlink("sub") }, experimentalsys.EISDIR},
		{"unlink root", func() experimentalsys.Errno { return m.Unlink(".") }, experimentalsys.EISDIR},
		{"unlink missing", func() experimentalsys.Errno { return m.Unlink("missing") }, experimentalsys.ENOENT},
		{"unlink outside", func() experimentalsys.Errno { return m.Unlink("../outside/secret.txt") }, experimentalsys.EPERM},
		{"unlink via link", func() experimentalsys.Errno { return m.Unlink("rel-out/secret.txt") }, experimentalsys.EPERM},
		{"unlink via subdir link", func() experimentalsys.Errno { return m.Unlink("sub/upup/x") }, experimentalsys.EPERM},

		{"rename file", func() experimentalsys.Errno { return m.Rename("sub/inner.txt", "inner2.txt") }, 0},
		{"rename same", func() experimentalsys.Errno { return m.Rename("hello.txt", "hello.txt") }, 0},
		{"rename over file", func() experimentalsys.Errno { return m.Rename("inner2.txt", "sub/up") }, 0},
		{"rename dir over empty dir", func() experimentalsys.Errno { return m.Rename("moveme", "emptytoo") }, 0},
		{"rename dir over full dir", func() experimentalsys.Errno { return m.Rename("emptytoo", "full") }, experimentalsys.ENOTEMPTY},
		{"rename file over dir", func() experimentalsys.Errno { return m.Rename("hello.txt", "full") }, experimentalsys.EISDIR},
		{"rename dir over file", func() experimentalsys.Errno { return m.Rename("full", "hello.txt") }, experimentalsys.ENOTDIR},
		{"rename missing", func() experimentalsys.Errno { return m.Rename("missing", "x") }, experimentalsys.ENOENT},
		{"rename out", func() experimentalsys.Errno { return m.Rename("hello.txt", "../x") }, experimentalsys.EPERM},
		{"rename out deep", func() experimentalsys.Errno { return m.Rename("hello.txt", "sub/../../outside/x") }, experimentalsys.EPERM},
		{"rename out via link", func() experimentalsys.Errno { return m.Rename("hello.txt", "rel-out/x") }, experimentalsys.EPERM},
		{"rename out via abs link", func() experimentalsys.Errno { return m.Rename("hello.txt", "abs-etc/x") }, experimentalsys.EPERM},
		{"rename in", func() experimentalsys.Errno { return m.Rename("../outside/secret.txt", "stolen") }, experimentalsys.EPERM},
		{"rename in via link", func() experimentalsys.Errno { return m.Rename("rel-out/secret.txt", "stolen") }, experimentalsys.EPERM},

		{"link", func() experimentalsys.Errno { return m.Link("hello.txt", "hard") }, 0},
		{"link exists", func() experimentalsys.Errno { return m.Link("hello.txt", "in1") }, experimentalsys.EEXIST},
		{"link missing", func() experimentalsys.Errno { return m.Link("missing", "hard2") }, experimentalsys.ENOENT},
		{"link from outside", func() experimentalsys.Errno { return m.Link("../outside/secret.txt", "hard2") }, experimentalsys.EPERM},
		{"link via link", func() experimentalsys.Errno { return m.Link("rel-out/secret.txt", "hard2") }, experimentalsys.EPERM},
		{"link to outside", func() experimentalsys.Errno { return m.Link("hello.txt", "../hard2") }, experimentalsys.EPERM},
		{"link into link", func() experimentalsys.Errno { return m.Link("hello.txt", "rel-out/hard2") }, experimentalsys.EPERM},

		{"chmod", func() experimentalsys.Errno { return m.Chmod("hello.txt", 0o600) }, 0},
		{"chmod through link", func() experimentalsys.Errno { return m.Chmod("in1", 0o640) }, 0},
		{"chmod escaping link", func() experimentalsys.Errno { return m.Chmod("rel-out", 0o700) }, experimentalsys.EPERM},
		{"chmod via link", func() experimentalsys.Errno { return m.Chmod("rel-out/secret.txt", 0o777) }, experimentalsys.EPERM},
		{"chmod outside", func() experimentalsys.Errno { return m.Chmod("../outside", 0o777) }, experimentalsys.EPERM},
		{"chmod missing", func() experimentalsys.Errno { return m.Chmod("missing", 0o777) }, experimentalsys.ENOENT},

		{"utimens", func() experimentalsys.Errno { return m.Utimens("sub", 1e9, 2e9) }, 0},
		{"utimens omit", func() experimentalsys.Errno {
			return m.Utimens("hard", experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT)
		}, 0},
		{"utimens omit missing", func() experimentalsys.Errno {
			return m.Utimens("missing", experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT)
		}, experimentalsys.ENOENT},
		{"utimens escaping link", func() experimentalsys.Errno { return m.Utimens("rel-out", 0, 0) }, experimentalsys.EPERM},
		{"utimens escaping chain", func() experimentalsys.Errno { return m.Utimens("chain2", 0, 0) }, experimentalsys.EPERM},
		{"utimens outside", func() experimentalsys.Errno { return m.Utimens("../outside/secret.txt", 0, 0) }, experimentalsys.EPERM},
	} {
		if errno := tc.do(); errno != tc.errno {
			t.Errorf("%s = %s, want %s", tc.name, errnoString(errno), errnoString(tc.errno))
		}
	}

	// The effects inside are the expected ones.
	umask := umaskBits()
	for _, tc := range []struct {
		path string
		mode fs.FileMode // type and permissions, 0 when absent
	}{
		{"newdir", fs.ModeDir | 0o755&^umask},
		{"newdir/a", fs.ModeDir | 0o755&^umask},
		{"empty", 0},
		{"sub/f", 0},
		{"chain1", 0},
		{"abs-out", 0},
		{"sub/inner.txt", 0},
		{"inner2.txt", 0},
		{"sub/up", 0o644 &^ umask},
		{"moveme", 0},
		{"emptytoo/y", fs.ModeDir | 0o755&^umask},
		{"hello.txt", 0o640},
		{"hard", 0o640},
	} {
		fi, err := os.Lstat(filepath.Join(tr.root, tc.path))
		switch {
		case tc.mode == 0:
			if !os.IsNotExist(err) {
				t.Errorf("%s still exists: %v", tc.path, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case fi.Mode() != tc.mode:
			t.Errorf("%s has mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
	}
	if errno := m.Rename(".", "x"); errno == 0 {
		t.Error("renamed the mount's directory")
	}
	if b, _ := os.ReadFile(filepath.Join(tr.root, "sub", "up")); string(b) != "inner" {
		t.Errorf("sub/up = %q after the rename over it", b)
	}
	if fi, _ := os.Stat(filepath.Join(tr.root, "sub")); fi.ModTime().Unix() != 2 {
		t.Errorf("sub mtime %v", fi.ModTime())
	}
	if after := snapshot(t, tr.top, "root"); after != outsideBefore {
		t.Errorf("the outside changed:\n%s\n---\n%s", outsideBefore, after)
	}
}

// umaskBits returns the permission bits the process umask clears.
func umaskBits() fs.FileMode {
	dir, err := os.MkdirTemp("", "umask")
	if err != nil {
		return 0
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "d")
	if err := os.Mkdir(p, 0o755); err != nil {
		return 0
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return 0o755 &^ fi.Mode().Perm()
}

// hostStat converts a host FileInfo the way FS does.
func hostStat(fi fs.FileInfo) sys.Stat_t { return sys.NewStat_t(fi) }

// TestChmodMasksSpecialBits checks that a guest cannot set the set-user-ID,
// set-group-ID or sticky bits.
func TestChmodMasksSpecialBits(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	if errno := m.Chmod("hello.txt", 0o755|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); errno != 0 {
		t.Fatal(errno)
	}
	fi, err := os.Stat(filepath.Join(tr.root, "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x", fi.Mode())
	}
	if errno := m.Mkdir("d", 0o755|fs.ModeSetgid|fs.ModeSticky); errno != 0 {
		t.Fatal(errno)
	}
	if fi, _ := os.Stat(filepath.Join(tr.root, "d")); fi.Mode()&(fs.ModeSetgid|fs.ModeSticky) != 0 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// TestSymlink creates links: targets that are absolute or climb above the
// mount are refused, others are stored as given, read back by Readlink and
// followed inside the mount.
func TestSymlink(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	for _, tc := range []struct {
		target, link string
		errno        experimentalsys.Errno
		read         string // content when followed, if any
	}{
		{"hello.txt", "l1", 0, "hello"},
		{"l1", "l2", 0, "hello"},
		{"./sub/../hello.txt", "l3", 0, "hello"},
		{"../hello.txt", "sub/l4", 0, "hello"},
		{"../sub/inner.txt", "sub/l5", 0, "inner"},
		{"missing", "dangling", 0, ""},
		{"sub", "dl", 0, ""},
		{"..", "sub/parent", 0, ""},

		{"../../..", "x", experimentalsys.EPERM, ""},
		{"..", "x", experimentalsys.EPERM, ""},
		{"../outside/secret.txt", "x", experimentalsys.EPERM, ""},
		{"sub/../../outside", "x", experimentalsys.EPERM, ""},
		{"../../outside", "sub/x", experimentalsys.EPERM, ""},
		{"/etc/passwd", "x", experimentalsys.EPERM, ""},
		{tr.outside, "x", experimentalsys.EPERM, ""},
		{"/", "x", experimentalsys.EPERM, ""},

		{"hello.txt", "l1", experimentalsys.EEXIST, ""},
		{"hello.txt", "../x", experimentalsys.EPERM, ""},
		{"hello.txt", "rel-out/x", experimentalsys.EPERM, ""},
		{"hello.txt", "missing/x", experimentalsys.ENOENT, ""},
	} {
		errno := m.Symlink(tc.target, tc.link)
		if errno != tc.errno {
			t.Errorf("Symlink(%q, %q) = %s, want %s", tc.target, tc.link, errnoString(errno), errnoString(tc.errno))
			continue
		}
		if errno != 0 {
			continue
		}
		if got, errno := m.Readlink(tc.link); errno != 0 || got != tc.target {
			t.Errorf("Readlink(%q) = %q, %v; want %q", tc.link, got, errno, tc.target)
		}
		if host, err := os.Readlink(filepath.Join(tr.root, tc.link)); err != nil || host != tc.target {
			t.Errorf("host sees %q -> %q, %v", tc.link, host, err)
		}
		if tc.read != "" {
			if got, errno := readFile(m, tc.link); errno != 0 || got != tc.read {
				t.Errorf("read %q = %q, %v", tc.link, got, errno)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(tr.top, "x")); !os.IsNotExist(err) {
		t.Errorf("a link was created outside: %v", err)
	}
	for _, tc := range []struct {
		path  string
		errno experimentalsys.Errno
	}{
		{"hello.txt", experimentalsys.EINVAL},
		{"missing", experimentalsys.ENOENT},
		{"rel-out", 0},
		{"abs-etc", 0},
		{"../outside", experimentalsys.EPERM},
		{"rel-out/secret.txt", experimentalsys.EPERM},
	} {
		if _, errno := m.Readlink(tc.path); errno != tc.errno {
			t.Errorf("Readlink(%q) = %s, want %s", tc.path, errnoString(errno), errnoString(tc.errno))
		}
	}
	if got, _ := m.Readlink("abs-etc"); got != "/etc" {
		t.Errorf("Readlink(abs-etc) = %q", got)
	}
}

// TestSymlinkTricks creates links the lexical check lets through but that
// lead outside when followed, and checks that following them fails.
func TestSymlinkTricks(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	before := snapshot(t, tr.top, "root")

	// "s" is the root itself, so "s/.." is its parent, though lexically
	// "s/.." is ".".
	for _, l := range [][2]string{
		{".", "s"},
		{"s/..", "up"},
		{"s/s/s/../../..", "up3"},
		{"up/outside", "out"},
		{"../s/..", "sub/up2"},
	} {
		if errno := m.Symlink(l[0], l[1]); errno != 0 {
			t.Fatalf("Symlink(%q, %q) = %v", l[0], l[1], errno)
		}
	}
	for _, p := range []string{
		"up", "up/outside/secret.txt", "up3/outside/secret.txt", "out/secret.txt",
		"sub/up2/outside/secret.txt", "s/s/s/../../../outside/secret.txt", "s/..",
	} {
		if _, errno := readFile(m, p); errno != experimentalsys.EPERM {
			t.Errorf("read %q = %s, want EPERM", p, errnoString(errno))
		}
		if _, errno := m.Stat(p); errno != experimentalsys.EPERM {
			t.Errorf("Stat(%q) = %s, want EPERM", p, errnoString(errno))
		}
		if _, errno := m.OpenFile(p+"/new", rdwr|creat, 0o644); errno != experimentalsys.EPERM {
			t.Errorf("create under %q = %s, want EPERM", p, errnoString(errno))
		}
		if errno := m.Mkdir(p+"/new", 0o755); errno != experimentalsys.EPERM {
			t.Errorf("Mkdir under %q = %s, want EPERM", p, errnoString(errno))
		}
		if errno := m.Rename("hello.txt", p+"/moved"); errno != experimentalsys.EPERM {
			t.Errorf("Rename under %q = %s, want EPERM", p, errnoString(errno))
		}
	}
	// "s" itself is fine: it is the mount.
	if got, errno := readFile(m, "s/s/hello.txt"); errno != 0 || got != "hello" {
		t.Errorf("read s/s/hello.txt = %q, %v", got, errno)
	}
	if after := snapshot(t, tr.top, "root"); after != before {
		t.Errorf("the outside changed:\n%s\n---\n%s", before, after)
	}
}

// TestSwappedDirectory replaces, after the mount was opened, a directory by a
// link that points out, and a file by a link to the secret: a path that
// was fine before now fails.
func TestSwappedDirectory(t *testing.T) {
	tr := newTree(t)
	m := tr.mount(t, false)
	d, errno := m.OpenFile("sub", rdonly|dir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer d.Close()
	if err := os.Rename(filepath.Join(tr.root, "sub"), filepath.Join(tr.root, "sub.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(tr.root, "sub")); err != nil {
		t.Fatal(err)
	}
	if _, errno := readFile(m, "sub/secret.txt"); errno != experimentalsys.EPERM {
		t.Errorf("read through the swapped directory = %s", errnoString(errno))
	}
	// The directory already open keeps listing the original.
	dirents, errno := d.Readdir(-1)
	if errno != 0 || len(dirents) != 3 {
		t.Errorf("Readdir = %v, %v", dirents, errno)
	}
	for _, e := range dirents {
		if e.Name == "secret.txt" {
			t.Error("listed the outside")
		}
	}
	// SetAppend reopens by name: the name now leads out, so it fails and the
	// file keeps its descriptor.
	if err := os.Remove(filepath.Join(tr.root, "hello.txt")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(tr.root, "hello.txt"), "hello")
	f, errno := m.OpenFile("hello.txt", wronly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	if err := os.Remove(filepath.Join(tr.root, "hello.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside/secret.txt", filepath.Join(tr.root, "hello.txt")); err != nil {
		t.Fatal(err)
	}
	if errno := f.SetAppend(true); errno != experimentalsys.EPERM {
		t.Errorf("SetAppend after the swap = %s, want EPERM", errnoString(errno))
	}
	if err := os.Remove(filepath.Join(tr.root, "hello.txt")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(tr.root, "hello.txt"), "other")
	if errno := f.SetAppend(true); errno != experimentalsys.ENOENT {
		t.Errorf("SetAppend on a replaced file = %s, want ENOENT", errnoString(errno))
	}
	if _, errno := f.Write([]byte("x")); errno != 0 {
		t.Errorf("Write after failed SetAppend = %v", errno)
	}
	if b, _ := os.ReadFile(filepath.Join(tr.outside, "secret.txt")); string(b) != secret {
		t.Errorf("secret is now %q", b)
	}
}

func TestToErrno(t *testing.T) {
	tr := newTree(t)
	root, err := os.OpenRoot(tr.root)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, escape := root.Open("../outside")
	_, empty := root.Open("")
	_, mode := root.OpenFile("x", os.O_CREATE, 0o4777)
	for _, tc := range []struct {
		err  error
		want experimentalsys.Errno
	}{
		{nil, 0},
		{io.EOF, 0},
		{escape, experimentalsys.EPERM},
		{empty, experimentalsys.ENOENT},
		{mode, experimentalsys.EINVAL},
		{&os.PathError{Op: "x", Path: "y", Err: fs.ErrNotExist}, experimentalsys.ENOENT},
		{fs.ErrExist, experimentalsys.EEXIST},
		{fs.ErrPermission, experimentalsys.EPERM},
		{fs.ErrInvalid, experimentalsys.EINVAL},
		{os.ErrClosed, experimentalsys.EBADF},
		{experimentalsys.ENOTEMPTY, experimentalsys.ENOTEMPTY},
		{io.ErrUnexpectedEOF, experimentalsys.EIO},
	} {
		if got := toErrno(tc.err); got != tc.want {
			t.Errorf("toErrno(%v) = %s, want %s", tc.err, errnoString(got), errnoString(tc.want))
		}
	}
	if !isEscape(escape) || escapeErr == nil {
		t.Errorf("the escape error %v was not learnt (%v)", escape, escapeErr)
	}
}

func TestSymlinkEscapes(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		want         bool
	}{
		{"x", "y", false},
		{"x", "./y/../z", false},
		{"a/b/x", "../../y", false},
		{"a/b/x", "../../../y", true},
		{"x", "..", true},
		{"x", "../root/y", true},
		{"x", "/y", true},
		{"a/", "..", true},
		{"a/x", "..", false},
		{"x", "a/../..", true},
	} {
		if got := symlinkEscapes(tc.name, tc.target); got != tc.want {
			t.Errorf("symlinkEscapes(%q, %q) = %v", tc.name, tc.target, got)
		}
	}
}
