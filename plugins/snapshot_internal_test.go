package plugins

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardenmcp/warden/internal/testutil"
)

func loadInternal(t *testing.T, pkg string, opts ...Option) *Plugin {
	t.Helper()
	ctx := context.Background()
	rt, err := NewRuntime(ctx, append([]Option{WithCacheDir(testutil.CompileCacheDir(t)), WithPrewarm(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	p, err := rt.Load(ctx, "p", testutil.ReadPlugin(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImageFindsRuntimeGenerators checks that the image of a Go plugin
// reseeds the runtime's two ChaCha8 states (the global one and the
// thread's, with its cheap generator after it).
func TestImageFindsRuntimeGenerators(t *testing.T) {
	p := loadInternal(t, "./plugins/testdata/counter")
	img := p.snap.get("")
	if img == nil {
		t.Fatalf("no image was made (disabled: %q)", p.snap.disabled)
	}
	var states, words int
	for _, r := range img.reseed {
		switch r.to - r.from {
		case chachaI:
			states++
		case 8:
			words++
		default:
			t.Errorf("reseed span of %d bytes", r.to-r.from)
		}
	}
	if states < 2 || words < 1 {
		t.Errorf("found %d ChaCha8 states and %d cheap generators; want at least 2 and 1", states, words)
	}
}

// TestImageCopyPath runs calls from an image by copying it, as on systems
// without copy-on-write mappings.
func TestImageCopyPath(t *testing.T) {
	p := loadInternal(t, "./examples/hello")
	img := p.snap.get("")
	if img == nil {
		t.Fatal("no image")
	}
	if img.file != nil {
		img.file.close()
		img.file = nil
	}
	for range 3 {
		res, err := p.Call(context.Background(), "greet", json.RawMessage(`{"name":"Ada"}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.JSON), "Hello, Ada!") {
			t.Fatalf("result %s", res.JSON)
		}
	}
}

// TestImagesOff runs the module as it came.
func TestImagesOff(t *testing.T) {
	p := loadInternal(t, "./examples/hello", WithMemoryImages(false))
	if p.snap != nil {
		t.Fatal("images are off but the module was prepared for them")
	}
	if _, err := p.Call(context.Background(), "greet", json.RawMessage(`{"name":"Ada"}`), nil); err != nil {
		t.Fatal(err)
	}
}

// TestImageForMounts checks that a call with mounts gets its own image
// (the guest's preopened directories are part of its initialised state)
// and sees its files either way.
func TestImageForMounts(t *testing.T) {
	p := loadInternal(t, "./examples/files")
	dir := t.TempDir()
	if err := writeFile(dir+"/a.txt", "alpha"); err != nil {
		t.Fatal(err)
	}
	sb := &Sandbox{Mounts: []Mount{{Host: dir, Guest: "/data", ReadOnly: true}}}
	for i := range 40 {
		res, err := p.Call(context.Background(), "read", json.RawMessage(`{"path":"/data/a.txt"}`), sb)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.JSON), "alpha") {
			t.Fatalf("call %d: %s", i, res.JSON)
		}
		if p.snap.get(mountsKey(sb.Mounts)) != nil {
			return
		}
		waitABit()
	}
	t.Fatal("no image was made for the mounts")
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func waitABit() { time.Sleep(50 * time.Millisecond) }
