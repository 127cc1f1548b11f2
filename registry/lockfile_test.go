package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const h64 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

const sampleLock = `# a comment
apiVersion: warden.dev/v1
kind: Lock
plugins:
  hello:
    source: oci://ghcr.io/acme/hello:1.2.0
    digest: sha256:` + h64 + `
    kind: keyless
    signer: https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.0
    issuer: https://token.actions.githubusercontent.com
    version: 1.2.0
    tools: sha256:` + h64 + `
  time:
    source: oci://ghcr.io/tuananh/time-plugin:latest
    digest: sha256:` + h64 + `
    kind: key
    signer: sha256:` + h64 + `
    tools: sha256:` + h64 + `
    image:
      manifest: sha256:` + h64 + `
      layer: sha256:` + h64 + `
    disabled: true
`

func TestLockfileRoundTrip(t *testing.T) {
	l, err := ParseLockfile("warden.lock", []byte(sampleLock))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Names(); len(got) != 2 || got[0] != "hello" || got[1] != "time" {
		t.Fatalf("names = %v", got)
	}
	tm := l.Plugins["time"]
	if !tm.Disabled || tm.ImageLayer != "sha256:"+h64 || tm.Kind != "key" {
		t.Errorf("time = %+v", tm)
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ParseLockfile("again", b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for n, e := range l.Plugins {
		if *l2.Plugins[n] != *e {
			t.Errorf("%s: %+v after a round trip, want %+v", n, l2.Plugins[n], e)
		}
	}
	b2, _ := l2.Marshal()
	if string(b) != string(b2) {
		t.Errorf("Marshal is not stable:\n%s\n---\n%s", b, b2)
	}
	// Everything but the header comment matches what was parsed.
	body := sampleLock[strings.Index(sampleLock, "apiVersion"):]
	if !strings.HasSuffix(string(b), body) {
		t.Errorf("Marshal =\n%s\nwant it to end with\n%s", b, body)
	}
}

func TestLockfileEmpty(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "warden.lock")
	l, err := ReadLockfile(p)
	if err != nil || len(l.Plugins) != 0 {
		t.Fatalf("missing lockfile: %v, %v", l, err)
	}
	if err := WriteLockfile(p, l); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "plugins: {}") {
		t.Errorf("empty lockfile:\n%s", b)
	}
	if l, err = ReadLockfile(p); err != nil || len(l.Plugins) != 0 {
		t.Fatalf("%v %v", l, err)
	}
	info, _ := os.Stat(p)
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
}

func TestLockfileErrors(t *testing.T) {
	hdr := "apiVersion: warden.dev/v1\nkind: Lock\nplugins:\n"
	entry := "    source: x\n    digest: sha256:" + h64 + "\n    kind: key\n    signer: s\n    tools: sha256:" + h64 + "\n"
	cases := []struct{ name, in, want string }{
		{"empty", "", "warden.lock: the lockfile is empty"},
		{"not yaml", "a: [", "warden.lock: not valid YAML"},
		{"two docs", hdr + "  {}\n---\nx: 1\n", "warden.lock:5:1: more than one YAML document"},
		{"api", "apiVersion: v2\nkind: Lock\nplugins: {}\n", `warden.lock:1:13: apiVersion: want warden.dev/v1, found "v2"`},
		{"missing kind", "apiVersion: warden.dev/v1\nplugins: {}\n", "warden.lock:1:1: kind: is required"},
		{"unknown top", hdr + "  {}\nextra: 1\n", "warden.lock:5:1: extra: unknown field"},
		{"bad name", hdr + "  Bad.Name:\n" + entry, `warden.lock:4:3: plugins.Bad.Name: "Bad.Name" is not a valid plugin name`},
		{"bad digest", hdr + "  a:\n    source: x\n    digest: md5:00\n    kind: key\n    signer: s\n    tools: sha256:" + h64 + "\n",
			`warden.lock:6:13: plugins.a.digest: want sha256:<64 hex digits>, found "md5:00"`},
		{"unknown field", hdr + "  a:\n" + entry + "    trusted: true\n", "warden.lock:10:5: plugins.a.trusted: unknown field"},
		{"dup field", hdr + "  a:\n" + entry + "    source: y\n", "warden.lock:10:5: plugins.a.source: appears more than once"},
		{"dup plugin", hdr + "  a:\n" + entry + "  a:\n" + entry, "warden.lock:10:3: plugins.a: appears more than once"},
		{"wrong type", hdr + "  a:\n" + entry + "    disabled: yes please\n", `warden.lock:10:15: plugins.a.disabled: want true or false, found the string "yes please"`},
		{"not string", hdr + "  a:\n    source: [x]\n", "warden.lock:5:13: plugins.a.source: want a string, found a sequence"},
		{"alias", hdr + "  a: &x\n" + entry + "  b: *x\n", "anchors are not allowed"},
		{"tag", hdr + "  a:\n    source: !!str x\n", "explicit tags"},
		{"no signer", hdr + "  a:\n    source: x\n    digest: sha256:" + h64 + "\n    kind: keyless\n    tools: sha256:" + h64 + "\n",
			"warden.lock:5:5: plugins.a.signer: is required for a signed plugin"},
		{"insecure with signer", hdr + "  a:\n" + entry + "    insecureSkipSignature: true\n", "plugins.a.insecureSkipSignature: an entry installed without a signature check has no kind or signer"},
		{"bad version", hdr + "  a:\n" + entry + "    version: latest\n", `warden.lock:10:14: plugins.a.version: want a semantic version such as 1.2.3, found "latest"`},
		{"half image", hdr + "  a:\n" + entry + "    image:\n      manifest: sha256:" + h64 + "\n", "plugins.a.image: needs both manifest and layer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLockfile("warden.lock", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("%T is not a *ParseError", err)
			}
		})
	}
}

func TestLockfileTooLarge(t *testing.T) {
	if _, err := ParseLockfile("big", make([]byte, MaxLockfileSize+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseLockfile(f *testing.F) {
	f.Add([]byte(sampleLock))
	f.Add([]byte("apiVersion: warden.dev/v1\nkind: Lock\nplugins: {}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("plugins:\n  a: {source: x, digest: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLockfile("fuzz.lock", data)
		if err != nil {
			return
		}
		// What parses marshals, and parses back to the same entries.
		b, err := l.Marshal()
		if err != nil {
			t.Fatalf("a parsed lockfile does not marshal: %v", err)
		}
		l2, err := ParseLockfile("again", b)
		if err != nil {
			t.Fatalf("marshalled lockfile does not parse: %v\n%s", err, b)
		}
		if len(l2.Plugins) != len(l.Plugins) {
			t.Fatalf("%d plugins became %d", len(l.Plugins), len(l2.Plugins))
		}
		for n, e := range l.Plugins {
			if e2 := l2.Plugins[n]; e2 == nil || *e2 != *e {
				t.Fatalf("%s: %+v became %+v", n, e, e2)
			}
		}
	})
}
