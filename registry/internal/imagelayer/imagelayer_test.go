package imagelayer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

type entry struct {
	name, link string
	typ        byte
	body       []byte
}

func makeTar(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := (*tar.Writer)(nil)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

var lim = Limits{MaxModule: 1 << 20, MaxTar: 4 << 20, MaxEntries: 16}

func TestExtract(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	for _, name := range []string{"plugin.wasm", "/plugin.wasm", "./plugin.wasm"} {
		for _, gz := range []bool{true, false} {
			layer := makeTar(t, gz, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/x", body: []byte("x")}, entry{name: name, body: wasm})
			got, err := Extract(layer, gz, lim)
			if err != nil {
				t.Fatalf("%s gzip=%v: %v", name, gz, err)
			}
			if !bytes.Equal(got, wasm) {
				t.Fatalf("%s: got %q", name, got)
			}
		}
	}
}

func TestExtractRefuses(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	cases := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"missing", []entry{{name: "other.wasm", body: wasm}}, "no /plugin.wasm"},
		{"twice", []entry{{name: "plugin.wasm", body: wasm}, {name: "/plugin.wasm", body: wasm}}, "more than once"},
		{"symlink", []entry{{name: "plugin.wasm", typ: tar.TypeSymlink, link: "/etc/passwd"}}, "symbolic link"},
		{"hardlink", []entry{{name: "x", body: wasm}, {name: "plugin.wasm", typ: tar.TypeLink, link: "x"}}, "hard link"},
		{"dir", []entry{{name: "plugin.wasm/", typ: tar.TypeDir}}, "directory"},
		{"dotdot", []entry{{name: "../plugin.wasm", body: wasm}}, "path trick"},
		{"dotdot-inner", []entry{{name: "a/../../plugin.wasm", body: wasm}}, "path trick"},
		{"too big", []entry{{name: "plugin.wasm", body: make([]byte, 2<<20)}}, "more than the"},
		{"too many", func() []entry {
			var es []entry
			for range 20 {
				es = append(es, entry{name: "d/", typ: tar.TypeDir})
			}
			return es
		}(), "more than 16 entries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Extract(makeTar(t, true, c.entries...), true, lim)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestExtractBomb(t *testing.T) {
	// 16 MiB of zeros compresses to about 16 KiB; the cap is 4 MiB.
	layer := makeTar(t, true, entry{name: "zeros", body: make([]byte, 16<<20)}, entry{name: "plugin.wasm", body: []byte("x")})
	if len(layer) > 1<<20 {
		t.Fatalf("test layer is %d bytes", len(layer))
	}
	_, err := Extract(layer, true, lim)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestNotGzip(t *testing.T) {
	if _, err := Extract([]byte("plain"), true, lim); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Extract([]byte("plain"), false, lim); err == nil || !strings.Contains(err.Error(), "tar") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(makeTar(f, true, entry{name: "plugin.wasm", body: []byte("\x00asm")}), true)
	f.Add(makeTar(f, false, entry{name: "/plugin.wasm", body: []byte("\x00asm")}, entry{name: "x", typ: tar.TypeSymlink, link: "y"}), false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)
	small := Limits{MaxModule: 1 << 10, MaxTar: 64 << 10, MaxEntries: 8}
	f.Fuzz(func(t *testing.T, layer []byte, gz bool) {
		m, err := Extract(layer, gz, small)
		if err == nil && int64(len(m)) > small.MaxModule {
			t.Fatalf("module of %d bytes passed a %d cap", len(m), small.MaxModule)
		}
	})
}
