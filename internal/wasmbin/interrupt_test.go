package wasmbin

import (
	"bytes"
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wardenmcp/warden/internal/testutil"
)

// interruptModule has a mutable global g (export "g", 0 at start), a start
// function that sets it to 7, and:
//   - spin () -> (): loop br 0 end, forever;
//   - count (i32) -> (i32): a loop counting its argument down to 0;
//   - rec (i32) -> (i32): 2^n by double recursion, with no loop at all.
func interruptModule() []byte {
	bodies := [][]byte{
		{0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b},                                           // spin
		{0, 0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x20, 0, 0x0b}, // count
		{0, 0x20, 0, 0x45, 0x04, 0x7f, 0x41, 1, 0x05, // rec: if n == 0 then 1
			0x20, 0, 0x41, 1, 0x6b, 0x10, 2, 0x20, 0, 0x41, 1, 0x6b, 0x10, 2, 0x6a, 0x0b, 0x0b}, // else rec(n-1)+rec(n-1)
		{0, 0x41, 7, 0x24, 0, 0x0b}, // start: g = 7
	}
	code := make([][]byte, len(bodies))
	for i, b := range bodies {
		code[i] = append(appendUleb(nil, uint32(len(b))), b...)
	}
	return cat(header,
		section(1, vec([]byte{0x60, 0, 0}, []byte{0x60, 1, 0x7f, 1, 0x7f})...),
		section(3, vec([]byte{0}, []byte{1}, []byte{1}, []byte{0})...),
		section(6, vec([]byte{0x7f, 1, 0x41, 0, 0x0b})...),
		section(7, vec(cat(name("spin"), []byte{0, 0}), cat(name("count"), []byte{0, 1}),
			cat(name("rec"), []byte{0, 2}), cat(name("g"), []byte{3, 0}))...),
		section(8, 3),
		section(10, vec(code...)...),
	)
}

func TestAddInterruptChecks(t *testing.T) {
	ctx := context.Background()
	in, err := AddInterruptChecks(interruptModule(), "host.")
	if err != nil {
		t.Fatal(err)
	}
	if in.Flag != "host.flag" || in.Start != "host.start" {
		t.Fatalf("Flag, Start = %q, %q", in.Flag, in.Start)
	}
	// The default configuration: nothing in the runtime stops a guest.
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, in.Module)
	if err != nil {
		t.Fatal(err)
	}
	g := mod.ExportedGlobal("g")
	if got := g.Get(); got != 0 {
		t.Fatalf("g = %d after instantiation; the start function must not run inside it", got)
	}
	if _, err := mod.ExportedFunction(in.Start).Call(ctx); err != nil {
		t.Fatal(err)
	}
	if got := g.Get(); got != 7 {
		t.Fatalf("g = %d after calling %s, want 7", got, in.Start)
	}
	flag, ok := mod.ExportedGlobal(in.Flag).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not an exported mutable global", in.Flag)
	}
	call := func(name string, params ...uint64) ([]uint64, error) {
		return mod.ExportedFunction(name).Call(ctx, params...)
	}
	// With the flag down, the code does what it did.
	if res, err := call("count", 100000); err != nil || res[0] != 0 {
		t.Fatalf("count(100000) = %v, %v; want 0", res, err)
	}
	if res, err := call("rec", 10); err != nil || res[0] != 1024 {
		t.Fatalf("rec(10) = %v, %v; want 1024", res, err)
	}
	// With the flag raised while they run, a loop and a recursion
	// without loops stop.
	for _, tc := range []struct {
		name   string
		params []uint64
	}{{"spin", nil}, {"rec", []uint64{62}}} {
		flag.Set(0)
		raised := make(chan struct{})
		timer := time.AfterFunc(20*time.Millisecond, func() { flag.Set(1); close(raised) })
		done := make(chan error, 1)
		go func() { _, err := call(tc.name, tc.params...); done <- err }()
		// A collection stops the world, which waits for the goroutine
		// running the guest: the checks must let it be preempted, or the
		// collection, and the timer that raises the flag, wait forever.
		gcDone := make(chan struct{})
		go func() { goruntime.GC(); close(gcDone) }()
		select {
		case <-gcDone:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: a garbage collection did not finish within 10 s while the guest ran", tc.name)
		}
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("%s: error %v, want a trap at unreachable", tc.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not stop within 10 s of the flag being raised", tc.name)
		}
		if timer.Stop() {
			t.Fatalf("%s stopped before the flag was raised", tc.name)
		}
		<-raised // the next Set must come after this one
	}
}

