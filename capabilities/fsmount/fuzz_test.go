package fsmount

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// FuzzPaths throws arbitrary paths at a read-write mount whose directory
// holds links pointing out, lets the fuzzer create links of its own, and
// checks that no open ever yields a file outside the mount and that nothing
// outside ever changes.
//
// op selects the operation: open for reading, create, mkdir, symlink(b, a)
// then open a/b, rename(a, b), link(a, b), stat, unlink/rmdir.
func FuzzPaths(f *testing.F) {
	for _, seed := range []struct {
		op   uint8
		a, b string
	}{
		{0, "hello.txt", ""},
		{0, "../outside/secret.txt", ""},
		{0, "rel-out/secret.txt", ""},
		{0, "sub/upup", ""},
		{0, "chain1", ""},
		{0, "dirlink/../../outside/secret.txt", ""},
		{1, "rel-out/new", ""},
		{1, "sub/../../outside/new", ""},
		{2, "abs-out/newdir", ""},
		{3, "x", "../../.."},
		{3, "s", "."},
		{3, "s/t", "s/.."},
		{3, "sub/y", "../s/.."},
		{3, "z", "/etc"},
		{4, "hello.txt", "../x"},
		{4, "hello.txt", "rel-out/x"},
		{4, "rel-out/secret.txt", "mine"},
		{5, "rel-out/secret.txt", "mine"},
		{5, "hello.txt", "abs-out/x"},
		{6, "abs-etc/passwd", ""},
		{7, "rel-out/secret.txt", ""},
		{7, "../outside/dir", ""},
	} {
		f.Add(seed.op, seed.a, seed.b)
	}

	tr := newTree(f)
	m := tr.mount(f, false)
	outsideBefore := snapshot(f, tr.top, "root")
	outsideInfos := outsideFiles(f, tr)

	f.Fuzz(func(t *testing.T, op uint8, a, b string) {
		if len(a) > 256 || len(b) > 256 {
			return
		}
		var opened []experimentalsys.File
		open := func(p string, flag experimentalsys.Oflag) {
			if file, errno := m.OpenFile(p, flag, 0o644); errno == 0 {
				opened = append(opened, file)
			}
		}
		switch op % 8 {
		case 0:
			open(a, experimentalsys.O_RDONLY)
			open(b, experimentalsys.O_RDONLY)
		case 1:
			open(a, experimentalsys.O_RDWR|experimentalsys.O_CREAT)
			open(a, experimentalsys.O_WRONLY|experimentalsys.O_TRUNC)
		case 2:
			_ = m.Mkdir(a, 0o755)
			open(a, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY)
		case 3:
			_ = m.Symlink(b, a)
			open(a, experimentalsys.O_RDONLY)
			open(a+"/secret.txt", experimentalsys.O_RDONLY)
			open(a+"/outside/secret.txt", experimentalsys.O_RDONLY)
			open(a+"/new", experimentalsys.O_RDWR|experimentalsys.O_CREAT)
		case 4:
			_ = m.Rename(a, b)
		case 5:
			_ = m.Link(a, b)
			open(b, experimentalsys.O_RDONLY)
		case 6:
			if st, errno := m.Stat(a); errno == 0 {
				for _, fi := range outsideInfos {
					if hs := hostStat(fi); hs.Ino == st.Ino && hs.Dev == st.Dev {
						t.Fatalf("Stat(%q) reached %s outside", a, fi.Name())
					}
				}
			}
		case 7:
			_ = m.Unlink(a)
			_ = m.Rmdir(a)
		}
		for _, file := range opened {
			checkInside(t, tr, file, outsideInfos, a, b)
			file.Close()
		}
		if after := snapshot(t, tr.top, "root"); after != outsideBefore {
			t.Fatalf("op %d %q %q changed the outside:\n%s\n---\n%s", op%8, a, b, outsideBefore, after)
		}
	})
}

// outsideFiles returns what a file opened through the mount must never be:
// the mount's parent, the outside directory and its entries, /etc and
// /etc/passwd.
func outsideFiles(t testing.TB, tr *tree) []fs.FileInfo {
	var infos []fs.FileInfo
	for _, p := range []string{tr.top, tr.outside, filepath.Join(tr.outside, "secret.txt"), filepath.Join(tr.outside, "dir"), "/etc", "/etc/passwd", "/"} {
		if fi, err := os.Stat(p); err == nil {
			infos = append(infos, fi)
		}
	}
	return infos
}

// checkInside fails the test if file, opened through the mount, is outside
// it: the same file as one of outside, holding the secret, or, on Linux,
// with a path not under the mount's directory.
func checkInside(t *testing.T, tr *tree, fl experimentalsys.File, outside []fs.FileInfo, a, b string) {
	t.Helper()
	st, errno := fl.Stat()
	if errno != 0 {
		t.Fatalf("Stat of an open file: %v", errno)
	}
	for _, fi := range outside {
		if hs := hostStat(fi); hs.Ino == st.Ino && hs.Dev == st.Dev {
			t.Fatalf("%q %q opened %s outside the mount", a, b, fi.Name())
		}
	}
	if isDir, _ := fl.IsDir(); !isDir {
		buf := make([]byte, 64)
		n, _ := fl.Pread(buf, 0)
		if bytes.Contains(buf[:n], []byte(secret)) {
			t.Fatalf("%q %q read the secret", a, b)
		}
	}
	if runtime.GOOS == "linux" {
		of := fl.(*file).f
		real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(of.Fd())))
		if err == nil && real != tr.root && !strings.HasPrefix(real, tr.root+"/") {
			t.Fatalf("%q %q opened %s", a, b, real)
		}
	}
}
