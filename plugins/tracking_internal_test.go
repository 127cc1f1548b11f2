package plugins

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/internal/wasmbin"
	"github.com/wardenmcp/warden/plugins/internal/kernel"
)

// TestWriteTrackingCoversEveryWrite is the soundness test of write
// tracking: on one instance recycled call after call, every byte of memory
// that differs from the image after a call must lie in a region the call
// marked (or within the 15 bytes after one), apart from the runtime's
// random states, which are reseeded anyway. A byte outside would survive
// into the next call.
func TestWriteTrackingCoversEveryWrite(t *testing.T) {
	type call struct{ tool, args string }
	big, _ := json.Marshal(map[string]string{"text": strings.Repeat("ab", 20000)})
	for _, tc := range []struct {
		pkg   string
		calls []call
	}{
		{"./examples/hello", []call{{"greet", `{"name":"Ada"}`}, {"echo", string(big)}, {"greet", `{"name":"Grace"}`}, {"echo", `{"text":"x"}`}}},
		{"./plugins/testdata/counter", []call{{"count", `{}`}, {"random", `{}`}, {"runtime-random", `{}`}, {"write-stdout", `{}`}}},
		{"./examples/hash", []call{{"digest", `{"text":"hello","algorithm":"sha512"}`}, {"sha256", `{"text":"` + strings.Repeat("z", 70000) + `"}`}, {"base64_encode", `{"text":"hi"}`}}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			p := loadInternal(t, tc.pkg)
			if p.dirty == "" {
				t.Fatal("the plugin was not rewritten for write tracking")
			}
			ctx := context.Background()
			img := p.snap.get("")
			limits := p.rt.defaults
			st := &callState{ctx: ctx, callerCtx: ctx, plugin: p.name, limits: limits, sandbox: &Sandbox{}}
			st.logs = newPluginLog(ctx, st.sandbox, p.name, "")
			in, err := p.newInstance(ctx, st, int64(limits.Memory), nil, instanceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.close()
			for round := range 3 {
				for _, c := range tc.calls {
					st := &callState{ctx: ctx, callerCtx: ctx, plugin: p.name, limits: limits, sandbox: &Sandbox{}, budget: in.budget, stderrTail: &in.tail}
					st.logs = newPluginLog(ctx, st.sandbox, p.name, c.tool)
					st.arena = kernel.New(in.budget)
					input := marshalJSON(map[string]any{"request": map[string]any{"name": c.tool, "arguments": json.RawMessage(c.args)}, "context": map[string]any{}})
					if err := st.arena.SetInput(input); err != nil {
						t.Fatal(err)
					}
					in.bind(ctx, nopWriter{}, nopWriter{})
					res, interrupted, err := in.call(context.WithValue(ctx, stateKey{}, st), in.function("call_tool"))
					if err != nil || interrupted || int32(res[0]) != 0 {
						t.Fatalf("%s: %v, %v, %v: %s", c.tool, res, interrupted, err, st.errMsg)
					}
					regions := in.dirty.Get() | st.written
					mem := in.mem.buf[:len(img.mem)]
					changed := 0
					for i := range mem {
						if mem[i] == img.mem[i] || inSpans(img.reseed, i) {
							continue
						}
						changed++
						r := i >> wasmbin.TrackShift
						spill := i&(1<<wasmbin.TrackShift-1) < 15 && r > 0 && regions&(1<<((r-1)&63)) != 0
						if regions&(1<<(r&63)) == 0 && !spill {
							t.Fatalf("round %d, %s: byte %#x (region %d) changed but the call marked only %064b", round, c.tool, i, r, regions)
						}
					}
					if round == 0 {
						t.Logf("%s: %d bytes changed; %d of %d regions restored", c.tool, changed, popcount(regions), len(img.mem)>>wasmbin.TrackShift)
					}
					in.written = st.written
					if err := in.reset(p.snap.prep); err != nil {
						t.Fatal(err)
					}
					for i := range img.mem {
						if in.mem.buf[i] != img.mem[i] && !inSpans(img.reseed, i) {
							t.Fatalf("round %d, %s: after the reset byte %#x is %#x, the image's %#x", round, c.tool, i, in.mem.buf[i], img.mem[i])
						}
					}
				}
			}
		})
	}
}

func inSpans(spans []span, i int) bool {
	for _, s := range spans {
		if i >= s.from && i < s.to {
			return true
		}
	}
	return false
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