func TestAddInterruptChecksPlacement(t *testing.T) {
	in, err := AddInterruptChecks(interruptModule(), "host.")
	if err != nil {
		t.Fatal(err)
	}
	// The flag is global 1 and the count global 2: the module has one
	// global of its own.
	check := checkCode(1, 2)
	var s codeScan
	code, err := s.scan(in.Module)
	if err != nil {
		t.Fatal(err)
	}
	// spin: its body starts with its loop, so only the loop has a check.
	want := [][]byte{
		cat([]byte{0, 0x03, 0x40}, check, []byte{0x0c, 0, 0x0b, 0x0b}),
		cat([]byte{0}, []byte{0x03, 0x40}, check, []byte{0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x20, 0, 0x0b}),
		cat([]byte{0}, check, []byte{0x20, 0, 0x45, 0x04, 0x7f, 0x41, 1, 0x05,
			0x20, 0, 0x41, 1, 0x6b, 0x10, 2, 0x20, 0, 0x41, 1, 0x6b, 0x10, 2, 0x6a, 0x0b, 0x0b}),
		cat([]byte{0}, check, []byte{0x41, 7, 0x24, 0, 0x0b}),
	}
	r := &reader{b: code.Payload}
	n, _ := r.u32()
	if int(n) != len(want) {
		t.Fatalf("%d bodies, want %d", n, len(want))
	}
	for i := range want {
		size, _ := r.u32()
		got := r.b[r.pos : r.pos+int(size)]
		r.pos += int(size)
		if !bytes.Equal(got, want[i]) {
			t.Errorf("body %d = % x\nwant      % x", i, got, want[i])
		}
	}
	secs, _ := Sections(in.Module)
	for _, sec := range secs {
		if sec.ID == secStart {
			t.Error("the start section is still there")
		}
	}
}

// refusal is a module a rewrite must refuse, and the error it must wrap.
type refusal struct {
	name string
	wasm []byte
	want error
}

// checkRefusals runs rewrite on each case and fails t unless it returns an
// error wrapping the case's.
func checkRefusals(t *testing.T, cases []refusal, rewrite func([]byte) (any, error)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rewrite(tc.wasm)
			if !errors.Is(err, tc.want) {
				t.Fatalf("rewrite = %v, %v; want an error wrapping %v", got, err, tc.want)
			}
			t.Log(err)
		})
	}
}

func TestAddInterruptChecksRefuses(t *testing.T) {
	checkRefusals(t, []refusal{
		// Global 1 does not exist; once the flag is added, it would be the flag.
		{"sets a global that does not exist", codeModule([]byte{0, 0x41, 0, 0x24, 1, 0x0b}), ErrMalformed},
		{"sets a global far out of range", codeModule(cat([]byte{0, 0x41, 0, 0x24}, appendUleb(nil, 1<<20), []byte{0x0b})), ErrMalformed},
		{"exports a name of the host's", cat(header, section(7, vec(cat(name("host.flag"), []byte{3, 0}))...)), ErrUnsupported},
		{"an instruction it cannot decode", codeModule([]byte{0, 0x27, 0x0b}), ErrUnsupported},
		{"two start functions", cat(header, section(8, 0, 0)), ErrMalformed},
		{"not wasm", []byte("hello"), ErrMalformed},
	}, func(b []byte) (any, error) { return AddInterruptChecks(b, "host.") })
}

