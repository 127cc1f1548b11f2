package wasmbin

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wardenmcp/warden/internal/testutil"
)

// trackingCases are functions of type (i32 a) -> () that write memory near
// a, each leaving by a different way out of the function.
var trackingCases = []struct {
	name string
	body []byte
}{
	{"i32.store, final end", []byte{0, 0x20, 0, 0x41, 0x11, 0x36, 2, 0, 0x0b}},
	{"i64.store with an offset, return", cat([]byte{0, 0x20, 0, 0x42, 0x7f, 0x37, 3}, appendUleb(nil, 70000), []byte{0x0f, 0x0b})},
	{"i32.store8, br to the function", []byte{0, 0x02, 0x40, 0x20, 0, 0x41, 0x7f, 0x3a, 0, 0, 0x0c, 1, 0x0b, 0x0b}},
	{"i64.store32, br_if to the function", []byte{0, 0x20, 0, 0x42, 5, 0x3e, 2, 0, 0x41, 1, 0x0d, 0, 0x00, 0x0b}},
	{"f64.store, br_table to the function", []byte{0, 0x02, 0x40, 0x20, 0, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x39, 3, 0, 0x41, 1, 0x0e, 1, 0, 1, 0x0b, 0x0b}},
	{"f32.store in a loop", []byte{0, 0x03, 0x40, 0x20, 0, 0x43, 0, 0, 0x80, 0x3f, 0x38, 2, 0, 0x0b, 0x0b}},
	{"v128.store", cat([]byte{0, 0x20, 0, 0xfd, 12}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{0xfd, 11, 4, 0, 0x0b})},
	{"memory.fill over 3 regions", cat([]byte{0, 0x20, 0, 0x41, 0x2b, 0x41}, appendSleb(nil, 200000), []byte{0xfc, 11, 0, 0x0b})},
	{"memory.copy", []byte{0, 0x20, 0, 0x41, 0, 0x41, 0xe4, 0, 0xfc, 10, 0, 0, 0x0b}},
	{"calls a function that stores", []byte{0, 0x20, 0, 0x10, 0, 0x20, 0, 0x41, 0x80, 0x80, 0x04, 0x6a, 0x10, 0, 0x0b}},
	{"store straddling regions", []byte{0, 0x20, 0, 0x41, 0x7c, 0x6a, 0x42, 0x7f, 0x37, 3, 0, 0x0b}},
	// Values computed by an operation, not pushed by one instruction.
	{"i32.store of a computed value", []byte{0, 0x20, 0, 0x20, 0, 0x41, 1, 0x6a, 0x36, 2, 0, 0x0b}},
	{"f32.store of a computed value with an offset", cat([]byte{0, 0x20, 0, 0x43, 0, 0, 0x80, 0x3f, 0x8c, 0x38, 2}, appendUleb(nil, 65536), []byte{0x0b})},
	{"two stores of pushed values", []byte{0, 0x20, 0, 0x41, 1, 0x36, 2, 0, 0x20, 0, 0x20, 0, 0x36, 2, 4, 0x0b}},
}

// trackingModule has 16 pages of memory (16 regions), data "\x01" at 0 (so
// memory.copy copies something), and the functions of trackingCases,
// exported as f0, f1, …
func trackingModule() []byte {
	var funcs, code, exports [][]byte
	for i, tc := range trackingCases {
		funcs = append(funcs, []byte{0})
		code = append(code, append(appendUleb(nil, uint32(len(tc.body))), tc.body...))
		exports = append(exports, cat(name(fmt.Sprintf("f%d", i)), []byte{0}, appendUleb(nil, uint32(i))))
	}
	exports = append(exports, cat(name("memory"), []byte{2, 0}))
	return cat(header,
		section(1, vec([]byte{0x60, 1, 0x7f, 0})...),
		section(3, vec(funcs...)...),
		section(5, vec([]byte{0, 16})...),
		section(7, vec(exports...)...),
		section(10, vec(code...)...),
		section(11, vec(cat([]byte{0, 0x41, 0, 0x0b}, name("\x01")))...),
	)
}

