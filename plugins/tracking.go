package plugins

import (
	"context"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wardenmcp/warden/internal/wasmbin"
)

// trackPrefix names the export wasmbin.AddWriteTracking adds.
const trackPrefix = "warden.track."

// allRegions asks for the whole image to be restored.
const allRegions = ^uint64(0)

// regionMask returns the Dirty bits (wasmbin.TrackShift) of the n bytes
// at p: the same function the rewrite adds to a module, for what the host
// writes.
func regionMask(p, n uint32) uint64 {
	if n == 0 {
		return 0
	}
	first := uint64(p) >> wasmbin.TrackShift
	last := (uint64(p) + uint64(n) - 1) >> wasmbin.TrackShift
	if last-first >= 63 {
		return allRegions
	}
	span := uint64(1)<<(last-first+1) - 1
	s := first & 63
	return span<<s | span>>(64-s)
}

// wasiOutput is a WASI function's result written into guest memory: size
// bytes at the address in parameter ptr, or, when sizeParam is not 0, as
// many bytes as parameter sizeParam-1 says, times per.
type wasiOutput struct {
	ptr       int
	size      uint32
	sizeParam int
	per       uint32
}

// wasiOutputs are the WASI preview 1 functions Go programs call during a
// call, with the memory each writes (from the WASI specification). Any
// other WASI function is taken to write anywhere: the instance is then
// restored whole.
var wasiOutputs = map[string][]wasiOutput{
	"args_sizes_get":      {{ptr: 0, size: 4}, {ptr: 1, size: 4}},
	"environ_sizes_get":   {{ptr: 0, size: 4}, {ptr: 1, size: 4}},
	"clock_res_get":       {{ptr: 1, size: 8}},
	"clock_time_get":      {{ptr: 2, size: 8}},
	"fd_fdstat_get":       {{ptr: 1, size: 24}},
	"fd_filestat_get":     {{ptr: 1, size: 64}},
	"fd_prestat_get":      {{ptr: 1, size: 8}},
	"fd_prestat_dir_name": {{ptr: 1, sizeParam: 3, per: 1}},
	"fd_seek":             {{ptr: 3, size: 8}},
	"fd_tell":             {{ptr: 1, size: 8}},
	"fd_write":            {{ptr: 3, size: 4}},
	"fd_pwrite":           {{ptr: 4, size: 4}},
	"poll_oneoff":         {{ptr: 1, sizeParam: 3, per: 32}, {ptr: 3, size: 4}},
	"random_get":          {{ptr: 0, sizeParam: 2, per: 1}},
	"sched_yield":         {},
	"proc_exit":           {},
	"fd_close":            {},
	"fd_sync":             {},
	"fd_datasync":         {},
}

// wasiWrites is a listener factory for the WASI host module: before each
// WASI function runs, its listener adds the regions the function will
// write to the call's (callState.written). Writes by the guest's own code
// are tracked in the module (wasmbin.AddWriteTracking); these are the
// host's.
type wasiWrites struct{}

var _ experimental.FunctionListenerFactory = wasiWrites{}

func (wasiWrites) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	outs, known := wasiOutputs[def.Name()]
	return wasiListener{outs: outs, all: !known}
}

type wasiListener struct {
	outs []wasiOutput
	all  bool
}

var _ experimental.FunctionListener = wasiListener{}

func (l wasiListener) Before(ctx context.Context, _ api.Module, _ api.FunctionDefinition, params []uint64, _ experimental.StackIterator) {
	st, _ := ctx.Value(stateKey{}).(*callState)
	if st == nil {
		return // the host's own probe, which puts back what it changes
	}
	if l.all {
		st.written = allRegions
		return
	}
	for _, o := range l.outs {
		n := uint64(o.size)
		if o.sizeParam > 0 {
			n = uint64(uint32(params[o.sizeParam-1])) * uint64(o.per)
		}
		if n >= 1<<32 {
			st.written = allRegions
			return
		}
		st.written |= regionMask(uint32(params[o.ptr]), uint32(n))
	}
}

func (wasiListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (wasiListener) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
