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

// TestReusedReservationIsReset checks that an instance given the
// memory array of a closed one sees exactly the image: every byte the last
// instance wrote, inside the image range and past it, is gone.
func TestReusedReservationIsReset(t *testing.T) {
	p := loadInternal(t, "./plugins/testdata/counter")
	img := p.snap.get("")
	if img == nil {
		t.Fatal("no image")
	}
	ctx := context.Background()
	inReseed := func(i int) bool {
		for _, r := range img.reseed {
			if i >= r.from && i < r.to {
				return true
			}
		}
		return false
	}
	for round := range 4 {
		limits := p.rt.defaults
		st := &callState{ctx: ctx, callerCtx: ctx, plugin: p.name, limits: limits, sandbox: &Sandbox{}}
		st.logs = newPluginLog(ctx, st.sandbox, p.name, "")
		img.freeMu.Lock()
		free := len(img.free)
		img.freeMu.Unlock()
		in, err := p.newInstance(ctx, st, int64(limits.Memory), nil, instanceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if round > 0 && free == 0 {
			t.Fatal("the closed instance's memory was not kept")
		}
		buf := in.mem.buf
		for i := range img.mem {
			if buf[i] != img.mem[i] && !inReseed(i) {
				t.Fatalf("round %d: byte %#x is %#x, the image has %#x", round, i, buf[i], img.mem[i])
			}
		}
		// Grow as the guest would, and see zeros past the image.
		size := uint64(len(img.mem)) + 2<<20
		if buf = in.mem.Reallocate(size); buf == nil {
			t.Fatal("cannot grow")
		}
		for i := len(img.mem); i < int(size); i += 512 {
			if buf[i] != 0 {
				t.Fatalf("round %d: byte %#x past the image is %#x, want 0", round, i, buf[i])
			}
		}
		// Write everywhere, as a call could, then close.
		for i := 0; i < int(size); i += 256 {
			in.mem.buf[i] = 0xA5
		}
		// The guest may well crash or loop on a scribbled heap; the reset
		// must not care.
		cctx, cancel := context.WithTimeout(context.WithValue(ctx, stateKey{}, st), 2*time.Second)
		if _, _, err := in.call(cctx, in.mod.ExportedFunction("call_tool")); err != nil {
			t.Log(err)
		}
		cancel()
		in.close()
	}
}
