package wasmbin

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wardenmcp/warden/internal/testutil"
)

// codeModule is a module whose functions, all of type 0 () -> (), have the
// given bodies (local declarations and instructions, without the size). It
// has what the bodies may refer to: type 1 (i32) -> (i32), a funcref table
// of one element, a shared memory of one page, a passive element segment
// holding function 0 (when there is one) and a passive data segment "hi".
func codeModule(bodies ...[]byte) []byte {
	funcs := make([][]byte, len(bodies))
	code := make([][]byte, len(bodies))
	for i, body := range bodies {
		funcs[i] = []byte{0}
		code[i] = append(appendUleb(nil, uint32(len(body))), body...)
	}
	var elems []byte
	if len(bodies) > 0 {
		elems = section(9, vec([]byte{0x01, 0x00, 1, 0})...)
	}
	return cat(header,
		section(1, vec([]byte{0x60, 0, 0}, []byte{0x60, 1, 0x7f, 1, 0x7f})...),
		section(3, vec(funcs...)...),
		section(4, vec([]byte{0x70, 0x00, 1})...),
		section(5, vec([]byte{0x03, 1, 1})...),
		elems,
		section(12, 1),
		section(10, vec(code...)...),
		section(11, vec(cat([]byte{1}, name("hi")))...),
	)
}

// ordinaryBody uses many instructions, none of which changes a table or
// uses a data segment; several immediates hold the bytes of ones that do.
var ordinaryBody = cat(
	[]byte{4, 1, 0x7f, 1, 0x7e, 1, 0x7c, 1, 0x7b}, // locals: i32 i64 f64 v128
	// i32.load with a large offset; drop
	[]byte{0x41, 0, 0x28, 0x02}, appendUleb(nil, 0x12345678), []byte{0x1a},
	// i64.store with offset 0xfffffff0
	[]byte{0x41, 0, 0x20, 1, 0x37, 0x03}, appendUleb(nil, 0xfffffff0),
	// i64.const -1234567890123; local.set 1
	[]byte{0x42}, appendSleb(nil, -1234567890123), []byte{0x21, 1},
	// f64.const whose bytes read "table.init, table.set, memory.init"; local.set 2
	[]byte{0x44, 0xfc, 0x0c, 0x26, 0xfc, 0x08, 0, 0, 0, 0x21, 2},
	// i32.const 38 (table.set's opcode); drop
	[]byte{0x41, 0x26, 0x1a},
	// select (result i32); drop
	[]byte{0x41, 1, 0x41, 2, 0x41, 0, 0x1c, 1, 0x7f, 0x1a},
	// v128.const; local.set 3
	[]byte{0xfd, 12, 0x26, 0, 0xfc, 12, 0, 0, 0xfc, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 3},
	// v128.load; i32x4.extract_lane 1; drop; v128.load32_lane 2; local.set 3
	[]byte{0x41, 0, 0xfd, 0, 4, 0, 0xfd, 27, 1, 0x1a},
	[]byte{0x41, 0, 0x20, 3, 0xfd, 86, 2, 8, 2, 0x21, 3},
	// block block i32.const 0 br_table 0 1 1 end end
	[]byte{0x02, 0x40, 0x02, 0x40, 0x41, 0, 0x0e, 2, 0, 1, 1, 0x0b, 0x0b},
	// i32.const 5 block (type 1) i32.const 1 i32.add end drop
	[]byte{0x41, 5, 0x02, 1, 0x41, 1, 0x6a, 0x0b, 0x1a},
	// loop (result i32) i32.const 0 end drop
	[]byte{0x03, 0x7f, 0x41, 0, 0x0b, 0x1a},
	// i32.const 1 if nop else nop end
	[]byte{0x41, 1, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b},
	// call_indirect (type 0) of table 0; call 0
	[]byte{0x41, 0, 0x11, 0, 0, 0x10, 0},
	// memory.size, memory.grow, memory.copy, memory.fill
	[]byte{0x3f, 0, 0x1a, 0x41, 1, 0x40, 0, 0x1a},
	[]byte{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0},
	// table.get, table.size, ref.func, ref.is_null, ref.null extern
	[]byte{0x41, 0, 0x25, 0, 0x1a, 0xfc, 16, 0, 0x1a, 0xd2, 0, 0xd1, 0x1a, 0xd0, 0x6f, 0x1a},
	// i32.trunc_sat_f64_s, i32.extend8_s, i64.eqz
	[]byte{0x20, 2, 0xfc, 2, 0xc0, 0x1a, 0x20, 1, 0x50, 0x1a},
	// atomic.fence, i32.atomic.load, memory.atomic.notify
	[]byte{0xfe, 3, 0, 0x41, 0, 0xfe, 0x10, 2, 0, 0x1a, 0x41, 0, 0x41, 1, 0xfe, 0, 2, 0, 0x1a},
	[]byte{0x0b},
)

