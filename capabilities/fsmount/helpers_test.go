package fsmount

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const secret = "TOPSECRET"

// tree is a test layout: a temporary directory holding the mount directory
// "root", a directory "outside" next to it with a secret in it, and
// symbolic links planted in root by the host, some of which point out.
type tree struct {
	top     string // the temporary directory
	root    string // top/root, the mount
	outside string // top/outside
}

// newTree builds the layout:
//
//	top/outside/secret.txt            "TOPSECRET"
//	top/outside/dir/
//	top/root/hello.txt                "hello"
//	top/root/sub/inner.txt            "inner"
//	top/root/empty/
//	top/root/rel-out  -> ../outside            (escapes, relative)
//	top/root/abs-out  -> <top>/outside         (escapes, absolute)
//	top/root/abs-etc  -> /etc                  (escapes, absolute)
//	top/root/chain1   -> chain2                (a chain that escapes)
//	top/root/chain2   -> sub/../../outside/secret.txt
//	top/root/in1      -> in2                   (a chain that stays inside)
//	top/root/in2      -> sub/../hello.txt
//	top/root/dirlink  -> sub
//	top/root/sub/up   -> ../hello.txt
//	top/root/sub/upup -> ../../outside/secret.txt (escapes from a subdirectory)
//	top/root/loop1    -> loop2, loop2 -> loop1
func newTree(t testing.TB) *tree {
	t.Helper()
	top := t.TempDir()
	tr := &tree{top: top, root: filepath.Join(top, "root"), outside: filepath.Join(top, "outside")}
	mustMkdir(t, tr.outside, "dir")
	mustWrite(t, filepath.Join(tr.outside, "secret.txt"), secret)
	mustMkdir(t, tr.root, "sub")
	mustMkdir(t, tr.root, "empty")
	mustWrite(t, filepath.Join(tr.root, "hello.txt"), "hello")
	mustWrite(t, filepath.Join(tr.root, "sub", "inner.txt"), "inner")
	for link, target := range map[string]string{
		"rel-out":  "../outside",
		"abs-out":  tr.outside,
		"abs-etc":  "/etc",
		"chain1":   "chain2",
		"chain2":   "sub/../../outside/secret.txt",
		"in1":      "in2",
		"in2":      "sub/../hello.txt",
		"dirlink":  "sub",
		"sub/up":   "../hello.txt",
		"sub/upup": "../../outside/secret.txt",
		"loop1":    "loop2",
		"loop2":    "loop1",
	} {
		if err := os.Symlink(target, filepath.Join(tr.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// mount returns an FS on the tree's root, closed with the test.
func (tr *tree) mount(t testing.TB, readOnly bool) *FS {
	t.Helper()
	m, err := New(tr.root, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func mustMkdir(t testing.TB, parts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(parts...), 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every entry under dir, recursively and without
// following links: path, type, permissions, size, modification time, link
// target and content, one line per entry, sorted. skip names top-level
// entries to leave out.
func snapshot(t testing.TB, dir string, skip ...string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s {
				return filepath.SkipDir
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// readAll reads f from its offset to the end.
func readAll(t testing.TB, f experimentalsys.File) string {
	t.Helper()
	var buf bytes.Buffer
	b := make([]byte, 3) // small, to loop
	for {
		n, errno := f.Read(b)
		if errno != 0 {
			t.Fatalf("Read: %v", errno)
		}
		if n == 0 {
			return buf.String()
		}
		buf.Write(b[:n])
	}
}

// readFile opens name read-only in m and returns its content.
func readFile(m experimentalsys.FS, name string) (string, experimentalsys.Errno) {
	f, errno := m.OpenFile(name, experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return "", errno
	}
	defer f.Close()
	var buf bytes.Buffer
	b := make([]byte, 64)
	for {
		n, errno := f.Read(b)
		if errno != 0 {
			return buf.String(), errno
		}
		if n == 0 {
			return buf.String(), 0
		}
		buf.Write(b[:n])
	}
}

// errnoString prints an Errno for failure messages, with zero as "0".
func errnoString(e experimentalsys.Errno) string {
	if e == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%v)", uint16(e), e)
}