func TestAddWriteTracking(t *testing.T) {
	ctx := context.Background()
	tr, err := AddWriteTracking(trackingModule(), "host.")
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, tr.Module)
	if err != nil {
		t.Fatalf("the tracked module does not compile: %v", err)
	}
	for i, tc := range trackingCases {
		for _, a := range []uint32{1000, 65530, 300000, 4 << 16} {
			t.Run(fmt.Sprintf("%s at %d", tc.name, a), func(t *testing.T) {
				mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close(ctx)
				mem := mod.Memory()
				before, _ := mem.Read(0, mem.Size())
				before = append([]byte(nil), before...)
				if _, err := mod.ExportedFunction(fmt.Sprintf("f%d", i)).Call(ctx, uint64(a)); err != nil {
					t.Fatal(err)
				}
				bits := mod.ExportedGlobal(tr.Dirty).Get()
				after, _ := mem.Read(0, mem.Size())
				checkTracked(t, before, after, bits)
				if bits == 0 {
					t.Fatal("no bits set")
				}
			})
		}
	}
}

// checkTracked fails t unless every byte that differs between before and
// after is covered by bits: in a region whose bit is set, or within 15
// bytes past the end of one.
func checkTracked(t *testing.T, before, after []byte, bits uint64) {
	t.Helper()
	for i := range after {
		if before[i] == after[i] {
			continue
		}
		r := i >> TrackShift
		spill := i&(1<<TrackShift-1) < 16 && r > 0 && bits&(1<<((r-1)&63)) != 0
		if bits&(1<<(r&63)) == 0 && !spill {
			t.Fatalf("byte %d (region %d) changed, but the bits are %064b", i, r, bits)
		}
	}
}

func TestAddWriteTrackingRefuses(t *testing.T) {
	checkRefusals(t, []refusal{
		{"atomic store", codeModule([]byte{0, 0x41, 0, 0x41, 0, 0xfe, 0x17, 2, 0, 0x0b}), ErrUnsupported},
		{"sets a global that does not exist", codeModule([]byte{0, 0x41, 0, 0x24, 1, 0x0b}), ErrMalformed},
		{"a store to memory 1", codeModule(cat([]byte{0, 0x41, 0, 0x42, 0, 0x37, 0x43, 1}, appendUleb(nil, 0), []byte{0x0b})), ErrUnsupported},
		{"exports a name of the host's", cat(header, section(7, vec(cat(name("host.dirty"), []byte{3, 0}))...)), ErrUnsupported},
	}, func(b []byte) (any, error) { return AddWriteTracking(b, "host.") })
}

// TestAddWriteTrackingGo tracks a real Go plugin after its interrupt
// checks, as Load does; it must still compile.
func TestAddWriteTrackingGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	ctx := context.Background()
	in, err := AddInterruptChecks(testutil.ReadPlugin(t, "./examples/hello"), "host.")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := AddWriteTracking(in.Module, "track.")
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, tr.Module); err != nil {
		t.Fatalf("the tracked module does not compile: %v", err)
	}
	if _, err := PrepareSnapshot(tr.Module, "snap."); err != nil {
		t.Fatal(err)
	}
	t.Logf("module %d -> %d bytes", len(in.Module), len(tr.Module))
}

// FuzzAddWriteTracking checks the rewrite against the runtime (fuzzRewrite).
func FuzzAddWriteTracking(f *testing.F) {
	r := rewriteFuzzer(f, trackingModule(), interruptModule())
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRewrite(t, r, b, func(b []byte) ([]byte, error) {
			tr, err := AddWriteTracking(b, "host.")
			if err != nil {
				return nil, err
			}
			return tr.Module, nil
		})
	})
}