// factCases are valid modules and what ScanCode must find in them.
var factCases = []struct {
	name string
	wasm []byte
	want CodeFacts
	// noRuntime: the runtime cannot compile the module (it lacks the
	// feature), so the test cannot check that the encoding is real.
	noRuntime bool
}{
	{"table.set", codeModule([]byte{0, 0x41, 0, 0xd0, 0x70, 0x26, 0, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"table.init", codeModule([]byte{0, 0x41, 0, 0x41, 0, 0x41, 1, 0xfc, 12, 0, 0, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"elem.drop", codeModule([]byte{0, 0xfc, 13, 0, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"table.copy", codeModule([]byte{0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 14, 0, 0, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"table.grow", codeModule([]byte{0, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"table.fill", codeModule([]byte{0, 0x41, 0, 0xd0, 0x70, 0x41, 1, 0xfc, 17, 0, 0x0b}), CodeFacts{TableWrites: true}, false},
	{"memory.init", codeModule([]byte{0, 0x41, 0, 0x41, 0, 0x41, 2, 0xfc, 8, 0, 0, 0x0b}), CodeFacts{SegmentOps: true}, false},
	{"data.drop", codeModule([]byte{0, 0xfc, 9, 0, 0x0b}), CodeFacts{SegmentOps: true}, false},
	{"both, in later functions", codeModule(ordinaryBody, []byte{0, 0xfc, 9, 0, 0x0b}, []byte{0, 0xfc, 13, 0, 0x0b}), CodeFacts{TableWrites: true, SegmentOps: true}, false},
	{"ordinary instructions", codeModule(ordinaryBody), CodeFacts{}, false},
	{"no functions", codeModule(), CodeFacts{}, false},
	// i64.store to memory 1, named after bit 6 of the alignment (multiple
	// memories).
	{"memory index in a memarg", codeModule(cat([]byte{0, 0x41, 0, 0x42, 0, 0x37, 0x43, 1}, appendUleb(nil, 0xfffffff0), []byte{0x0b})), CodeFacts{}, true},
	{"no code section", cat(header, section(1, vec()...)), CodeFacts{}, false},
}

func TestScanCodeFacts(t *testing.T) {
	ctx := context.Background()
	// The runtime must accept the modules: their encodings are real ones.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads))
	defer r.Close(ctx)
	for _, tc := range factCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.CompileModule(ctx, tc.wasm); err != nil && !tc.noRuntime {
				t.Fatalf("the test module is not valid: %v", err)
			}
			got, err := ScanCode(tc.wasm)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ScanCode = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// errorCases are modules ScanCode must refuse, and how.
var errorCases = []struct {
	name string
	wasm []byte
	want error
}{
	{"unknown opcode", codeModule([]byte{0, 0x27, 0x0b}), ErrUnsupported},
	{"unknown opcode in a later function", codeModule(ordinaryBody, []byte{0, 0x41, 0, 0x1a, 0x27, 0x0b}), ErrUnsupported},
	{"legacy try", codeModule([]byte{0, 0x06, 0x40, 0x0b, 0x0b}), ErrUnsupported},
	{"GC prefix", codeModule([]byte{0, 0xfb, 0, 0, 0x0b}), ErrUnsupported},
	{"unknown 0xfc sub-opcode", codeModule([]byte{0, 0xfc, 0x20, 0x0b}), ErrUnsupported},
	{"unknown 0xfc sub-opcode, padded", codeModule([]byte{0, 0xfc, 0x92, 0x80, 0x00, 0x0b}), ErrUnsupported},
	{"unknown 0xfd sub-opcode", codeModule(cat([]byte{0, 0xfd}, appendUleb(nil, 276), []byte{0x0b})), ErrUnsupported},
	{"unknown 0xfe sub-opcode", codeModule([]byte{0, 0xfe, 4, 0x0b}), ErrUnsupported},
	{"ref.null of another heap type", codeModule([]byte{0, 0xd0, 0x6e, 0x1a, 0x0b}), ErrUnsupported},
	{"typed reference local", codeModule([]byte{1, 1, 0x64, 0x70, 0x0b}), ErrUnsupported},
	{"typed reference block type", codeModule([]byte{0, 0x02, 0x63, 0x70, 0x0b, 0x0b}), ErrUnsupported},
	{"typed reference in select", codeModule([]byte{0, 0x1c, 1, 0x63, 0x70, 0x0b}), ErrUnsupported},
	{"body past the code section", cat(header, section(10, vec([]byte{10, 0, 0x0b})...)), ErrMalformed},
	{"LEB128 past the body", codeModule([]byte{0, 0x41, 0x80}, []byte{0, 0x0b}), ErrMalformed},
	{"f64.const past the body", codeModule([]byte{0, 0x44, 1, 2, 3}), ErrMalformed},
	{"v128.const past the body", codeModule(cat([]byte{0, 0xfd, 12}, make([]byte, 15))), ErrMalformed},
	{"br_table past the body", codeModule([]byte{0, 0x0e, 5, 0, 0x0b}), ErrMalformed},
	{"offset over 64 bits", codeModule([]byte{0, 0x41, 0, 0x28, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x1a, 0x0b}), ErrMalformed},
	{"index over 32 bits", codeModule([]byte{0, 0x20, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, 0x0b}), ErrMalformed},
	{"local declaration without a type", codeModule([]byte{1, 1}), ErrMalformed},
	{"empty code section", cat(header, section(10)), ErrMalformed},
	{"trailing bytes in the code section", cat(header, section(10, append(vec([]byte{2, 0, 0x0b}), 0x0b)...)), ErrMalformed},
	{"two code sections", cat(header, section(10, vec()...), section(10, vec()...)), ErrMalformed},
	{"not wasm", []byte("hello"), ErrMalformed},
}

func TestScanCodeErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanCode(tc.wasm)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ScanCode = %+v, %v; want an error wrapping %v", got, err, tc.want)
			}
			t.Log(err)
			if got != (CodeFacts{}) {
				t.Errorf("facts %+v with an error", got)
			}
		})
	}
}

// TestScanCodeGo decodes a real Go plugin, which must decode and has no
// instruction that changes a table or uses a data segment.
func TestScanCodeGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	b := testutil.ReadPlugin(t, "./examples/hello")
	got, err := ScanCode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != (CodeFacts{}) {
		t.Errorf("ScanCode = %+v, want no facts", got)
	}
	// The rewrite for snapshots keeps the code decodable.
	p, err := PrepareSnapshot(b, "host.")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ScanCode(p.Module); err != nil || got != (CodeFacts{}) {
		t.Errorf("ScanCode of the prepared module = %+v, %v; want no facts", got, err)
	}
}

func FuzzScanCode(f *testing.F) {
	for _, tc := range factCases {
		f.Add(tc.wasm)
	}
	for _, tc := range errorCases {
		f.Add(tc.wasm)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ScanCode(b)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
		}
		if got != (CodeFacts{}) {
			t.Fatalf("facts %+v with an error", got)
		}
	})
}

func BenchmarkScanCode(b *testing.B) {
	wasm := testutil.ReadPlugin(b, "./examples/hello")
	secs, err := Sections(wasm)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range secs {
		if s.ID == secCode {
			b.SetBytes(int64(len(s.Payload)))
		}
	}
	for b.Loop() {
		if _, err := ScanCode(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
