package plugins_test

import (
	"io"
	"log/slog"
)

// Value types in the binary encoding.
const (
	i32 = 0x7f
	i64 = 0x7e
)

type imp struct {
	module, name    string
	params, results []byte
}

type exp struct {
	name            string
	params, results []byte
}

// module hand-assembles a small Wasm module with the given function imports
// and exported functions (each returning zeros) and one exported memory.
func module(imports []imp, exports []exp) []byte {
	vec := func(items ...[]byte) []byte {
		out := uleb(uint32(len(items)))
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	name := func(s string) []byte { return append(uleb(uint32(len(s))), s...) }
	section := func(id byte, body []byte) []byte {
		return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
	}
	var types, imps, funcs, exps, codes [][]byte
	functype := func(p, r []byte) uint32 {
		t := append([]byte{0x60}, append(uleb(uint32(len(p))), p...)...)
		t = append(t, append(uleb(uint32(len(r))), r...)...)
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	for _, im := range imports {
		ti := functype(im.params, im.results)
		imps = append(imps, append(append(name(im.module), name(im.name)...), append([]byte{0}, uleb(ti)...)...))
	}
	for i, ex := range exports {
		ti := functype(ex.params, ex.results)
		funcs = append(funcs, uleb(ti))
		exps = append(exps, append(name(ex.name), append([]byte{0}, uleb(uint32(len(imports)+i))...)...))
		var body []byte
		body = append(body, 0) // no locals
		for _, r := range ex.results {
			switch r {
			case i32:
				body = append(body, 0x41, 0)
			case i64:
				body = append(body, 0x42, 0)
			}
		}
		body = append(body, 0x0b)
		codes = append(codes, append(uleb(uint32(len(body))), body...))
	}
	exps = append(exps, append(name("memory"), 2, 0))
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, vec(types...))...)
	if len(imps) > 0 {
		out = append(out, section(2, vec(imps...))...)
	}
	out = append(out, section(3, vec(funcs...))...)
	out = append(out, section(5, vec([]byte{0, 1}))...)
	out = append(out, section(7, vec(exps...))...)
	out = append(out, section(10, vec(codes...))...)
	return out
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, c|0x80)
			continue
		}
		return append(out, c)
	}
}

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
}
