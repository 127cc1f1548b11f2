package plugins

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/wardenmcp/warden/plugins/internal/kernel"
)

var zeroPage = make([]byte, 4096)

func restoreChecked(m *guestMemory, img *image) {
	const page = 4096
	from := 0
	gap := func(a, b int) {
		for off := a; off < b; off += page {
			e := min(off+page, b)
			if !bytes.Equal(m.buf[off:e], zeroPage[:e-off]) {
				clear(m.buf[off:e])
			}
		}
	}
	for _, r := range img.runs {
		gap(from, r.from)
		for off := r.from; off < r.to; off += page {
			e := min(off+page, r.to)
			if !bytes.Equal(m.buf[off:e], img.mem[off:e]) {
				copy(m.buf[off:e], img.mem[off:e])
			}
		}
		from = r.to
	}
	gap(from, len(img.mem))
}

func TestZZExec(t *testing.T) {
	p := loadInternal(t, "./examples/hello", WithRecycling(false))
	img := p.snap.get("")
	run := func(in *instance) time.Duration {
		st := &callState{ctx: context.Background(), callerCtx: context.Background(), plugin: "p", limits: p.rt.EffectiveLimits(Sandbox{}.Limits), sandbox: &Sandbox{}}
		st.logs = newPluginLog(context.Background(), st.sandbox, "p", "")
		st.budget = in.budget
		st.arena = kernel.New(in.budget)
		st.arena.SetInput([]byte(`{"request":{"name":"greet","arguments":{"name":"Ada"}},"context":{}}`))
		in.bind(context.Background(), nil, nil)
		ictx := context.WithValue(context.Background(), stateKey{}, st)
		f := in.mod.ExportedFunction("call_tool")
		start := time.Now()
		if _, err := f.Call(ictx); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	med := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	var ins []*instance
	for i := 0; i < 8; i++ {
		st := &callState{ctx: context.Background(), callerCtx: context.Background(), plugin: "p", limits: p.rt.EffectiveLimits(Sandbox{}.Limits), sandbox: &Sandbox{}}
		st.logs = newPluginLog(context.Background(), st.sandbox, "p", "")
		in, err := p.newInstance(context.Background(), st, 64<<20, nil, instanceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	for _, mode := range []string{"copy", "checked", "copy", "checked"} {
		var first, restoreT []time.Duration
		for i := 0; i < 400; i++ {
			in := ins[i%len(ins)]
			run(in)
			t0 := time.Now()
			if mode == "copy" {
				in.mem.recycled = true
				in.mem.restore(img)
			} else {
				restoreChecked(in.mem, img)
			}
			restoreT = append(restoreT, time.Since(t0))
			for i, n := range p.snap.prep.Globals {
				in.mod.ExportedGlobal(n).(interface{ Set(uint64) }).Set(img.globals[i])
			}
			for i := 0; i < len(ins)-1; i++ { // other instances' calls in between
				_ = i
			}
			first = append(first, run(ins[(i+3)%len(ins)]))
			in.mem.recycled = true
			in.mem.restore(img)
		}
		fmt.Println(mode, "median restore", med(restoreT))
	}
	for _, in := range ins {
		in.close()
	}
}