// TestAddInterruptChecksSections adds the global and export sections to a
// module that has neither, in the order the format requires.
func TestAddInterruptChecksSections(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads))
	defer r.Close(ctx)
	for _, tc := range factCases {
		if tc.noRuntime {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			in, err := AddInterruptChecks(tc.wasm, "host.")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.CompileModule(ctx, in.Module); err != nil {
				t.Fatalf("the rewritten module does not compile: %v", err)
			}
			facts, err := ScanCode(in.Module)
			if err != nil || facts != tc.want {
				t.Errorf("ScanCode of the rewritten module = %+v, %v; want %+v", facts, err, tc.want)
			}
		})
	}
}

// TestAddInterruptChecksGo rewrites a real Go plugin, which must still
// compile; every Go function starts with a loop (its resumption point).
func TestAddInterruptChecksGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	ctx := context.Background()
	b := testutil.ReadPlugin(t, "./examples/hello")
	in, err := AddInterruptChecks(b, "host.")
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, in.Module); err != nil {
		t.Fatalf("the rewritten module does not compile: %v", err)
	}
	var s codeScan
	s.marks = true
	if _, err := s.scan(b); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checks, module %d -> %d bytes", len(s.checks), len(b), len(in.Module))
	// Snapshots are prepared after the checks are in.
	if _, err := PrepareSnapshot(in.Module, "snap."); err != nil {
		t.Fatal(err)
	}
}

// rewriteFuzzer seeds f with seeds and the code-scan cases, and returns
// the interpreter runtime fuzzRewrite checks rewrites against, closed when
// f ends.
func rewriteFuzzer(f *testing.F, seeds ...[]byte) wazero.Runtime {
	for _, b := range seeds {
		f.Add(b)
	}
	for _, tc := range factCases {
		f.Add(tc.wasm)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { r.Close(ctx) })
	return r
}

// fuzzRewrite runs rewrite on b and checks it against the runtime r: an
// error must say whether the module is malformed or unsupported, and a
// module wazero accepts must still be accepted once rewritten. It returns
// the rewritten module, or nil when rewrite refused b.
func fuzzRewrite(t *testing.T, r wazero.Runtime, b []byte, rewrite func([]byte) ([]byte, error)) []byte {
	ctx := context.Background()
	out, err := rewrite(b)
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
		}
		return nil
	}
	// wazero allocates what a module's counts say: only modules whose
	// counts are backed by bytes are given to it.
	if CheckCounts(b) != nil {
		return out
	}
	if orig, err := r.CompileModule(ctx, b); err == nil {
		orig.Close(ctx)
		m, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the module compiles, its rewrite does not: %v", err)
		}
		m.Close(ctx)
	}
	return out
}

// FuzzAddInterruptChecks checks the rewrite against the runtime
// (fuzzRewrite), and that the rewrite decodes again with every loop
// checked.
func FuzzAddInterruptChecks(f *testing.F) {
	r := rewriteFuzzer(f, interruptModule())
	f.Fuzz(func(t *testing.T, b []byte) {
		out := fuzzRewrite(t, r, b, func(b []byte) ([]byte, error) {
			in, err := AddInterruptChecks(b, "host.")
			if err != nil {
				return nil, err
			}
			return in.Module, nil
		})
		if out == nil {
			return
		}
		var before, after codeScan
		before.marks, after.marks = true, true
		if _, err := before.scan(b); err != nil {
			t.Fatal(err)
		}
		if _, err := after.scan(out); err != nil {
			t.Fatalf("the rewrite does not decode: %v", err)
		}
		// Each check adds one if...end block and no loop: the loops are the
		// same, and each body now starts with a check or a loop.
		if len(after.checks) != len(before.checks) {
			t.Fatalf("%d check positions after the rewrite, %d before", len(after.checks), len(before.checks))
		}
	})
}
