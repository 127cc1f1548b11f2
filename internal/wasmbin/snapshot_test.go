package wasmbin

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

func section(id byte, payload ...byte) []byte {
	return append(appendUleb([]byte{id}, uint32(len(payload))), payload...)
}

func vec(items ...[]byte) []byte {
	out := appendUleb(nil, uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func name(s string) []byte { return append(appendUleb(nil, uint32(len(s))), s...) }

// testModule is a module with one function, a memory, a mutable i32 global
// (index 0), an immutable i64 global, an active data segment "hi" at 16
// and a passive one; with dataCount it also has a data count section.
func testModule(dataCount, exports bool) []byte {
	m := cat(header,
		section(1, vec([]byte{0x60, 0, 0})...),
		section(3, vec([]byte{0})...),
		section(5, vec([]byte{0x00, 1})...),
		section(6, vec([]byte{0x7f, 1, 0x41, 5, 0x0b}, []byte{0x7e, 0, 0x42, 7, 0x0b})...),
	)
	if exports {
		m = append(m, section(7, vec(cat(name("f"), []byte{0x00, 0}))...)...)
	}
	if dataCount {
		m = append(m, section(12, 2)...)
	}
	m = append(m, section(10, vec([]byte{2, 0, 0x0b})...)...)
	m = append(m, section(11, vec(cat([]byte{0, 0x41, 16, 0x0b}, name("hi")), cat([]byte{1}, name("zz")))...)...)
	return m
}

func TestPrepareSnapshot(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name               string
		dataCount, exports bool
	}{
		{"plain", false, true},
		{"data count", true, true},
		{"no export section", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PrepareSnapshot(testModule(tc.dataCount, tc.exports), "host.g")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Globals) != 1 || p.Globals[0] != "host.g0" {
				t.Errorf("Globals = %v, want [host.g0]", p.Globals)
			}
			if len(p.Data) != 1 || p.Data[0].Offset != 16 || string(p.Data[0].Bytes) != "hi" {
				t.Errorf("Data = %+v, want one segment \"hi\" at 16", p.Data)
			}
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, p.Module)
			if err != nil {
				t.Fatalf("the prepared module does not instantiate: %v", err)
			}
			g, ok := mod.ExportedGlobal("host.g0").(api.MutableGlobal)
			if !ok || g.Get() != 5 {
				t.Fatalf("exported global host.g0 = %v, want a mutable global holding 5", g)
			}
			g.Set(9)
			if b, _ := mod.Memory().Read(16, 2); string(b) != "\x00\x00" {
				t.Errorf("memory at 16 = %q: the data segment was still copied", b)
			}
			if tc.exports && mod.ExportedFunction("f") == nil {
				t.Error("the module's own export is gone")
			}
		})
	}
}

func TestPrepareSnapshotRefuses(t *testing.T) {
	withStart := cat(header, section(1, vec([]byte{0x60, 0, 0})...), section(3, vec([]byte{0})...), section(8, 0), section(10, vec([]byte{2, 0, 0x0b})...))
	globalOffset := cat(header, section(5, vec([]byte{0x00, 1})...), section(6, vec([]byte{0x7f, 0, 0x41, 5, 0x0b})...),
		section(11, vec(cat([]byte{0, 0x23, 0, 0x0b}, name("hi")))...))
	v128 := cat(header, section(6, vec(cat([]byte{0x7b, 1, 0xfd, 12}, make([]byte, 16), []byte{0x0b}))...))
	reserved := cat(header, section(1, vec([]byte{0x60, 0, 0})...), section(3, vec([]byte{0})...),
		section(7, vec(cat(name("host.gx"), []byte{0x00, 0}))...), section(10, vec([]byte{2, 0, 0x0b})...))
	for _, tc := range []struct {
		name string
		wasm []byte
		want error
	}{
		{"start function", withStart, ErrUnsupported},
		{"data offset from a global", globalOffset, ErrUnsupported},
		{"mutable v128 global", v128, ErrUnsupported},
		{"export in the host's name space", reserved, ErrUnsupported},
		{"truncated global section", cat(header, section(6, 1, 0x7f)), ErrMalformed},
		{"not wasm", []byte("hello"), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PrepareSnapshot(tc.wasm, "host.g")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzPrepareSnapshot(f *testing.F) {
	f.Add(testModule(false, true))
	f.Add(testModule(true, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := PrepareSnapshot(b, "host.g")
		if err != nil {
			return
		}
		if _, err := Sections(p.Module); err != nil {
			t.Fatalf("the prepared module is not well-formed: %v", err)
		}
		if q, err := PrepareSnapshot(p.Module, "other."); err != nil && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("the prepared module does not parse again: %v", err)
		} else if err == nil && len(q.Globals) != len(p.Globals) {
			t.Fatalf("globals: %d then %d", len(p.Globals), len(q.Globals))
		}
	})
}

// TestPrepareSnapshotFDProbe checks the added fd probe: it reaches the
// module's own WASI fd_fdstat_get (so it sees the instance's descriptors),
// and the module's functions keep their indices.
func TestPrepareSnapshotFDProbe(t *testing.T) {
	ctx := context.Background()
	wasm := cat(header,
		// types: 0 = (i32 i32) -> i32, 1 = () -> i32
		section(1, vec([]byte{0x60, 2, 0x7f, 0x7f, 1, 0x7f}, []byte{0x60, 0, 1, 0x7f})...),
		section(2, vec(cat(name("wasi_snapshot_preview1"), name("fd_fdstat_get"), []byte{0x00, 0}))...),
		section(3, vec([]byte{1})...),
		section(5, vec([]byte{0x00, 1})...),
		section(7, vec(cat(name("seven"), []byte{0x00, 1}), cat(name("memory"), []byte{0x02, 0}))...),
		section(10, vec([]byte{4, 0, 0x41, 7, 0x0b})...),
	)
	p, err := PrepareSnapshot(wasm, "host.")
	if err != nil {
		t.Fatal(err)
	}
	if p.FDProbe != "host."+FDProbeSuffix {
		t.Fatalf("FDProbe = %q, want host.%s", p.FDProbe, FDProbeSuffix)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, p.Module, wazero.NewModuleConfig().WithName("guest"))
	if err != nil {
		t.Fatalf("the prepared module does not instantiate: %v", err)
	}
	if res, err := mod.ExportedFunction("seven").Call(ctx); err != nil || res[0] != 7 {
		t.Fatalf("seven() = %v, %v: the module's own function moved", res, err)
	}
	probe := mod.ExportedFunction(p.FDProbe)
	const buf = 128
	if res, err := probe.Call(ctx, buf, 0); err != nil || res[0] != 0 {
		t.Fatalf("probe() = %v, %v; want 0", res, err)
	}
	out, _ := mod.Memory().Read(buf, FDProbeBytes)
	for fd, want := range []uint32{0, 0, 0, 8 /* EBADF */} {
		if got := binary.LittleEndian.Uint32(out[24*FDProbeCount+4*fd:]); got != want {
			t.Errorf("fd %d: errno %d, want %d", fd, got, want)
		}
	}
	if binary.LittleEndian.Uint64(out[24*1+8:]) == 0 {
		t.Error("fdstat of stdout has no rights: the structure was not written where it belongs")
	}

	// Without the import there is no probe.
	p, err = PrepareSnapshot(testModule(false, true), "host.")
	if err != nil || p.FDProbe != "" {
		t.Errorf("module without fd_fdstat_get: FDProbe = %q, %v; want none", p.FDProbe, err)
	}
}
