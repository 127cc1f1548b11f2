package plugins

import (
	"context"
	"fmt"
	"testing"
)

func TestZZGrowth(t *testing.T) {
	for _, pkg := range []string{"./examples/hello", "./plugins/testdata/counter"} {
		p := loadInternal(t, pkg, WithRecycling(false))
		img := p.snap.get("")
		for _, tool := range []string{"greet", "echo", "count", "random", "runtime-random"} {
			if _, ok := p.toolIndex[tool]; !ok {
				continue
			}
			st := &callState{ctx: context.Background(), callerCtx: context.Background(), plugin: "p", limits: p.rt.EffectiveLimits(Sandbox{}.Limits), sandbox: &Sandbox{}}
			st.logs = newPluginLog(context.Background(), st.sandbox, "p", "")
			in, _ := p.newInstance(context.Background(), st, 64<<20, nil, instanceOptions{})
			st.arena.SetInput([]byte(`{"request":{"name":"` + tool + `","arguments":{"name":"Ada","text":"hi"}},"context":{}}`))
			in.bind(context.Background(), nil, nil)
			in.mod.ExportedFunction("call_tool").Call(context.WithValue(context.Background(), stateKey{}, st))
			fmt.Printf("%s %s: image %d, after call %d\n", pkg, tool, len(img.mem), in.mem.size)
			in.close()
		}
	}
}
