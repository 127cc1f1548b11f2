package plugins

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// interruptPrefix names the exports wasmbin.AddInterruptChecks adds.
const interruptPrefix = "warden.interrupt."

// call runs f with params until it returns or ctx ends. When ctx ends first,
// the instance's interrupt flag is raised and the guest traps at its next
// function entry or loop iteration (wasmbin.AddInterruptChecks); the error
// then says it reached unreachable, and the caller's classify turns that into
// a timeout or a cancellation by looking at ctx.
//
// interrupted reports whether the flag was raised or may still be: the
// instance must then serve no other call, even if f returned normally (the
// deadline passed just as it did).
func (in *instance) call(ctx context.Context, f api.Function, params ...uint64) (res []uint64, interrupted bool, err error) {
	if f == nil {
		return nil, false, fmt.Errorf("the export to call is missing")
	}
	if in.flag == nil {
		return nil, true, fmt.Errorf("the instance has no interrupt flag")
	}
	flag := in.flag
	stop := context.AfterFunc(ctx, func() { flag.Set(1) })
	res, err = f.Call(ctx, params...)
	return res, !stop(), err
}
